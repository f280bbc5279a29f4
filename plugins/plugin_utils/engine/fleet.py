# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report's content: every VM against every host, the fleet baseline, failover clusters, and host groups.

A host group is a set of hosts no VM can tell apart: they report the same vector ids with the same
values. check() compares a VM's vectors with the host's values only, so a VM compatible with one
host of a group is compatible with all of them: within a group every VM moves freely, today and
after it is restarted with other features. Hosts whose values differ in any id are in different
groups, because some VM (an Equal vector on that id, or a VM carrying an id one host lacks) could
run on one and not the other.

A failover cluster moves a clustered VM (a role) only among its possible owners, and a drain sends it to one of
them that is up: so for each cluster the report names the roles that some possible owner cannot run, or that a drain
of their node could send nowhere, and where else they can go. Pure: no I/O, no Ansible; the templates only lay this out.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.baseline import baseline_profile
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.compat import (
    VECTOR_NAMES,
    check,
    host_values,
    operation_name,
)
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.ranking import rank_profiles
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.vectors import (
    Profile,
    VectorInputError,
    describe,
    parse_named_profiles,
    parse_profile,
)


def group_hosts(hosts: Mapping[str, Profile]) -> list[list[str]]:
    """Partition hosts into groups of identical vector values; the largest group first, then by name."""
    groups: dict[frozenset[tuple[int, int]], list[str]] = {}
    for name in sorted(hosts):
        groups.setdefault(frozenset(host_values(hosts[name]).items()), []).append(name)
    return sorted(groups.values(), key=lambda names: (-len(names), names[0]))


def describe_vectors(profile: Profile) -> list[dict[str, t.Any]]:
    """A vector list with the names a person reads (ProcessorFeatures, Subset, 0x3FF)."""
    return [
        {
            "vector_id": vector.vector_id,
            "name": VECTOR_NAMES.get(vector.vector_id) or f"vector {vector.vector_id}",
            "compare_operation": vector.compare_operation,
            "operation": operation_name(vector.compare_operation),
            "compatibility_info": vector.compatibility_info,
            "hex": f"0x{vector.compatibility_info:X}",
        }
        for vector in profile
    ]


def compat_groups(hosts: t.Any) -> list[dict[str, t.Any]]:
    """Filter face of group_hosts(): hosts maps host name -> vector list."""
    profiles = parse_named_profiles(hosts, "hosts")
    return [{"hosts": names, "vectors": describe_vectors(profiles[names[0]])} for names in group_hosts(profiles)]


def _entries(section: t.Any, where: str) -> dict[str, dict[str, t.Any]]:
    """name -> {vectors, ...}: accept a bare vector list per name, or a mapping holding `vectors`."""
    if not isinstance(section, Mapping):
        raise VectorInputError(f"{where}: expected a mapping of name to vectors, got {type(section).__name__} {describe(section)}")
    entries = {}
    for name, value in section.items():
        if not isinstance(name, str):
            raise VectorInputError(f"{where}: key {describe(name)} is not a string name")
        entries[name] = dict(value) if isinstance(value, Mapping) else {"vectors": value}
        if "vectors" not in entries[name]:
            raise VectorInputError(f"{where}[{name!r}]: has no 'vectors'")
    return entries


def _cell(host: str, entry: dict[str, t.Any], current: str | None) -> dict[str, t.Any]:
    return {
        "host": host,
        "compatible": entry["compatible"],
        "current": host == current,
        "reasons": entry["reasons"],
        "surplus_bits": entry["surplus_bits"],
        "blocked": None,  # the number of its entry in the report's `blocked`, when incompatible
    }


def _first_sentences(reasons: list[dict[str, t.Any]]) -> list[str]:
    """Each reason's first sentence (what fails, without the remedy): short enough for a tooltip."""
    return [reason["message"].split(". ", 1)[0].rstrip(".") + "." for reason in reasons]


def _blocked(rows: list[dict[str, t.Any]], vms: dict[str, Profile], groups: list[list[str]],
             host_group: dict[str, int]) -> list[dict[str, t.Any]]:
    """Every blocked pair once per (VM vectors, host group): VMs with the same vectors fail a group's hosts alike,
    so a fleet built from templates gets a few entries, not one per VM and host. Numbers the cells' `blocked`."""
    found: dict[tuple[Profile, int], dict[str, t.Any]] = {}
    for row in rows:
        for cell in row["cells"]:
            if cell["compatible"]:
                continue
            group = host_group[cell["host"]]
            entry = found.get((vms[row["name"]], group))
            if entry is None:
                entry = found[(vms[row["name"]], group)] = {
                    "number": len(found) + 1, "vms": [], "group": group, "hosts": groups[group - 1],
                    "reasons": cell["reasons"], "short": _first_sentences(cell["reasons"]),
                }
            if not entry["vms"] or entry["vms"][-1] != row["name"]:  # a row's cells come together
                entry["vms"].append(row["name"])
            cell["blocked"] = entry["number"]
    return list(found.values())


def _host_info(name: str, entry: dict[str, t.Any], group: int, rows: list[dict[str, t.Any]],
               cluster: dict[str, t.Any] | None) -> dict[str, t.Any]:
    """A host's group, its live-migration state as far as the facts tell it (None: not known), its cluster, its VMs."""
    migration = entry.get("migration") if isinstance(entry.get("migration"), Mapping) else {}
    enabled, networks = migration.get("live_migration_enabled"), migration.get("networks")
    return {
        "name": name,
        "group": group,
        "live_migration_enabled": enabled,
        "networks": networks,
        "active_vm_migrations": migration.get("active_vm_migrations"),
        "max_vm_migrations": migration.get("max_vm_migrations"),
        # False only when the facts say so: live migration off, or no migration network to arrive on
        "receives": None if enabled is None else bool(enabled) and networks != 0,
        "cluster": cluster,
        "vms": [row["name"] for row in rows if row["host"] == name],
    }


def _host_cluster(name: str, entry: dict[str, t.Any]) -> dict[str, t.Any] | None:
    """{name, node, state} of the host's failover cluster as fleet_facts keeps it; None: standalone, or not told."""
    cluster = entry.get("cluster")
    if not isinstance(cluster, Mapping) or not cluster.get("name"):
        return None
    return {"name": str(cluster["name"]), "node": str(cluster.get("node") or name), "state": cluster.get("state")}


def _vm_role(entry: dict[str, t.Any], host_cluster: dict[str, t.Any] | None) -> dict[str, t.Any] | None:
    """{cluster, group, owner_node, possible_owners} of a clustered VM; None when it is no cluster role."""
    role = entry.get("cluster")
    if not isinstance(role, Mapping):
        return None
    owners = role.get("possible_owners")
    return {
        "cluster": str(role.get("cluster") or (host_cluster or {}).get("name") or ""),
        "group": role.get("group"),
        "owner_node": role.get("owner_node"),
        # None: not read, so every node of the cluster (Failover Clustering's default)
        "possible_owners": None if owners is None else [str(owner) for owner in owners],
    }


class _Nodes(t.NamedTuple):
    """A cluster's nodes in the report: their inventory names, by node name (casefolded), and those a drain may use."""

    hosts: list[str]
    by_node: dict[str, str]
    up: frozenset[str]

    @classmethod
    def of(cls, nodes: list[dict[str, t.Any]]) -> _Nodes:
        return cls(
            hosts=[node["name"] for node in nodes],
            by_node={node["node"].casefold(): node["name"] for node in nodes},
            up=frozenset(node["name"] for node in nodes if node["state"] in ("up", None)),  # a drain moves roles to nodes up
        )


def _blocked_role(row: dict[str, t.Any], role: dict[str, t.Any], nodes: _Nodes) -> dict[str, t.Any] | None:
    """The possible owners a role cannot run on, and where a drain of its node could still send it; None when it
    can run on every possible owner, all of them in the report, and a drain has somewhere to send it."""
    owners = role["possible_owners"]
    if owners is None:
        owner_hosts, not_in_report = nodes.hosts, []
    else:
        owner_hosts = [nodes.by_node[owner.casefold()] for owner in owners if owner.casefold() in nodes.by_node]
        not_in_report = [owner for owner in owners if owner.casefold() not in nodes.by_node]
    compatible = {cell["host"]: cell["compatible"] for cell in row["cells"]}
    cannot_run_on = [host for host in owner_hosts if not compatible[host]]
    can_move_to = [host for host in owner_hosts if compatible[host] and host != row["host"] and host in nodes.up]
    if not cannot_run_on and not not_in_report and can_move_to:
        return None
    return {
        "vm": row["name"],
        "group": role["group"],
        "host": row["host"],
        "owner_node": role["owner_node"],
        "cannot_run_on": cannot_run_on,
        "can_move_to": can_move_to,  # empty, with every owner in the report: stuck if its node is drained
        "owners_not_in_report": not_in_report,
    }


def _cluster(name: str, nodes: list[dict[str, t.Any]], roles: list[tuple[dict[str, t.Any], dict[str, t.Any]]],
             rows: list[dict[str, t.Any]], hosts: dict[str, Profile]) -> dict[str, t.Any]:
    """One failover cluster: its nodes in the report, their baseline, its roles and those some possible owner
    cannot run."""
    members, index = [node["name"] for node in nodes], _Nodes.of(nodes)
    clustered = {row["name"] for row, _role in roles}
    return {
        "name": name,
        "hosts": [dict(node, vms=[row["name"] for row, _role in roles if row["host"] == node["name"]]) for node in nodes],
        "baseline": describe_vectors(baseline_profile([hosts[member] for member in members])),
        "vms": [row["name"] for row, _role in roles],
        "roaming_vms": [row["name"] for row, _role in roles
                        if all(cell["compatible"] for cell in row["cells"] if cell["host"] in members)],
        # on a node but no role: a drain does not move them, so they need a migration of their own before maintenance
        "vms_not_clustered": [row["name"] for row in rows if row["host"] in members and row["name"] not in clustered],
        "blocked_roles": [entry for row, role in roles if (entry := _blocked_role(row, role, index)) is not None],
    }


def _clusters(host_clusters: dict[str, dict[str, t.Any] | None], rows: list[dict[str, t.Any]],
              vm_entries: dict[str, dict[str, t.Any]], hosts: dict[str, Profile]) -> list[dict[str, t.Any]]:
    """The failover clusters of the hosts, by name; a clustered VM belongs to the cluster its role names."""
    nodes: dict[str, list[dict[str, t.Any]]] = {}
    for host in sorted(host_clusters):
        cluster = host_clusters[host]
        if cluster is not None:
            nodes.setdefault(cluster["name"], []).append({"name": host, "node": cluster["node"], "state": cluster["state"]})
    roles: dict[str, list[tuple[dict[str, t.Any], dict[str, t.Any]]]] = {}
    for row in rows:
        role = _vm_role(vm_entries[row["name"]], host_clusters.get(row["host"]))
        if role is not None and role["cluster"] in nodes:
            roles.setdefault(role["cluster"], []).append((row, role))
    by_name = sorted(nodes, key=lambda name: (name.casefold(), name))
    return [_cluster(name, nodes[name], roles.get(name, []), rows, hosts) for name in by_name]


def _rows(vms: dict[str, Profile], vm_entries: dict[str, dict[str, t.Any]], columns: list[str],
          hosts: dict[str, Profile], baseline: Profile) -> list[dict[str, t.Any]]:
    """One row per VM (by name, case-insensitively), one cell per column."""
    matrix = rank_profiles(vms, hosts)
    baseline_values = host_values(baseline)
    rows = []
    for name in sorted(vms, key=str.casefold):
        current = vm_entries[name].get("host")
        by_host = {entry["host"]: entry for entry in matrix[name]}
        rows.append({
            "name": name,
            "vm_name": vm_entries[name].get("name", name),
            "id": vm_entries[name].get("id"),
            "host": current,
            "state": vm_entries[name].get("state"),
            "cells": [_cell(host, by_host[host], current) for host in columns],
            # the best fit first, as rank_hosts orders them
            "compatible_hosts": [entry["host"] for entry in matrix[name] if entry["compatible"]],
            "roams": not check(vms[name], baseline_values),
        })
    return rows


def fleet_report(fleet: t.Any) -> dict[str, t.Any]:
    """Everything the report shows, from {hosts: {name: vectors}, vms: {name: vectors or {vectors, host, state}}}."""
    if not isinstance(fleet, Mapping) or "hosts" not in fleet or "vms" not in fleet:
        raise VectorInputError(f"fleet: expected a mapping with 'hosts' and 'vms', got {describe(fleet)}")
    host_entries = _entries(fleet["hosts"], "fleet.hosts")
    vm_entries = _entries(fleet["vms"], "fleet.vms")
    if not host_entries:
        raise VectorInputError("fleet.hosts: is empty; the report needs at least one host")
    hosts = {name: parse_profile(entry["vectors"], f"fleet.hosts[{name!r}].vectors") for name, entry in host_entries.items()}
    vms = {name: parse_profile(entry["vectors"], f"fleet.vms[{name!r}].vectors") for name, entry in vm_entries.items()}

    groups = group_hosts(hosts)
    columns = [name for names in groups for name in names]  # hosts of a group side by side
    host_group = {name: number for number, names in enumerate(groups, 1) for name in names}
    baseline = baseline_profile(list(hosts.values()))
    rows = _rows(vms, vm_entries, columns, hosts, baseline)
    blocked = _blocked(rows, vms, groups, host_group)
    host_clusters = {name: _host_cluster(name, entry) for name, entry in host_entries.items()}
    host_details = [_host_info(name, host_entries[name], host_group[name], rows, host_clusters[name]) for name in columns]
    clusters = _clusters(host_clusters, rows, vm_entries, hosts)
    return {
        "hosts": columns,
        "host_group": host_group,
        "host_details": host_details,
        "vms": rows,
        "blocked": blocked,
        "baseline": describe_vectors(baseline),
        "clusters": clusters,
        "standalone_hosts": sorted(name for name, cluster in host_clusters.items() if cluster is None),
        "groups": [
            {
                "number": number,
                "hosts": names,
                "vectors": describe_vectors(hosts[names[0]]),
                "vms": [row["name"] for row in rows if names[0] in row["compatible_hosts"]],
            }
            for number, names in enumerate(groups, 1)
        ],
        "summary": {
            "vms": len(rows),
            "hosts": len(columns),
            "groups": len(groups),
            "clusters": len(clusters),
            "pairs": len(rows) * len(columns),
            "compatible_pairs": sum(len(row["compatible_hosts"]) for row in rows),
            "roaming_vms": [row["name"] for row in rows if row["roams"]],
            "vms_without_host": [row["name"] for row in rows if not row["compatible_hosts"]],
            # VMs that run on one host and fit on no other: they cannot be evacuated live
            "pinned_vms": [
                row["name"] for row in rows
                if row["host"] in hosts and row["compatible_hosts"] in ([], [row["host"]])
            ],
            "hosts_not_receiving": [info["name"] for info in host_details if info["receives"] is False],
        },
    }
