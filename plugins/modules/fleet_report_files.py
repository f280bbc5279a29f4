#!/usr/bin/python
# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module's work is done on the controller by the action plugin of the same name.

DOCUMENTATION = r"""
module: fleet_report_files
short_description: Write the fleet report, which VM can run on which Hyper-V host, as HTML and Markdown files
version_added: 0.1.0
author:
  - vmgate.hyperv contributors (@vmgate)
description:
  - Evaluates every VM of a fleet against every host, as P(vmgate.hyperv.fleet_report#filter) does, and writes the
    report of C(playbooks/fleet_report.yml) to O(dest) on the controller. It writes C(fleet-report.html), one
    self-contained page, C(fleet-report.md), the same in Markdown, and C(fleet-facts.json), the facts it was made
    from, which O(facts_file) reads back.
  - The pages are laid out with Jinja2 in Python, with autoescape on, so the report never passes through Ansible's
    templating. For 1,000 VMs on 32 hosts, 5 MB of HTML, that takes about a third of a CPU-second. The task
    returns a summary, never the matrix. Every text that comes from the hosts or the VMs is escaped, in the HTML
    and in the Markdown.
  - Give the fleet one of three ways, O(fleet), O(facts_by_host) or O(facts_file).
  - The hosts table shows each host's memory, when the facts have it (M(vmgate.hyperv.compat_facts) reads it with its
    default O(vmgate.hyperv.compat_facts#module:gather_subset)). That is the total and free memory, what is free for
    VMs after O(memory_reserve_mb), the memory its VMs hold and need, and its processors.
  - Given a planned wave, O(plan) or O(plan_file), the report adds a C(Planned wave) section. For each host it shows
    the memory free now, what the plan's allowed moves bring in and take away, and the memory free after them. It
    flags each host the plan would overfill, and lists the VMs of the plan that were blocked, each with its first
    reason.
  - A file whose content would not change is left alone. Each file is written whole, next to its place, then
    renamed over it, so a reader never sees half a report.
options:
  fleet:
    description:
      - The fleet as P(vmgate.hyperv.fleet_report#filter) takes it, a mapping with C(hosts) and C(vms).
      - C(hosts) maps a host name to its vector list, or to a mapping holding C(vectors) and optionally C(migration),
        as P(vmgate.hyperv.fleet_facts#filter) returns it.
      - C(vms) maps a VM name to its vector list, or to a mapping holding C(vectors) and optionally C(host), C(state),
        C(name) and C(id).
    type: dict
  facts_by_host:
    description:
      - The C(hyperv_compat) facts of each host, by inventory host name, gathered by M(vmgate.hyperv.compat_facts)
        with O(vmgate.hyperv.compat_facts#module:vms=all). They go through P(vmgate.hyperv.fleet_facts#filter), so
        only names, ids, states, vectors and the migration service's state are kept.
    type: dict
  facts_file:
    description:
      - A file to read the fleet from, on the controller. Either a C(fleet-facts.json) an earlier run wrote (C(hosts)
        and C(vms), as O(fleet)), or a YAML or JSON file with C(sample_hosts) and C(sample_vms), like
        C(playbooks/files/sample_facts.yml). A file encrypted with ansible-vault is decrypted.
      - A relative path is taken from the directory ansible-playbook runs in, or else looked for where
        M(ansible.builtin.include_vars) looks, next to the playbook.
    type: path
  dest:
    description:
      - The directory to write the files to, created when missing (mode C(0755)); the files get mode C(0644).
      - A relative path is taken from the directory ansible-playbook runs in.
    type: path
    required: true
  title:
    description: The report's title, at the top of both pages.
    type: str
    default: "Hyper-V fleet: live-migration compatibility"
  source:
    description:
      - Where the facts came from, as the pages say under the title. By default, the facts file's path, how many
        hosts' facts were given, or that the fleet was given to the task.
    type: str
  plan:
    description:
      - A planned wave, the gate's decisions of a gate-only run (C(playbooks/migrate.yml -e mode=gate)), as
        C(migration_gate_decisions) holds them, a mapping of VM to its decision. That is the fact the
        M(vmgate.hyperv.wave) and C(migration_gate) role runs set, and the artifact AWX keeps of the job.
      - Each decision with C(allowed=true) and a C(destination) other than its C(source) is a move. It brings
        C(checks.memory[destination].needed_mb) to its destination. A VM that runs, or is paused, takes the same
        away from its source; one that is off or saved takes nothing away. A decision with C(allowed=false) is listed
        with its first reason (or its C(error)). A decision with C(moved=true) was carried out by its run and is
        not counted again.
      - What comes in must fit in the memory free now less O(memory_reserve_mb). A VM leaving frees its memory only
        when its migration ends, and the plan does not order the moves. A host where it would not fit is flagged as
        overfilled. Free memory is that of the facts the report is made from.
      - Taken literally. A field of the wrong type (C(allowed) not a boolean, C(needed_mb) not a whole number, a
        decision that is not a mapping) fails the task, naming the field.
      - Mutually exclusive with O(plan_file).
    type: raw
  plan_file:
    description:
      - A JSON or YAML file on the controller holding the plan, as O(plan) takes it, or under the key
        C(migration_gate_decisions), as AWX's API returns a job's C(artifacts). A file encrypted with ansible-vault is
        decrypted.
      - A relative path is found as for O(facts_file).
    type: path
  memory_reserve_mb:
    description:
      - The memory, in MB, that each host keeps for itself and that is never planned for VMs, as the gate's setting of
        the same name. The report subtracts it from the free memory for the hosts table and the planned wave.
      - A whole number, 0 or more, or a string of one.
    type: raw
    default: 2048
  return_markdown:
    description:
      - Return the whole Markdown report as RV(markdown) too, for M(ansible.builtin.set_stats) (AWX keeps it as an
        artifact). It grows with the fleet; the HTML is never returned.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Computes and lays out the report as usual and writes nothing.
    details: RV(msg) and RV(written) say which files it would write.
  diff_mode:
    support: none
    description: No diff; RV(written) names the files that changed.
  platform:
    support: full
    platforms: posix
    description: The files are written on the Ansible controller, whatever host the task runs against.
notes:
  - The task runs on the controller and reads no host; run it against C(localhost).
  - A report with a cell per VM and host grows with both. For 1,000 VMs on 32 hosts the HTML is about 5 MB.
seealso:
  - plugin: vmgate.hyperv.fleet_report
    plugin_type: filter
  - plugin: vmgate.hyperv.fleet_facts
    plugin_type: filter
  - module: vmgate.hyperv.compat_facts
"""

EXAMPLES = r"""
- name: Write the report of a small fleet
  vmgate.hyperv.fleet_report_files:
    dest: /tmp/fleet-report
    fleet:
      hosts:
        hv-old: [{vector_id: 1, compare_operation: 2, compatibility_info: 15}]
        hv-new: [{vector_id: 1, compare_operation: 2, compatibility_info: 255}]
      vms:
        web01: {host: hv-old, state: Running, vectors: [{vector_id: 1, compare_operation: 2, compatibility_info: 3}]}
        db01: {host: hv-new, state: Running, vectors: [{vector_id: 1, compare_operation: 2, compatibility_info: 255}]}
  register: fleet_report_result

- name: Say what it found
  ansible.builtin.debug:
    msg: >-
      {{ fleet_report_result.summary.compatible_pairs }} of {{ fleet_report_result.summary.pairs }} pairs compatible,
      see {{ fleet_report_result.files.html }}

- name: Render a saved facts file again, offline
  vmgate.hyperv.fleet_report_files:
    facts_file: /tmp/fleet-report/fleet-facts.json
    dest: /tmp/fleet-report-again
    title: Cluster A

- name: The report with a planned wave, the decisions of an earlier migrate.yml -e mode=gate run saved as JSON
  vmgate.hyperv.fleet_report_files:
    facts_file: /tmp/fleet-report/fleet-facts.json
    plan_file: /tmp/decisions.json
    memory_reserve_mb: 4096
    dest: /tmp/fleet-report-plan
  register: planned

- name: Name the hosts the plan would overfill
  ansible.builtin.debug:
    msg: "Overfilled: {{ planned.plan.overfilled_hosts | join(', ') or 'none' }}"

- name: The report of every host of group hyperv, read by compat_facts (delegated, with delegate_facts)
  vmgate.hyperv.fleet_report_files:
    facts_by_host: "{{ dict(groups['hyperv'] | zip(groups['hyperv'] | map('extract', hostvars, 'hyperv_compat'))) }}"
    dest: fleet-report
    return_markdown: true
"""

RETURN = r"""
files:
  description: The paths of the files, C(html), C(markdown) and C(facts), written or not.
  returned: always
  type: dict
  sample:
    html: /srv/reports/fleet-report.html
    markdown: /srv/reports/fleet-report.md
    facts: /srv/reports/fleet-facts.json
written:
  description: The files whose content changed and were written, or would be in check mode.
  returned: always
  type: list
  elements: str
bytes:
  description: The size of each file's content in bytes, by C(html), C(markdown) and C(facts).
  returned: always
  type: dict
  sample: {html: 4934350, markdown: 221999, facts: 731204}
source:
  description: Where the facts came from, as the pages say.
  returned: always
  type: str
summary:
  description:
    - The report's summary, as P(vmgate.hyperv.fleet_report#filter) returns it.
    - C(vms), C(hosts), C(groups), C(pairs) and C(compatible_pairs) (counts), C(roaming_vms) (fit every host),
      C(vms_without_host) (fit no host), C(pinned_vms) (fit only the host they run on) and C(hosts_not_receiving)
      (hosts with live migration off or no migration network).
    - C(hosts_in_reserve) (hosts with less memory free than O(memory_reserve_mb)), C(planned_moves) (the plan's
      moves, null without a plan) and C(hosts_overfilled) (the hosts the plan would overfill).
  returned: always
  type: dict
  sample:
    vms: 3
    hosts: 4
    groups: 2
    pairs: 12
    compatible_pairs: 8
    roaming_vms: [legacy01]
    vms_without_host: []
    pinned_vms: []
    hosts_not_receiving: []
    hosts_in_reserve: []
    planned_moves: 8
    hosts_overfilled: [hv-gen2-b]
lines:
  description:
    - The summary in lines for a person, as C(playbooks/fleet_report.yml) shows it. The names in them are shown as the
      pages show them (a line break folded to a space, a character that does not show as its escape); RV(summary)
      keeps them as they are.
  returned: always
  type: list
  elements: str
  sample:
    - "3 VMs x 4 hosts: 8 of 12 pairs compatible"
    - "host groups: hv-gen1-a, hv-gen1-b | hv-gen2-a, hv-gen2-b"
    - "fit every host: legacy01"
groups:
  description: The host names of each host group, the largest group first.
  returned: always
  type: list
  elements: list
  sample: [[hv-gen1-a, hv-gen1-b], [hv-gen2-a, hv-gen2-b]]
blocked_entries:
  description: How many entries the report's section of blocked pairs has, one per VM vectors and host group.
  returned: always
  type: int
memory_reserve_mb:
  description: The reserve the report counted, in MB.
  returned: always
  type: int
  sample: 2048
plan:
  description:
    - With a plan, each host's figures after it, by host name, C(free_mb) (now), C(in_mb), C(out_mb), C(after_mb),
      C(after_for_vms_mb) (after, less the reserve), C(overfilled) (null when a figure was not read) and C(over_mb)
      (how much it lacks), and C(overfilled_hosts), C(moves) (how many) and C(blocked) (the VMs that stay). Null
      without a plan.
  returned: always
  type: dict
  sample:
    hosts:
      hv-gen2-b: {free_mb: 61440, in_mb: 69632, out_mb: 0, after_mb: -8192, after_for_vms_mb: -10240, overfilled: true,
                  over_mb: 10240}
    overfilled_hosts: [hv-gen2-b]
    moves: 8
    blocked: [big01]
markdown:
  description: The whole Markdown report.
  returned: when O(return_markdown=true)
  type: str
msg:
  description: Which files were written, with their sizes, or would be in check mode.
  returned: always
  type: str
"""
