#!/usr/bin/python
# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module's work is done on the controller by the action plugin of the same name.

DOCUMENTATION = r"""
module: wave_plan
short_description: Check a migrate.yml request and find where the VMs of the wave run
version_added: 0.1.0
author:
  - vmgate.hyperv contributors (@vmgate)
description:
  - The first step of C(playbooks/migrate.yml). It takes the request as the extra vars (or AWX survey answers) gave
    it, checks it before any request to a host, and returns one entry per VM of the wave for the gates that follow.
  - "The request is taken literally: O(vm) is one VM's name, never trimmed or split; the items of a O(vms) list
    likewise; only a O(vms) string is split on commas, its items trimmed. A blank answer (what AWX's launch form
    sends for an unanswered question) means not given. A mapping where a list belongs, an empty list, both O(vm)
    and O(vms), or a blank override reason is refused with every problem named, and nothing is sent to any host."
  - With several VMs and no O(source), one query per host of O(group) finds the whole wave, so that each gate reads
    its VM where it was found. A VM named twice (by name and by id, or in other cases) is gated once.
options:
  vm:
    description: One VM, by name or id.
    type: raw
  vms:
    description: Several VMs, as a list or as names separated by commas. Give O(vm) or O(vms), not both.
    type: raw
  source:
    description: The inventory host the VMs run on; by default each VM is looked for on O(group).
    type: str
  destination:
    description: The inventory host to move to. Give this or O(candidates).
    type: str
  candidates:
    description: Hosts to choose from, a list or names separated by commas. By default every host of O(group).
    type: raw
  mode:
    description: V(move) or V(gate); blank means V(move).
    type: str
  override_reason:
    description: A written reason to move despite a block. Blank means not given; one without visible characters is refused.
    type: str
  limit_wait:
    description: Seconds to wait for a free live-migration slot (default 120).
    type: raw
  limit_poll:
    description: Seconds between two looks at a full host (default 5).
    type: raw
  move_timeout:
    description: Seconds to follow each migration job (default 600).
    type: raw
  migration_type:
    description: V(live) (default) or V(live_and_storage), with O(destination_path).
    type: str
  destination_path:
    description: Where the VM files go with V(live_and_storage).
    type: str
  group:
    description: The inventory group of the Hyper-V hosts.
    type: str
    default: hyperv
extends_documentation_fragment:
  - vmgate.hyperv.namespace
attributes:
  check_mode:
    support: full
    details: It only reads.
  diff_mode:
    support: none
  platform:
    platforms: windows
seealso:
  - module: vmgate.hyperv.gate
  - module: vmgate.hyperv.wave_report
"""

EXAMPLES = r"""
- name: Check the request and find where the VMs of the wave run
  vmgate.hyperv.wave_plan:
    vms: web01,db01
    candidates: "{{ groups['hyperv'] }}"
  register: migrate_plan
"""

RETURN = r"""
wave:
  description: One entry per VM to gate, in the order asked, each VM once.
  returned: success
  type: list
  elements: dict
  contains:
    vm:
      description: The VM as asked.
      type: str
    host:
      description: A name for the wave's in-memory host that gates this VM.
      type: str
    source:
      description: Where the VM was found (or the source asked), or an empty string when its gate should look for it.
      type: str
gate:
  description: The options of M(vmgate.hyperv.gate) for every VM of the wave (the source aside).
  returned: success
  type: dict
move_timeout:
  description: Seconds to follow each migration job.
  returned: success
  type: int
"""
