# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""gate: one migration decision in one task (see the module docs).

The request is checked before any request is sent (gate/request.py); the hosts are read several at a time
(actions/gate_reads.py); the decision is made from what they answered (gate/decision.py).
"""

from __future__ import annotations

import datetime

from ansible.errors import AnsibleActionFail
from ansible.utils.display import Display

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.base import HyperVAction
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.gate_reads import GateReads
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.gate_run import Gate
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import request as gate_request
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import CLUSTER_NAMESPACE, VIRTUALIZATION_NAMESPACE

display = Display()

# Options whose literal value matters (a name with spaces, a blank answer, a wrong type) are "raw" here and
# checked by gate/request.py, so that nothing is converted, trimmed or split behind the user's back.
ARGUMENT_SPEC = {
    "vm": {"type": "raw", "required": True},
    "source": {"type": "raw"},
    "destination": {"type": "raw"},
    "candidates": {"type": "raw"},
    "search_hosts": {"type": "raw"},
    "mode": {"type": "raw"},
    "override_reason": {"type": "raw"},
    "limit_wait": {"type": "raw"},
    "limit_poll": {"type": "raw"},
    "migration_type": {"type": "raw"},
    "destination_path": {"type": "raw"},
    "allowed_states": {"type": "raw"},
    "memory_reserve_mb": {"type": "raw"},
    "namespace": {"type": "str", "default": VIRTUALIZATION_NAMESPACE,
                  "choices": [VIRTUALIZATION_NAMESPACE, CLUSTER_NAMESPACE]},
}


class ActionModule(HyperVAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def work(self, args, task_vars):
        inventory = list((task_vars.get("groups") or {}).get("all") or [])
        try:
            request = gate_request.parse(args, inventory)
        except gate_request.RequestError as exc:
            raise AnsibleActionFail(str(exc)) from None
        decided_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        with GateReads(self, task_vars, args["namespace"]) as reads:
            decision = Gate(request, reads, self._task.check_mode, display.display).decide(decided_at)
        return {"changed": False, "decision": decision}
