#!/usr/bin/python
# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module's work is done on the controller by the action plugin of the same name.

DOCUMENTATION = r"""
module: gate
short_description: Decide whether a Hyper-V VM may live-migrate, to one host or the best of several, in one task
version_added: 0.1.0
author:
  - vmgate.hyperv contributors (@vmgate)
description:
  - The decision of the C(vmgate.hyperv.migration_gate) role as one task. It
    checks the request, finds the VM, reads the hosts it needs, ranks them on the compatibility vectors, checks the
    migration services and the limits of simultaneous live migrations (waiting for a free slot within
    O(limit_wait)), asks Hyper-V (the checks of M(vmgate.hyperv.compat_check)), and returns the decision with a
    message for people. It moves nothing; M(vmgate.hyperv.vm_move) does, and the role runs it when allowed.
  - Every host is reached from the controller with its own inventory connection variables (the
    C(ansible_winrm_*) or C(ansible_psrp_*) variables), and this task's credentials where a
    host has none, which is how an AWX machine credential arrives. Hosts are read several at a time, one session
    each.
  - "The request is taken literally: a VM name is never trimmed or split. When no VM has the literal name but one
    has it without the spaces around it, the reason says so. A host list is a list or a string of names separated
    by commas (its items trimmed). A blank string means not given, as AWX's launch form sends an unanswered
    question; an explicitly empty list, a mapping where a list belongs, a wrong type or a blank override reason is
    refused before any request, with every problem named."
  - "Cost: with O(source), one decision for one destination reads the VM, the source's migration service, the VM's
    vectors and its compatibility blob on the source, the destination's migration service and vectors, and asks
    Hyper-V on both ends: 8 requests. Without O(source), one query per host looked on finds the VM first."
  - Messages name the role's variables (C(migration_gate_*)), whose values these options take.
options:
  vm:
    description: The VM, by name (as Get-VM shows it; case does not matter) or id (GUID, with or without braces).
    type: raw
    required: true
  source:
    description:
      - The inventory host the VM runs on, a string. When not given (or blank), the VM is looked for on
        O(search_hosts) and the destination or candidates. When the VM is not on the source but already on the
        destination, the verdict is V(already_there).
      - Taken literally, never trimmed; a value of another type is refused.
    type: raw
  destination:
    description:
      - The inventory host to move to, a string; blank means not given. Give this or O(candidates), not both.
      - Taken literally, never trimmed; a value of another type is refused.
    type: raw
  candidates:
    description:
      - Inventory hosts to choose from; the best usable one is chosen. A list, or names separated by commas.
        The source is left out.
    type: raw
  search_hosts:
    description: Inventory hosts to look for the VM on when O(source) is not given. A list, or names separated by commas.
    type: raw
  mode:
    description:
      - V(gate) (the default, also when blank) or V(move); any other value is refused.
      - Recorded in the decision; V(move) says a move follows (the role's M(vmgate.hyperv.vm_move)).
    type: raw
  override_reason:
    description:
      - A written reason to allow a blocked move, a string. It must contain visible characters. The reasons are
        kept, and the override is recorded in the decision.
    type: raw
  limit_wait:
    description:
      - Seconds to wait for a free live-migration slot on a destination (or the chosen candidate) and on the source
        when either is at its limit of simultaneous live migrations. V(0) does not wait.
      - A number, or a string holding one in ASCII digits; V(0) to V(604800) (a week). The default, also when blank,
        is V(0).
    type: raw
  limit_poll:
    description:
      - Seconds between two reads of a full host while waiting.
      - A number, or a string holding one in ASCII digits; more than V(0), at most V(604800). The default, also when
        blank, is V(5).
    type: raw
  memory_reserve_mb:
    description:
      - The memory, in MB, a destination keeps for itself and is never planned for VMs. A destination whose free
        memory, less this reserve, is less than the VM needs (its assigned memory while it runs) blocks, with the figures.
      - A whole number, or a string holding one; V(0) or more. The default, also when blank, is V(2048).
    type: raw
  migration_type:
    description:
      - The migration Hyper-V is asked about, V(live) (the default, also when blank) or V(live_and_storage); any
        other value is refused.
    type: raw
  destination_path:
    description: Where the VM's files go, with O(migration_type=live_and_storage). A string; blank means not given.
    type: raw
  allowed_states:
    description:
      - The VM states (as C(state_name) reports them) that may move, a non-empty list of strings, each one of
        V(Running), V(Off), V(Paused), V(Saved), V(Starting), V(Stopping), V(Saving), V(Pausing), V(Resuming),
        V(Snapshotting), V(Reset), V(Enabled but offline), V(Other) or V(Unknown); another name is refused.
      - The default, also when blank, is V(Running), V(Off) and V(Paused).
    type: raw
extends_documentation_fragment:
  - vmgate.hyperv.namespace
attributes:
  check_mode:
    support: full
    description: It only reads.
    details: The gate runs the same in check mode, and records that it did.
  diff_mode:
    support: none
    description: Nothing changes.
notes:
  - The task runs on the controller; run it against C(localhost) or any host, it reaches the Hyper-V hosts itself.
seealso:
  - module: vmgate.hyperv.vm_move
  - module: vmgate.hyperv.compat_check
  - plugin: vmgate.hyperv.migration_outcome
    plugin_type: filter
"""

EXAMPLES = r"""
- name: May web01 move from hv01 to hv02?
  vmgate.hyperv.gate:
    vm: web01
    source: hv01
    destination: hv02
  register: gate_result

- name: Stop with every reason when it may not
  ansible.builtin.fail:
    msg: "{{ gate_result.decision.message }}"
  when: not gate_result.decision.allowed

- name: Choose the best host for db01 among the group, waiting up to 2 minutes for a free slot
  vmgate.hyperv.gate:
    vm: db01
    candidates: "{{ groups['hyperv'] }}"
    limit_wait: 120
  register: gate_result
"""

RETURN = r"""
decision:
  description:
    - The decision, the same dict as the role's C(migration_gate_decision).
  returned: always
  type: dict
  contains:
    vm:
      description: The VM as asked.
      type: str
    vm_id:
      description: Its id, when found.
      type: str
    vm_name:
      description: Its name, when found.
      type: str
    state:
      description: Its state when decided (V(Running), V(Off), ...).
      type: str
    source:
      description: The inventory host it runs on.
      type: str
    destination:
      description: The inventory host it may go to (chosen among the candidates), or null.
      type: str
    verdict:
      description: V(allowed), V(blocked), V(overridden) or V(already_there).
      type: str
    outcome:
      description: Where the VM was found. V(located), V(already_there), V(not_found) or V(ambiguous).
      type: str
    allowed:
      description: Whether it may move (or needs not).
      type: bool
    reasons:
      description: Every reason it may not, each with C(host), C(role), C(check) and C(message).
      type: list
      elements: dict
    warnings:
      description: What does not block but deserves a look, shaped like C(reasons).
      type: list
      elements: dict
    selection:
      description: With O(candidates), each candidate and why it was or was not chosen (C(why)); else null.
      type: list
      elements: dict
    override:
      description: The override's reason and the number of reasons it set aside; null unless overridden.
      type: dict
    checks:
      description: >-
        What each check found, per host (state, vectors, Hyper-V, the wait), and the migration services and the memory
        figures (C(needed_mb), C(free_mb), C(reserve_mb), C(placed_mb), C(after_mb)) of the source, the destination,
        the hosts Hyper-V was asked about and, for memory, the hosts without room.
      type: dict
    cluster:
      description: >-
        For a role of a failover cluster, the cluster as its source node sees it (C(name), C(group), C(resource),
        C(owner_node), C(resource_state), C(migration_state), C(possible_owners), C(preferred_owners), every node's
        state in C(nodes), and the C(baseline) of the nodes in C(baseline_nodes)); null for a VM that is not clustered.
      type: dict
    moved:
      description: False here; M(vmgate.hyperv.vm_move)'s outcome is added by the P(vmgate.hyperv.migration_outcome#filter) filter.
      type: bool
    message:
      description: The decision told to people, with every reason per host and what to do.
      type: str
  sample:
    vm: web01
    verdict: allowed
    allowed: true
    source: hv01
    destination: hv02
    message: "ALLOWED: web01 may move from hv01 to hv02."
"""
