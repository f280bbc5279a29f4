# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""wave: gate and move one VM or many, as playbooks/migrate.yml asks (see the module docs)."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.release import __version__ as ansible_version
from ansible.utils.display import Display

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.base import HyperVAction
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.gate_reads import GateReads
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.wave_run import WaveRun
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import wave
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import CLUSTER_NAMESPACE, VIRTUALIZATION_NAMESPACE

display = Display()
# From ansible-core 2.19 a failed task's message is printed as it is, line by line; before, only as JSON.
PRINTS_FAILURES = tuple(int(part) for part in ansible_version.split(".")[:2]) >= (2, 19)

# Raw: the request is checked by gate/wave.py and gate/request.py, literally.
ARGUMENT_SPEC = {
    **{name: {"type": "raw"} for name in (
        "vm", "vms", "drain", "source", "destination", "candidates", "mode", "override_reason", "limit_wait",
        "limit_poll", "move_timeout", "migration_type", "destination_path", "memory_reserve_mb")},
    "group": {"type": "str", "default": "hyperv"},
    "parallel": {"type": "int"},
    "move_poll": {"type": "float", "default": 1.0},
    "namespace": {"type": "str", "default": VIRTUALIZATION_NAMESPACE,
                  "choices": [VIRTUALIZATION_NAMESPACE, CLUSTER_NAMESPACE]},
}


class ActionModule(HyperVAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def work(self, args, task_vars):
        groups = task_vars.get("groups") or {}
        inventory = list(groups.get("all") or [])
        group_hosts = list(groups.get(args["group"]) or [])
        try:
            request = wave.parse(args, inventory, group_hosts)
        except wave.WaveRequestError as exc:
            raise AnsibleActionFail(str(exc)) from None
        if args["move_poll"] <= 0 or (args["parallel"] is not None and args["parallel"] < 1):
            raise AnsibleActionFail("move_poll must be more than 0 seconds and parallel at least 1")
        with GateReads(self, task_vars, args["namespace"]) as reads:
            run = WaveRun(reads, request, inventory, check_mode=self._task.check_mode, cap=args["parallel"],
                          move_poll=args["move_poll"], say=display.display)
            entries = run.run(group_hosts)
        report = wave.report(entries, request.gate["mode"], self._task.check_mode)
        report["cluster_drain"] = run.cluster_drain  # a drained cluster node: paused once every VM moved
        pause_failed = bool(run.cluster_drain and run.cluster_drain["failed"])
        if pause_failed:
            report["message"] = "\n\n".join(filter(None, [report["message"], run.cluster_drain["msg"]]))
        if report["message"] and not PRINTS_FAILURES:  # readable at a terminal on every core
            display.display(report["message"], stderr=True)
        moved = any(decision.get("moved") for decision in report["decisions"].values())
        # Published as set_stats publishes (AWX's artifacts), and kept as a fact for a play that follows.
        return {"changed": moved, **report, **({"failed": True, "msg": report["message"]} if pause_failed else {}),
                "ansible_facts": {"migration_gate_decisions": report["decisions"]},
                "ansible_stats": {"data": {"migration_gate_decisions": report["decisions"]},
                                  "per_host": False, "aggregate": False}}
