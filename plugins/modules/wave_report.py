#!/usr/bin/python
# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module's work is done on the controller by the action plugin of the same name.

DOCUMENTATION = r"""
module: wave_report
short_description: Every VM's decision of a migrate.yml wave, a line each, and what failed
version_added: 0.1.0
author:
  - vmgate.hyperv contributors (@vmgate)
description:
  - The last step of C(playbooks/migrate.yml). It reads the decision each VM's gate recorded on its in-memory host
    of O(group) (C(migration_gate_decisions)), or where its gate stopped (C(migrate_stopped)), and returns them with
    one line per VM and the message the run fails with when a VM did not move.
  - A gate that stopped on an error, or did not run, is recorded as verdict V(error) with its error and the advice
    to check where the VM is.
  - The decisions are published to the run's stats as C(migration_gate_decisions), as
    M(ansible.builtin.set_stats) with O(ansible.builtin.set_stats#module:aggregate=false) would (the final word:
    AWX's artifacts), and set as the fact C(migration_gate_decisions) of the host the task runs on.
options:
  group:
    description: The group of the wave's in-memory hosts.
    type: str
    default: vmgate_migrate_wave
  mode:
    description: The wave's mode, recorded for a VM whose gate did not run.
    type: str
    choices: [move, gate]
    default: move
attributes:
  check_mode:
    support: full
    details: It only reads the run's facts.
  diff_mode:
    support: none
  platform:
    platforms: all
seealso:
  - module: vmgate.hyperv.wave_plan
"""

EXAMPLES = r"""
- name: Gather every VM's decision
  vmgate.hyperv.wave_report:
  register: migrate_report

- name: Fail when a VM may not move, its move failed or its gate stopped
  ansible.builtin.fail:
    msg: "{{ migrate_report.message }}"
  when: migrate_report.unmoved | length > 0
"""

RETURN = r"""
decisions:
  description: Every VM's decision, by the VM as asked (the contract of C(migration_gate_decisions)).
  returned: always
  type: dict
summary:
  description: "One line per VM, such as C(web01: MOVED from hv01 to hv02)."
  returned: always
  type: list
  elements: str
unmoved:
  description: The VMs that did not move because they were blocked, their move failed or their gate stopped.
  returned: always
  type: list
  elements: str
message:
  description: The message the run fails with, every such VM's reasons; null when every VM moved or may move.
  returned: always
  type: str
"""
