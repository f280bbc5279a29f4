# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""wave_report: every VM's decision of a migrate.yml wave, a line each, and the failure (see the module docs)."""

from __future__ import annotations

from ansible.release import __version__ as ansible_version
from ansible.utils.display import Display

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.base import HyperVAction
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import wave

display = Display()
# From ansible-core 2.19 a failed task's message is printed as it is, line by line; before, only as JSON.
PRINTS_FAILURES = tuple(int(part) for part in ansible_version.split(".")[:2]) >= (2, 19)

ARGUMENT_SPEC = {
    "group": {"type": "str", "default": "vmgate_migrate_wave"},
    "mode": {"type": "str", "default": "move", "choices": ["move", "gate"]},
}


class ActionModule(HyperVAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def work(self, args, task_vars):
        hostvars = task_vars.get("hostvars") or {}
        entries = []
        for host in (task_vars.get("groups") or {}).get(args["group"]) or []:
            facts = hostvars[host]
            name = facts.get("migrate_vm")
            stop = facts.get("migrate_stopped")
            entries.append({
                "vm": name,
                "decision": (facts.get("migration_gate_decisions") or {}).get(name),
                "error": wave.stopped(name, stop.get("task"), stop.get("result")) if stop else None,
            })
        report = wave.report(entries, args["mode"], self._task.check_mode)
        if report["message"] and not PRINTS_FAILURES:  # readable at a terminal on every core
            display.display(report["message"], stderr=True)
        # Published as set_stats publishes (the final word, replacing what each gate published on its way: AWX's
        # artifacts), and kept as a fact for a play that follows migrate.yml.
        return {"changed": False, **report,
                "ansible_facts": {"migration_gate_decisions": report["decisions"]},
                "ansible_stats": {"data": {"migration_gate_decisions": report["decisions"]},
                                  "per_host": False, "aggregate": False}}
