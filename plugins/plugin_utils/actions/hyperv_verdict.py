# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hyper-V's own verdict on a VM for a destination: the blob check there, and the source's pre-check.

Shared by compat_check (one destination, the task's host) and the gate (each host it asks about).
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleActionFail
from ansible.utils.display import Display

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.host_session import HostSession
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate.decision import migration_running
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv import checks as hyperv_checks
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv import facts as hyperv_facts
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv import migration_service
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.failures import step
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.move import running_migration

display = Display()

REQUIRED_VM_KEYS = ("id", "compatibility_info", "compatibility_info_encoding")


def check_vm_entry(vm: t.Mapping[str, t.Any]) -> None:
    missing = [key for key in REQUIRED_VM_KEYS if not vm.get(key)]
    if missing:
        raise AnsibleActionFail(
            f"vm must be the VM's entry of hyperv_compat.vms gathered on its source with include_blob: true; "
            f"it lacks {', '.join(missing)}"
        )


def ask(destination: HostSession, source: HostSession | None, vm: t.Mapping[str, t.Any], migration_type: str,
        destination_host: str | None = None, known_destination: t.Mapping[str, t.Any] | None = None,
        known_source: t.Mapping[str, t.Any] | None = None) -> dict[str, t.Any]:
    """compat_check's result fields. `known_*`: the host part of facts already read this run (its name, its
    migration service and keys), which spares reading them again. Raises AnsibleActionFail with the host's message."""
    check_vm_entry(vm)
    label = f"VM {vm.get('name') or vm['id']!r}"
    known_destination = known_destination or {}
    blob, computer_name, listeners = destination.run(
        lambda api: _destination_checks(api, vm, destination_host, label, known_destination))
    details = [_detail(destination.label, "destination", text) for text in blob["reasons"]]
    migratable = None
    if source is not None:
        migratable = source.run(
            lambda api: _source_check(api, vm, computer_name, listeners, migration_type, label, known_source or {}))
        if migratable["return_value"] == 0:  # "not migratable": to this destination, by compatibility
            details += [_detail(destination.label, "destination", text) for text in migratable["reasons"]]
        else:
            details += _explain_refusal(source, destination, vm) or [
                _detail(source.label, "source", text) for text in migratable["reasons"]]
    reasons = [detail["message"] for detail in details]
    return {
        "compatible": not reasons,
        "reasons": reasons,
        "reason_details": details,
        "compatibility_warnings": blob["warnings"],
        "checks": {"blob": {k: blob[k] for k in ("return_value", "return_name")}, "migratable": migratable},
        "destination_host": computer_name,
    }


def _destination_checks(api, vm, destination_host, label, known):
    api.use_known_service((known.get("migration_service") or {}).get("selectors"))
    with step(f"checking the compatibility blob of {label} (CheckSystemCompatibilityInfo)"):
        blob = hyperv_checks.check_blob(api, vm["compatibility_info"], vm["compatibility_info_encoding"])
    if known.get("name"):  # the facts of this run name the host and its listeners
        service = known["migration_service"]
        return blob, destination_host or known["name"], service.get("listener_addresses") or []
    with step("reading the destination's migration service"):
        service = api.migration_service()
    return blob, destination_host or service.get("SystemName"), service.get("MigrationServiceListenerIPAddressList") or []


def _source_check(api, vm, destination_host, listeners, migration_type, label, known):
    api.use_known_service((known.get("migration_service") or {}).get("selectors"))
    with step(f"asking the source whether {label} can migrate (CheckVirtualSystemIsMigratableToHost)"):
        system = {"Name": vm["id"], "CreationClassName": "Msvm_ComputerSystem"}
        return hyperv_checks.check_migratable(api, system, destination_host, migration_type, listeners)


def _running_job_reason(source: HostSession, vm: t.Mapping[str, t.Any]) -> list[dict[str, str]]:
    """The reason when a migration job of the VM runs on its source (one query), else nothing."""
    def read(api):
        with step("looking for a migration job of the VM (Msvm_MigrationJob)"):
            return running_migration(api.migration_jobs(vm["id"]))
    try:
        job = source.run(read)
    except AnsibleActionFail as exc:
        display.vvv(f"{source.label}: could not look for a migration job to explain the pre-check: {exc}")
        return []
    return [migration_running(source.label, vm.get("name") or vm["id"], job)] if job else []


def _detail(host, role, message):
    return {"host": host, "role": role, "check": "Hyper-V", "message": message}


def _explain_refusal(source: HostSession, destination: HostSession, vm: t.Mapping[str, t.Any]) -> list[dict[str, str]]:
    """The pre-check refused without saying why: a migration job already moving the VM, when its source runs one;
    else what both migration services show.

    Only on this path, so that an allowed move pays nothing for it. Reading them may fail too: then, or when
    they show nothing wrong, the pre-check's own refusal stands as the reason (an empty list here).
    """
    running = _running_job_reason(source, vm)
    if running:
        return running
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
