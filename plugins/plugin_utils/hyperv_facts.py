# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Assemble ansible_facts.hyperv_compat for one host: its vectors, migration service, and VMs.

Cost: two enumerations (the migration service and its settings), two more when VMs are asked for
(their Msvm_ComputerSystem, and their settings data for the configuration version), then one
Invoke per system whose vectors are read (the host and each VM) and one per VM blob asked for.
"""

from __future__ import annotations

import datetime
import typing as t

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.failures import step
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv_api import (
    SERVICE_KEYS,
    VM_STATES,
    HyperVError,
    HyperVHost,
    is_guid,
)


def _matches_id(system: dict[str, t.Any], requested: str) -> bool:
    return is_guid(requested) and str(system.get("Name", "")).lower() == requested.strip("{}").lower()


def select_vms(requested: list[str], candidates: list[dict[str, t.Any]], where: str) -> list[dict[str, t.Any]]:
    """Resolve each requested name or id to exactly one VM, in the order asked.

    Hyper-V allows two VMs with one name: such a name is an error that lists their ids.
    """
    selected: list[dict[str, t.Any]] = []
    for item in requested:
        by_id = [vm for vm in candidates if _matches_id(vm, item)]
        by_name = [vm for vm in candidates if str(vm.get("ElementName", "")).lower() == item.lower()]
        matches = by_id or by_name
        if not matches:
            raise HyperVError(
                f"no VM named or with id {item!r} on {where}. Check the name as Get-VM shows it on that "
                "host, or whether the VM has moved to another host."
            )
        if len(matches) > 1:
            ids = ", ".join(str(vm.get("Name")) for vm in matches)
            raise HyperVError(f"{len(matches)} VMs on {where} are named {item!r} (ids {ids}); ask for one by its id.")
        if matches[0] not in selected:
            selected.append(matches[0])
    return selected


def migration_service_facts(service: dict[str, t.Any], settings: dict[str, t.Any]) -> dict[str, t.Any]:
    return {
        "enabled_state": service.get("EnabledState"),
        "live_migration_enabled": bool(settings.get("EnableVirtualSystemMigration")),
        "listener_addresses": service.get("MigrationServiceListenerIPAddressList") or [],
        "active_vm_migrations": service.get("ActiveVirtualSystemMigrationCount"),
        "active_storage_migrations": service.get("ActiveStorageMigrationCount"),
        "max_vm_migrations": settings.get("MaximumActiveVirtualSystemMigration"),
        "max_storage_migrations": settings.get("MaximumActiveStorageMigration"),
        "keys": {key: service.get(key) for key in SERVICE_KEYS},  # lets later tasks call its methods directly
    }


def gather(api: HyperVHost, vms: list[str] | str | None, include_blob: bool, where: str) -> dict[str, t.Any]:
    """The hyperv_compat facts; `vms` is a list of names/ids, 'all', or None for none."""
    requested = None if vms == "all" else list(vms or [])
    selected: list[dict[str, t.Any]] = []
    versions: dict[str, str | None] = {}
    if requested != []:
        with step("finding the requested VMs (Msvm_ComputerSystem)"):
            candidates = api.virtual_machines(requested)
            selected = candidates if requested is None else select_vms(requested, candidates, where)
        with step("reading the VMs' configuration versions (Msvm_VirtualSystemSettingData)"):
            versions = api.configuration_versions([str(vm.get("Name")) for vm in selected])
    with step("reading the migration service (Msvm_VirtualSystemMigrationService)"):
        host = api.host_reference()
        service = api.migration_service()
    with step("reading the migration settings (Msvm_VirtualSystemMigrationServiceSettingData)"):
        settings = api.migration_settings()
    with step("reading the host's compatibility vectors"):
        host_vectors = api.vectors(host)
    facts: dict[str, t.Any] = {
        "gathered_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": {
            "name": host.get("Name"),
            "namespace": api.namespace,
            "endpoint": api.client.endpoint,
            "vectors": host_vectors,
            "migration_service": migration_service_facts(service, settings),
        },
        "vms": [_vm_facts(api, vm, versions.get(str(vm.get("Name"))), include_blob) for vm in selected],
    }
    return facts


def _vm_facts(api: HyperVHost, vm: dict[str, t.Any], version: str | None, include_blob: bool) -> dict[str, t.Any]:
    state = vm.get("EnabledState")
    label = f"VM {vm.get('ElementName')!r} ({vm.get('Name')})"
    with step(f"reading the compatibility vectors of {label}"):
        entry = {
            "id": vm.get("Name"),
            "name": vm.get("ElementName"),
            "state": state,
            "state_name": VM_STATES.get(state, "Unknown") if state is not None else None,
            "configuration_version": version,
            "vectors": api.vectors(vm),
        }
    if include_blob:
        with step(f"reading the compatibility blob of {label} (GetSystemCompatibilityInfo)"):
            entry["compatibility_info"], entry["compatibility_info_encoding"] = api.compatibility_blob(vm)
    return entry
