# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Assemble ansible_facts.hyperv_compat for one host: its vectors, migration service, and VMs.

Cost with every part gathered: two enumerations (the migration service and its settings), two more
when VMs are asked for (their Msvm_ComputerSystem, and their settings data for the configuration
version), then one Invoke per system whose vectors are read (the host and each VM) and one per VM
blob asked for. The failover cluster costs one enumeration on a host that is no cluster node, five on a
node. Memory costs two enumerations in root/cimv2 for the host, and two or three for the VMs asked for (their memory
settings, their processor settings, and the memory of those that run): see memory.py. Each optional part left out (see
SUBSETS) saves its requests; what it would have filled in is None.

The per-VM reads may be spread over more clients (connections of their own to the same host): the same
requests, a few at a time, the VMs' facts in the same order, and a failure named as in one connection.
"""

from __future__ import annotations

import datetime
import typing as t

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv import cluster_view, memory, spread
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.failures import step
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import (
    SERVICE_KEYS,
    VM_STATES,
    HyperVError,
    HyperVHost,
    is_guid,
    same_name,
)
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.client import WSManClient


def _matches_id(system: dict[str, t.Any], requested: str) -> bool:
    return is_guid(requested) and str(system.get("Name", "")).lower() == requested.strip("{}").lower()


def select_vms(requested: list[str], candidates: list[dict[str, t.Any]], where: str) -> list[dict[str, t.Any]]:
    """Resolve each requested name or id to exactly one VM, in the order asked.

    Hyper-V allows two VMs with one name: such a name is an error that lists their ids.
    """
    selected: list[dict[str, t.Any]] = []
    for item in requested:
        by_id = [vm for vm in candidates if _matches_id(vm, item)]
        by_name = [vm for vm in candidates if same_name(str(vm.get("ElementName", "")), item)]
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


# The optional parts of the facts, each a fixed number of requests (per host, not per VM). Always read: the migration
# service (its keys let every method be called) and the VMs asked for, with their vectors and state.
SUBSETS = ("host_vectors", "migration_settings", "configuration_versions", "cluster", "memory")


def resolve_subset(requested: list[str]) -> frozenset[str]:
    """Ansible's gather_subset rules: names, 'all', 'min' (none), '!name' to leave one out, applied in order;
    a list of exclusions only starts from all."""
    names = [str(item).strip() for item in requested]
    chosen = set(SUBSETS) if all(name.startswith("!") for name in names) else set()
    for name in names:
        exclude = name.startswith("!")
        base = name[1:] if exclude else name
        parts = set(SUBSETS) if base == "all" else set() if base == "min" else {base}
        if not parts <= set(SUBSETS):
            raise ValueError(
                f"gather_subset: {name!r} is not one of all, min, {', '.join(SUBSETS)} (each may start with '!')"
            )
        chosen = chosen - parts if exclude else chosen | parts
    return frozenset(chosen)


def migration_service_facts(service: dict[str, t.Any], settings: dict[str, t.Any] | None) -> dict[str, t.Any]:
    """The service's state; the settings' fields are None when the settings were not read."""
    read = settings is not None
    settings = settings or {}
    return {
        "enabled_state": service.get("EnabledState"),
        # read but unset counts as off (fail closed); None only means "not read"
        "live_migration_enabled": bool(settings.get("EnableVirtualSystemMigration")) if read else None,
        "listener_addresses": service.get("MigrationServiceListenerIPAddressList") or [],
        "active_vm_migrations": service.get("ActiveVirtualSystemMigrationCount"),
        "active_storage_migrations": service.get("ActiveStorageMigrationCount"),
        "max_vm_migrations": settings.get("MaximumActiveVirtualSystemMigration"),
        "max_storage_migrations": settings.get("MaximumActiveStorageMigration"),
        "selectors": {key: service.get(key) for key in SERVICE_KEYS},  # lets later tasks call its methods directly
    }


def gather(api: HyperVHost, vms: list[str] | str | None, include_blob: bool, where: str,
           subset: frozenset[str] = frozenset(SUBSETS), more_clients: t.Sequence[WSManClient] = ()) -> dict[str, t.Any]:
    """The hyperv_compat facts; `vms` is a list of names/ids, 'all', or None for none; `subset` the optional parts;
    `more_clients` other connections to the same host, over which the per-VM reads are spread with `api`'s."""
    requested = None if vms == "all" else list(vms or [])
    selected: list[dict[str, t.Any]] = []
    if requested != []:
        with step("finding the requested VMs (Msvm_ComputerSystem)"):
            candidates = api.virtual_machines(requested)
            selected = candidates if requested is None else select_vms(requested, candidates, where)
    return gather_systems(api, selected, include_blob, subset, more_clients, every_vm=requested is None)


def gather_systems(api: HyperVHost, selected: list[dict[str, t.Any]], include_blob: bool,
                   subset: frozenset[str] = frozenset(SUBSETS),
                   more_clients: t.Sequence[WSManClient] = (), every_vm: bool = False) -> dict[str, t.Any]:
    """The hyperv_compat facts for VMs already found (their Msvm_ComputerSystem instances); the per-VM reads are
    spread over `api`'s client and `more_clients`, no more of them than there are VMs. `every_vm`: `selected` is
    every VM of the host (their versions are then asked for without naming each)."""
    versions: dict[str, str | None] = {}
    if selected and "configuration_versions" in subset:
        with step("reading the VMs' configuration versions (Msvm_VirtualSystemSettingData)"):
            versions = api.configuration_versions([str(vm.get("Name")) for vm in selected], every_vm=every_vm)
    with step("reading the migration service (Msvm_VirtualSystemMigrationService)"):
        host = api.host_reference()
        service = api.migration_service()
    settings = None
    if "migration_settings" in subset:
        with step("reading the migration settings (Msvm_VirtualSystemMigrationServiceSettingData)"):
            settings = api.migration_settings()
    host_vectors = None
    if "host_vectors" in subset:
        with step("reading the host's compatibility vectors"):
            host_vectors = api.vectors(host)
    view = cluster_view.read(api.client, preferred=True) if "cluster" in subset else None
    host_memory, vms_memory = _memory(api, selected, subset, every_vm)
    facts: dict[str, t.Any] = {
        "gathered_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "gather_subset": sorted(subset),
        "host": {
            "name": host.get("Name"),
            "namespace": api.namespace,
            "endpoint": api.client.endpoint,
            "vectors": host_vectors,
            "migration_service": migration_service_facts(service, settings),
            "cluster_node": None if "cluster" not in subset else view is not None,
            "cluster": _host_cluster(view, host.get("Name")),
            "memory": host_memory,
        },
        "vms": spread.in_order(
            lambda reader, vm: _vm_facts(reader, vm, versions.get(str(vm.get("Name"))), include_blob),
            selected,
            # the others know the migration service read above: no enumeration more per connection
            [api, *(api.alongside(client) for client in more_clients[:max(0, len(selected) - 1)])],
        ),
    }
    if "cluster" in subset:
        for entry in facts["vms"]:
            entry["cluster"] = _vm_cluster(view, entry["id"])
    for entry in facts["vms"]:
        entry.update(vms_memory.get(str(entry["id"])) or {"memory": memory.unread_vm(), "virtual_processors": None})
    return facts


def _memory(api: HyperVHost, selected: list[dict[str, t.Any]], subset: frozenset[str],
            every_vm: bool) -> tuple[dict[str, t.Any], dict[str, dict[str, t.Any]]]:
    """The host's memory and logical processors, and each VM's memory and virtual processors by id; null figures when
    the memory part is left out."""
    if "memory" not in subset:
        return memory.unread_host(), {}
    with step(f"reading the host's memory and logical processors (Win32_OperatingSystem, Win32_ComputerSystem in "
              f"{memory.CIMV2_NAMESPACE})"):
        host_memory = memory.host_memory(api.client)
    if not selected:
        return host_memory, {}
    with step("reading the VMs' memory and virtual processors (Msvm_MemorySettingData, Msvm_ProcessorSettingData, Msvm_Memory)"):
        return host_memory, memory.vms_memory(api.client, selected, api.namespace, every_vm=every_vm)


def _host_cluster(view: dict[str, t.Any] | None, computer_name: t.Any) -> dict[str, t.Any] | None:
    """The host's failover cluster: its name, this host's node, and every node's state (None: not a node)."""
    if view is None:
        return None
    node = next((name for name in view["nodes"] if str(computer_name or "").lower() == name.lower()), None)
    return {"name": view["name"], "node": node,
            "nodes": {name: {"state": facts["state"], "drain_status": facts["drain_status"]}
                      for name, facts in view["nodes"].items()}}


def _vm_cluster(view: dict[str, t.Any] | None, vm_id: t.Any) -> dict[str, t.Any] | None:
    """The VM's role in the cluster (None: not clustered, or the host is no cluster node)."""
    role = (view or {}).get("vms", {}).get(str(vm_id or "").strip("{}").upper())
    if role is None:
        return None
    keys = ("group", "resource", "owner_node", "state", "migration_state", "possible_owners", "preferred_owners")
    return {"cluster": view["name"], **{key: role.get(key) for key in keys}}  # type: ignore[index]


def vm_identity(vm: dict[str, t.Any]) -> dict[str, t.Any]:
    """Who a VM (Msvm_ComputerSystem) is and its state, as the facts name them."""
    state = vm.get("EnabledState")
    return {
        "id": vm.get("Name"),
        "name": vm.get("ElementName"),
        "state": state,
        "state_name": VM_STATES.get(state, "Unknown") if state is not None else None,
    }


def vm_entry(api: HyperVHost, vm: dict[str, t.Any], include_blob: bool) -> dict[str, t.Any]:
    """One VM's entry of the facts (its vectors, and its blob when asked), for a VM already found; no host read."""
    return _vm_facts(api, vm, None, include_blob)


def _vm_facts(api: HyperVHost, vm: dict[str, t.Any], version: str | None, include_blob: bool) -> dict[str, t.Any]:
    label = f"VM {vm.get('ElementName')!r} ({vm.get('Name')})"
    with step(f"reading the compatibility vectors of {label}"):
        entry = {**vm_identity(vm), "configuration_version": version, "vectors": api.vectors(vm)}
    if include_blob:
        with step(f"reading the compatibility blob of {label} (GetSystemCompatibilityInfo)"):
            entry["compatibility_info"], entry["compatibility_info_encoding"] = api.compatibility_blob(vm)
    return entry
