#!/usr/bin/python
# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module's work is done on the controller by the action plugin of the same name.

DOCUMENTATION = r"""
module: compat_check
short_description: Ask Hyper-V itself whether a VM can migrate to a destination host
version_added: 0.1.0
author:
  - vmgate.hyperv contributors (@vmgate)
description:
  - Runs Hyper-V's own checks for a live migration, over WS-Management from the controller.
  - On the destination (the host the task runs on or is delegated to), C(CheckSystemCompatibilityInfo) with the
    VM's opaque compatibility blob gathered on its source by M(vmgate.hyperv.compat_facts) with
    O(vmgate.hyperv.compat_facts#module:include_blob=true). Hyper-V can report reasons there that the vectors do
    not show, such as a configuration version the destination does not run.
  - On the source, when O(source) is given, C(CheckVirtualSystemIsMigratableToHost) for the VM and this
    destination. Hyper-V refuses it when live migration is off on either host, the destination has no migration
    network, a host is at its limit of simultaneous migrations, or the VM's state does not allow it. It returns only
    a code, so on a refusal the module reads both hosts' migration services and names the cause. An allowed move
    pays nothing for that.
  - Neither check is a guarantee; the move itself can still fail, and M(vmgate.hyperv.vm_move) reports it.
  - When the run has gathered M(vmgate.hyperv.compat_facts) for a host (with C(delegate_facts) when delegated), the
    recorded migration service spares reading it again; recorded keys that went stale only cost a retry.
options:
  vm:
    description:
      - The VM's entry of C(hyperv_compat.vms) gathered on its source with O(vmgate.hyperv.compat_facts#module:include_blob=true).
        It needs C(id), C(compatibility_info) and C(compatibility_info_encoding).
    type: dict
    required: true
  source:
    description:
      - The inventory name of the VM's current host. When given, the source's pre-check runs too, connecting with that
        host's inventory variables (and this task's credentials where it has none).
    type: str
  destination_host:
    description:
      - The name the source uses to reach this destination. Defaults to the destination's computer name.
    type: str
  migration_type:
    description: V(live) moves the running VM; V(live_and_storage) moves its storage too.
    type: str
    default: live
    choices: [live, live_and_storage]
extends_documentation_fragment:
  - vmgate.hyperv.namespace
  - vmgate.hyperv.read_only
  - vmgate.hyperv.winrm
seealso:
  - module: vmgate.hyperv.compat_facts
  - module: vmgate.hyperv.vm_move
"""

EXAMPLES = r"""
- name: Gather web01 with its compatibility blob on its source
  vmgate.hyperv.compat_facts:
    vms: [web01]
    include_blob: true
  delegate_to: hv01
  delegate_facts: true

- name: Ask the destination and the source
  vmgate.hyperv.compat_check:
    vm: "{{ hostvars['hv01'].hyperv_compat.vms[0] }}"
    source: hv01
  delegate_to: hv02
  register: hyperv_verdict

- name: Stop with Hyper-V's reasons
  ansible.builtin.assert:
    that: hyperv_verdict.compatible
    fail_msg: "{{ hyperv_verdict.reasons | join(' ') }}"
"""

RETURN = r"""
compatible:
  description: V(true) when neither check gave a blocking reason.
  returned: success
  type: bool
reasons:
  description: >-
    Every blocking reason, as Hyper-V worded it. When the pre-check refused, the causes read from the migration
    services are given, or the refusal itself when they show none.
  returned: success
  type: list
  elements: str
reason_details:
  description: The same reasons with where each one comes from.
  returned: success
  type: list
  elements: dict
  contains:
    host:
      description: The inventory name of the host the reason is about.
      type: str
    role:
      description: V(source) or V(destination).
      type: str
    check:
      description: >-
        V(Hyper-V) for Hyper-V's own words. V(migration service) or V(migration limit) for a cause read to explain a
        refusal of the pre-check.
      type: str
    message:
      description: The reason.
      type: str
compatibility_warnings:
  description:
    - Reasons that came with a success code, such as a device that will be left behind. They are also shown as
      warnings of the run.
  returned: success
  type: list
  elements: str
destination_host:
  description: The destination name used for the source's pre-check.
  returned: success
  type: str
checks:
  description: What each check returned.
  returned: success
  type: dict
  contains:
    blob:
      description: C(CheckSystemCompatibilityInfo)'s return value (0, or 32784 for not compatible) and its name.
      type: dict
    migratable:
      description: >-
        C(CheckVirtualSystemIsMigratableToHost)'s return value, its name and C(is_migratable), or V(null) without
        O(source).
      type: dict
"""
