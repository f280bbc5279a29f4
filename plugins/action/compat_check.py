# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""compat_check: Hyper-V's own verdict on a VM for a destination (see the module docs)."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.utils.display import Display

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.base import HyperVAction
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.host_session import HostSession
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.options import HOST_ARGUMENT_SPEC
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv import checks as hyperv_checks
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv import facts as hyperv_facts
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv import migration_service
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.failures import step

display = Display()

ARGUMENT_SPEC = {
    "vm": {"type": "dict", "required": True},
    "source": {"type": "str"},
    "destination_host": {"type": "str"},
    "migration_type": {"type": "str", "default": "live", "choices": list(hyperv_checks.MIGRATION_TYPES)},
    **HOST_ARGUMENT_SPEC,
}
REQUIRED_VM_KEYS = ("id", "compatibility_info", "compatibility_info_encoding")


class ActionModule(HyperVAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def work(self, args, task_vars):
        vm = args["vm"]
        missing = [key for key in REQUIRED_VM_KEYS if not vm.get(key)]
        if missing:
            raise AnsibleActionFail(
                f"vm must be the VM's entry of hyperv_compat.vms gathered on its source with include_blob: true; "
                f"it lacks {', '.join(missing)}"
            )
        label = f"VM {vm.get('name') or vm['id']!r}"
        migratable = None
        with HostSession.for_task(self, task_vars, args) as destination:
            known = _recorded_host(task_vars, destination.label, args["namespace"])
            blob, destination_host, listeners = destination.run(
                lambda api: self._destination_checks(api, vm, args, label, known))
            details = [_detail(destination.label, "destination", text) for text in blob["reasons"]]
            if args["source"]:
                with HostSession.for_inventory_host(self, task_vars, args["source"], args["namespace"]) as source:
                    source_known = _recorded_host(task_vars, args["source"], args["namespace"])
                    migratable = source.run(
                        lambda api: self._source_check(api, vm, destination_host, listeners, args, label, source_known))
                    if migratable["return_value"] == 0:  # "not migratable": to this destination, by compatibility
                        refusal = [_detail(destination.label, "destination", text) for text in migratable["reasons"]]
                    else:
                        refusal = _explain_refusal(source, destination) or [
                            _detail(source.label, "source", text) for text in migratable["reasons"]]
                    details += refusal
        reasons = [detail["message"] for detail in details]
        for warning in blob["warnings"]:  # shown at the end of the run, as Ansible shows warnings
            display.warning(f"{destination_host}: {warning}")
        return {
            "changed": False,
            "compatible": not reasons,
            "reasons": reasons,
            "reason_details": details,
            "compatibility_warnings": blob["warnings"],
            "checks": {"blob": {k: blob[k] for k in ("return_value", "return_name")}, "migratable": migratable},
            "destination_host": destination_host,
        }

    @staticmethod
    def _destination_checks(api, vm, args, label, known):
        api.use_known_service(known.get("migration_service", {}).get("keys"))
        with step(f"checking the compatibility blob of {label} (CheckSystemCompatibilityInfo)"):
            blob = hyperv_checks.check_blob(api, vm["compatibility_info"], vm["compatibility_info_encoding"])
        if known:  # the facts of this run name the host and its listeners
            service = known["migration_service"]
            return blob, args["destination_host"] or known["name"], service.get("listener_addresses") or []
        with step("reading the destination's migration service"):
            service = api.migration_service()
        destination_host = args["destination_host"] or service.get("SystemName")
        return blob, destination_host, service.get("MigrationServiceListenerIPAddressList") or []

    @staticmethod
    def _source_check(api, vm, destination_host, listeners, args, label, known):
        api.use_known_service(known.get("migration_service", {}).get("keys"))
        with step(f"asking the source whether {label} can migrate (CheckVirtualSystemIsMigratableToHost)"):
            system = {"Name": vm["id"], "CreationClassName": "Msvm_ComputerSystem"}
            return hyperv_checks.check_migratable(api, system, destination_host, args["migration_type"], listeners)


def _detail(host, role, message):
    return {"host": host, "role": role, "check": "Hyper-V", "message": message}


def _explain_refusal(source, destination):
    """The pre-check refused without saying why: read both migration services and say it, when they show it.

    Only on this path, so that an allowed move pays nothing for it. Reading them may fail too: then, or when
    they show nothing wrong, the pre-check's own refusal stands as the reason (an empty list here).
    """
    found = []
    for session, role in ((source, "source"), (destination, "destination")):
        try:
            service = session.run(
                lambda api: hyperv_facts.migration_service_facts(api.migration_service(), api.migration_settings()))
        except AnsibleActionFail as exc:
            display.vvv(f"{session.label}: could not read the migration service to explain the pre-check: {exc}")
            continue
        found += migration_service.service_reasons(service, session.label, role)
    return found


def _recorded_host(task_vars, host, namespace):
    """The host part of the compat_facts this run recorded for `host` in `namespace`, or {}."""
    facts = ((task_vars.get("hostvars") or {}).get(host) or {}).get("hyperv_compat") or {}
    recorded = facts.get("host") or {}
    keys = (recorded.get("migration_service") or {}).get("keys")
    return recorded if recorded.get("namespace") == namespace and keys and recorded.get("name") else {}
