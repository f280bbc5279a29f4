# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""compat_check: Hyper-V's own verdict on a VM for a destination (see the module docs)."""

from __future__ import annotations

from ansible.utils.display import Display

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions import hyperv_verdict
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.base import HyperVAction
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.host_session import HostSession
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.options import HOST_ARGUMENT_SPEC
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv import checks as hyperv_checks

display = Display()

ARGUMENT_SPEC = {
    "vm": {"type": "dict", "required": True},
    "source": {"type": "str"},
    "destination_host": {"type": "str"},
    "migration_type": {"type": "str", "default": "live", "choices": list(hyperv_checks.MIGRATION_TYPES)},
    **HOST_ARGUMENT_SPEC,
}


class ActionModule(HyperVAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def work(self, args, task_vars):
        hyperv_verdict.check_vm_entry(args["vm"])
        with HostSession.for_task(self, task_vars, args) as destination:
            known = _recorded_host(task_vars, destination.label, args["namespace"])
            if not args["source"]:
                result = hyperv_verdict.ask(destination, None, args["vm"], args["migration_type"],
                                            args["destination_host"], known)
            else:
                with HostSession.for_inventory_host(self, task_vars, args["source"], args["namespace"]) as source:
                    result = hyperv_verdict.ask(destination, source, args["vm"], args["migration_type"],
                                                args["destination_host"], known,
                                                _recorded_host(task_vars, args["source"], args["namespace"]))
        for warning in result["compatibility_warnings"]:  # shown at the end of the run, as Ansible shows warnings
            display.warning(f"{result['destination_host']}: {warning}")
        return {"changed": False, **result}


def _recorded_host(task_vars, host, namespace):
    """The host part of the compat_facts this run recorded for `host` in `namespace`, or {}."""
    facts = ((task_vars.get("hostvars") or {}).get(host) or {}).get("hyperv_compat") or {}
    recorded = facts.get("host") or {}
    selectors = (recorded.get("migration_service") or {}).get("selectors")
    return recorded if recorded.get("namespace") == namespace and selectors and recorded.get("name") else {}
