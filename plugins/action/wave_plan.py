# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""wave_plan: migrate.yml's request checked, and the wave's VMs found (see the module docs)."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.base import HyperVAction
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.gate_reads import Failed, GateReads
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import wave
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import CLUSTER_NAMESPACE, VIRTUALIZATION_NAMESPACE

# Raw: the request is checked by gate/wave.py, literally (see gate/request.py).
ARGUMENT_SPEC = {
    **{name: {"type": "raw"} for name in (
        "vm", "vms", "source", "destination", "candidates", "mode", "override_reason", "limit_wait", "limit_poll",
        "move_timeout", "migration_type", "destination_path")},
    "group": {"type": "str", "default": "hyperv"},
    "namespace": {"type": "str", "default": VIRTUALIZATION_NAMESPACE,
                  "choices": [VIRTUALIZATION_NAMESPACE, CLUSTER_NAMESPACE]},
}


class ActionModule(HyperVAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def work(self, args, task_vars):
        groups = task_vars.get("groups") or {}
        group_hosts = list(groups.get(args["group"]) or [])
        try:
            request = wave.parse(args, list(groups.get("all") or []), group_hosts)
        except wave.WaveRequestError as exc:
            raise AnsibleActionFail(str(exc)) from None
        found = None
        if len(request.vms) > 1 and not request.gate["source"]:
            # One query per host finds the whole wave; each gate then reads its VM where it was found.
            with GateReads(self, task_vars, args["namespace"]) as reads:
                listed = reads.list_vms(group_hosts)
            found = {host: vms for host, vms in listed.items() if not isinstance(vms, Failed)}
        return {"changed": False, "wave": wave.plan(request, found),
                "gate": request.gate, "move_timeout": request.move_timeout}
