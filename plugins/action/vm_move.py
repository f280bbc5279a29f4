# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""vm_move: the Move-VM equivalent, over WS-Management (see the module docs)."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.utils.display import Display

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions import move_run
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.base import HyperVAction
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.host_session import HostSession
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.options import HOST_ARGUMENT_SPEC
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.checks import MIGRATION_TYPES
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.move import MoveRequest

display = Display()

ARGUMENT_SPEC = {
    "vm": {"type": "str", "required": True},
    "destination": {"type": "str", "required": True},
    "destination_host": {"type": "str"},
    "migration_type": {"type": "str", "default": "live", "choices": list(MIGRATION_TYPES)},
    "destination_path": {"type": "str"},
    "timeout": {"type": "int", "default": 600},
    "poll_interval": {"type": "float", "default": 1.0},
    "expected_state": {"type": "int"},
    "limit_wait": {"type": "int", "default": 0},
    "limit_poll": {"type": "float", "default": 5.0},
    **HOST_ARGUMENT_SPEC,
}


class ActionModule(HyperVAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def work(self, args, task_vars):
        if args["migration_type"] == "live_and_storage" and not args["destination_path"]:
            raise AnsibleActionFail("migration_type live_and_storage needs destination_path, where the VM's files go")
        if args["timeout"] < 1 or args["poll_interval"] <= 0:
            raise AnsibleActionFail("timeout must be at least 1 second and poll_interval positive")
        if args["limit_wait"] < 0 or args["limit_poll"] <= 0:
            raise AnsibleActionFail("limit_wait must be 0 or more seconds and limit_poll positive")
        request = MoveRequest(
            vm=args["vm"], destination_host=args["destination_host"], migration_type=args["migration_type"],
            destination_path=args["destination_path"], timeout_s=args["timeout"], poll_interval_s=args["poll_interval"],
            expected_state=args["expected_state"], limit_wait_s=args["limit_wait"], limit_poll_s=args["limit_poll"],
        )
        with HostSession.for_task(self, task_vars, args) as source, \
                HostSession.for_inventory_host(self, task_vars, args["destination"], args["namespace"]) as destination:
            return move_run.move(source, destination, request, self._task.check_mode,
                                 say=lambda text: display.v(text, host=source.label))
