#!/usr/bin/python
# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module's work is done on the controller by the action plugin of the same name.

DOCUMENTATION = r"""
module: wave
short_description: Gate and move one Hyper-V VM or a wave of them, as playbooks/migrate.yml asks
version_added: 0.1.0
author:
  - vmgate.hyperv contributors (@vmgate)
description:
  - The work of C(playbooks/migrate.yml) in one task. It takes the request as extra vars (or AWX survey answers)
    give it, checks it before any request to a host, finds the VMs, gates each one as M(vmgate.hyperv.gate) does,
    and moves it as M(vmgate.hyperv.vm_move) does when O(mode=move) and the gate allows it.
  - "The request is taken literally: O(vm) is one VM's name, never trimmed or split; the items of a O(vms) list
    likewise; only a O(vms) string is split on commas, its items trimmed. A blank answer (what AWX's launch form
    sends for an unanswered question) means not given. A mapping where a list belongs, an empty list, both O(vm)
    and O(vms), or an override reason without visible characters is refused with every problem named, and nothing
    is sent to any host."
  - With several VMs and no O(source), one query per host of O(group) finds the whole wave, so that each gate reads
    its VM where it was found. A VM named twice (by name and by id, or in other cases) is gated once.
  - Every VM is decided first, several at a time (the hosts the gates may choose are read once for all of them).
    Then the allowed ones go through a queue that holds every host's limit of simultaneous live migrations
    (C(MaximumActiveVirtualSystemMigration)) on both ends, as vCenter does. A migration starts as soon as its
    source and its destination both have a free slot; one that would exceed a limit waits in the queue instead of
    being sent to be refused. The queue serves first the hosts with the most work per slot, and a VM with several
    equally good candidates goes where there is room. A VM goes to a compatible candidate of a looser fit (more
    surplus feature bits) that Hyper-V also passed only when none of its closest fit has a free slot; its decision
    says so. When others' migrations hold the slots, the queue reads the
    hosts again every O(limit_poll) seconds, for up to O(limit_wait) seconds, then reports the VM not moved.
  - A request Hyper-V still refuses for a limit (a migration started by someone else) is sent again within
    O(limit_wait), only while the VM is still on its source with no migration job running. A request whose reply was
    lost is never sent again.
  - A line per VM says its decision, and when its migration starts and ends. Every VM is accounted for in
    C(decisions), a gate that stopped on an error as verdict V(error) with that error. The task does not fail for a
    blocked VM; C(unmoved) and C(message) say which did not move and why, for the task that follows.
  - The decisions are published to the run's stats as C(migration_gate_decisions), as M(ansible.builtin.set_stats)
    with O(ansible.builtin.set_stats#module:aggregate=false) would (AWX's artifacts), and set as the fact
    C(migration_gate_decisions).
options:
  vm:
    description: One VM, by name or id. Give O(vm) or O(vms), not both.
    type: raw
  vms:
    description: Several VMs, as a list or as names separated by commas.
    type: raw
  drain:
    description:
      - A host to empty for maintenance (C(playbooks/drain.yml -e host=NAME)). The wave is then every running VM of
        that host, which is their source, and the candidates are by default the other hosts of O(group). Give it
        alone, without O(vm), O(vms) or O(source).
      - The plan comes first, as lines in the output, saying where each VM goes, which VMs can go nowhere and the first
        of their reasons, and the VMs left because they are not running. In check mode the plan is all that happens.
    type: raw
  source:
    description:
      - The inventory host the VMs run on, a string; by default (or when blank) each VM is looked for on O(group).
    type: raw
  destination:
    description: The inventory host to move to, a string; blank means not given. Give this or O(candidates).
    type: raw
  candidates:
    description: Hosts to choose from, a list or names separated by commas. By default every host of O(group).
    type: raw
  mode:
    description: V(move) (gate, then move; the default, also when blank) or V(gate) (decide only).
    type: raw
  override_reason:
    description:
      - A written reason to move despite a block, a string, recorded and announced. An empty string means not
        given; a blank one is refused.
    type: raw
  limit_wait:
    description:
      - Seconds to wait for a free live-migration slot, in the gate and in the move.
      - A number, or a string holding one in ASCII digits; V(0) to V(604800) (a week). The default, also when blank,
        is V(120).
    type: raw
  limit_poll:
    description:
      - Seconds between two looks at a host at its limit.
      - A number, or a string holding one in ASCII digits; more than V(0), at most V(604800). The default, also when
        blank, is V(5).
    type: raw
  memory_reserve_mb:
    description:
      - The memory, in MB, each destination keeps for itself and is never planned for VMs; the wave counts the memory
        of the migrations it placed on a host against what is left.
      - A whole number, or a string holding one; V(0) or more. The default, also when blank, is V(2048).
    type: raw
  move_timeout:
    description:
      - Seconds to follow each migration job. A job still running then is reported, not cancelled.
      - A whole number, or a string holding one; at least V(1). The default, also when blank, is V(600).
    type: raw
  migration_type:
    description:
      - V(live) (the default, also when blank) or V(live_and_storage), with O(destination_path); any other value
        is refused.
    type: raw
  destination_path:
    description: Where the VM files go with O(migration_type=live_and_storage). A string; blank means not given.
    type: raw
  group:
    description: The inventory group of the Hyper-V hosts.
    type: str
    default: hyperv
  parallel:
    description:
      - At most this many migrations at once, below what the hosts' limits allow (at most 64). By default the hosts'
        limits alone set the pace; Ansible's forks do not.
    type: int
  move_poll:
    description:
      - Seconds between two looks at a migration job. Near its end the job is looked at sooner (at most every 0.2 s),
        when its progress so far says it ends within less than this, so that the next migration starts when a slot frees.
    type: float
    default: 1.0
extends_documentation_fragment:
  - vmgate.hyperv.namespace
attributes:
  check_mode:
    support: full
    description: The gates decide as usual and nothing moves.
    details: Each decision says what would have moved.
  diff_mode:
    support: none
    description: No diff.
seealso:
  - module: vmgate.hyperv.gate
  - module: vmgate.hyperv.vm_move
"""

EXAMPLES = r"""
- name: Gate and move two VMs, each to the best other host of the group
  vmgate.hyperv.wave:
    vms: web01,db01
  register: wave_result

- name: Fail when a VM did not move
  ansible.builtin.fail:
    msg: "{{ wave_result.message }}"
  when: wave_result.unmoved | length > 0

- name: Empty hv01 for its patch window (the plan first, then the moves)
  vmgate.hyperv.wave:
    drain: hv01
  register: drain_result

- name: Decide only, for one VM and one destination
  vmgate.hyperv.wave:
    vm: web01
    destination: hv02
    mode: gate
"""

RETURN = r"""
decisions:
  description: Every VM's decision, by the VM as asked (the contract of the role's C(migration_gate_decisions)).
  returned: success
  type: dict
summary:
  description: "One line per VM, such as C(web01: MOVED from hv01 to hv02)."
  returned: success
  type: list
  elements: str
unmoved:
  description: The VMs that did not move because they were blocked, their move failed or their gate stopped.
  returned: success
  type: list
  elements: str
message:
  description: Every such VM's message with its reasons, after a count when the wave has several VMs; null when none.
  returned: success
  type: str
"""
