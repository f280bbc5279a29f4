# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn the compat_facts of several hosts into the fleet the report reads: {hosts, vms}.

Only names, ids, states, vectors, the hosts' live-migration state (on or off, how many migration
networks, migrations running and allowed) and failover-cluster membership (a host's cluster, node
name and node state; a VM's role: its group, owner node and possible owners) and memory (a host's
total and free memory and logical processors; a VM's needed_mb and virtual processors) are kept, no
endpoints or addresses, so the result can be saved next to the report and rendered again offline.
Facts gathered without the cluster or memory part (or before compat_facts read memory) give null
for those. Hyper-V lets two VMs share a name; those are told apart by their id, so no VM hides another.
"""

from __future__ import annotations

import typing as t
from collections import Counter
from collections.abc import Mapping, Sequence

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.vectors import VectorInputError, describe

HOST_MEMORY_KEYS = ("total_mb", "free_mb", "logical_processors")


def _mapping(value: t.Any, where: str, what: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise VectorInputError(f"{where}: expected {what}, got {type(value).__name__} {describe(value)}")
    return value


def fleet_facts(facts_by_host: t.Any) -> dict[str, dict[str, t.Any]]:
    """facts_by_host maps an inventory host name to that host's hyperv_compat facts (gathered with vms: all)."""
    _mapping(facts_by_host, "facts_by_host", "a mapping of inventory host name to its hyperv_compat facts")
    hosts: dict[str, t.Any] = {}
    found = []
    for host in sorted(facts_by_host):
        facts = _mapping(facts_by_host[host], f"facts_by_host[{host!r}]", "the hyperv_compat facts of compat_facts")
        host_facts = _mapping(facts.get("host"), f"facts_by_host[{host!r}].host", "the host's facts")
        if host_facts.get("vectors") is None:
            raise VectorInputError(f"facts_by_host[{host!r}].host.vectors: missing; gather with the host_vectors subset")
        hosts[host] = {"vectors": host_facts["vectors"], "cluster": _host_cluster(host_facts.get("cluster")),
                       "memory": _host_memory(host_facts.get("memory"))}
        service = host_facts.get("migration_service")
        if isinstance(service, Mapping):
            hosts[host]["migration"] = _migration(service)
        vms = facts.get("vms") or []
        if isinstance(vms, (str, bytes)) or not isinstance(vms, Sequence):
            raise VectorInputError(f"facts_by_host[{host!r}].vms: expected a list of VMs, got {describe(vms)}")
        for index, vm in enumerate(vms):
            where = f"facts_by_host[{host!r}].vms[{index}]"
            _mapping(vm, where, "a VM's facts")
            if not vm.get("name") and not vm.get("id"):
                raise VectorInputError(f"{where}: has neither a name nor an id")
            found.append({"name": vm.get("name") or vm["id"], "id": vm.get("id"), "host": host,
                          "state": vm.get("state_name"), "vectors": vm.get("vectors"),
                          "cluster": _vm_role(vm.get("cluster")),
                          "needed_mb": (vm.get("memory") if isinstance(vm.get("memory"), Mapping) else {}).get("needed_mb"),
                          "virtual_processors": vm.get("virtual_processors")})
    names = Counter(vm["name"] for vm in found)
    keys = Counter(_key(vm, names) for vm in found)
    vms: dict[str, t.Any] = {}
    for vm in found:
        key = _key(vm, names)
        key = key if keys[key] == 1 else f"{key} on {vm['host']}"  # one VM reported by two hosts
        vms[_unused(key, vms)] = vm  # a VM named like another's key, or twice on a host without ids, hides none
    return {"hosts": hosts, "vms": vms}


def _migration(service: Mapping) -> dict[str, t.Any]:
    addresses = service.get("listener_addresses")
    return {
        "live_migration_enabled": service.get("live_migration_enabled"),
        "networks": len(addresses) if isinstance(addresses, Sequence) and not isinstance(addresses, str) else None,
        "active_vm_migrations": service.get("active_vm_migrations"),
        "max_vm_migrations": service.get("max_vm_migrations"),
    }


def _host_memory(memory: t.Any) -> dict[str, t.Any]:
    """{total_mb, free_mb, logical_processors}, each null when the facts lack it (gathered without the memory part)."""
    memory = memory if isinstance(memory, Mapping) else {}
    return {key: memory.get(key) for key in HOST_MEMORY_KEYS}


def _host_cluster(cluster: t.Any) -> dict[str, t.Any] | None:
    """{name, node, state}: the node name maps the VMs' possible owners (node names) to inventory names."""
    if not isinstance(cluster, Mapping) or not cluster.get("name"):
        return None
    node = cluster.get("node")
    nodes = cluster.get("nodes") if isinstance(cluster.get("nodes"), Mapping) else {}
    node_facts = nodes.get(node) if isinstance(nodes.get(node), Mapping) else {}
    return {"name": cluster["name"], "node": node, "state": node_facts.get("state")}


def _vm_role(role: t.Any) -> dict[str, t.Any] | None:
    """The VM's cluster role, without its resource name, states or preferred owners, which the report does not use."""
    if not isinstance(role, Mapping):
        return None
    return {key: role.get(key) for key in ("cluster", "group", "owner_node", "possible_owners")}


def _key(vm: dict[str, t.Any], names: Counter) -> str:
    return vm["name"] if names[vm["name"]] == 1 or not vm["id"] else f"{vm['name']} ({vm['id']})"


def _unused(key: str, taken: Mapping) -> str:
    """key, else the first of "key #2", "key #3", ... that no VM has taken."""
    number, unique = 1, key
    while unique in taken:
        number += 1
        unique = f"{key} #{number}"
    return unique
