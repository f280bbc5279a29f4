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
of their node could send nowhere, and where else they can go.

Memory: each host's total and free memory, what is free for VMs after the reserve the host keeps for itself
(memory_reserve_mb, as the gate counts it), and the memory of its VMs. Given a planned wave (the gate's decisions of a
gate-only run, migration_gate_decisions), what each host would hold after it: the memory the allowed moves bring in and
take away, and the hosts they would overfill. Pure: no I/O, no Ansible; the templates only lay this out.
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
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.reserve import DEFAULT_RESERVE_MB, holds_memory, whole_megabytes
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.vectors import (
    Profile,
    VectorInputError,
    describe,
    parse_named_profiles,
    parse_profile,
)


_PLAN = "plan"


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
        raise VectorInputError(f"{where}: expected a mapping of name to vectors, got {_kind(section)} {describe(section)}")
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


def _kind(value: t.Any) -> str:
    """A value's type as a person reads it, the builtin it is (Ansible 2.19 tags strings and mappings it templates)."""
    for kind in (bool, int, float, str, bytes, Mapping, list, tuple):
        if isinstance(value, kind):
            return {Mapping: "dict"}.get(kind, kind.__name__)
    return type(value).__name__


def _megabytes(value: t.Any, where: str) -> int | None:
    """A figure of the facts taken literally: a whole number, 0 or more, or null (not read)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise VectorInputError(f"{where}: expected a whole number, 0 or more, or null, got {_kind(value)} {describe(value)}")
    return value


def _host_memory(name: str, entry: dict[str, t.Any]) -> dict[str, int | None]:
    """{total_mb, free_mb, logical_processors} of a host entry, null when not read (facts without memory)."""
    memory = entry.get("memory")
    if memory is None:
        memory = {}
    elif not isinstance(memory, Mapping):
        raise VectorInputError(f"fleet.hosts[{name!r}].memory: expected a mapping with total_mb, free_mb and "
                               f"logical_processors, got {_kind(memory)} {describe(memory)}")
    return {key: _megabytes(memory.get(key), f"fleet.hosts[{name!r}].memory.{key}")
            for key in ("total_mb", "free_mb", "logical_processors")}


def _memory_info(memory: dict[str, int | None], vms: list[dict[str, t.Any]], reserve_mb: int) -> dict[str, t.Any]:
    """A host's memory as the report shows it: what it has, what is free for VMs after the reserve, what its VMs use."""
    free = memory["free_mb"]
    holding = [vm for vm in vms if holds_memory(vm["state"])]
    return {
        **memory,
        "reserve_mb": reserve_mb,
        # negative: the host is already inside its reserve; null: free memory not read
        "for_vms_mb": None if free is None else free - reserve_mb,
        "vms_mb": sum(vm["needed_mb"] or 0 for vm in holding),  # held by its running (or paused) VMs
        "vms_not_read": [vm["name"] for vm in holding if vm["needed_mb"] is None],
        "vms_off_mb": sum(vm["needed_mb"] or 0 for vm in vms if not holds_memory(vm["state"])),  # needed when they start
        "virtual_processors": sum(vm["virtual_processors"] or 0 for vm in vms if holds_memory(vm["state"])),
    }


def _host_info(name: str, entry: dict[str, t.Any], group: int, rows: list[dict[str, t.Any]],
               cluster: dict[str, t.Any] | None, reserve_mb: int) -> dict[str, t.Any]:
    """A host's group, its live-migration state as far as the facts tell it (None: not known), its cluster, its VMs."""
    migration = entry.get("migration") if isinstance(entry.get("migration"), Mapping) else {}
    enabled, networks = migration.get("live_migration_enabled"), migration.get("networks")
    vms = [row for row in rows if row["host"] == name]
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
        "vms": [row["name"] for row in vms],
        "memory": _memory_info(_host_memory(name, entry), vms, reserve_mb),
        # each VM's memory, its name first: needed_mb (what it holds running, else its startup memory), whether it holds it
        "vm_memory": [{"name": row["name"], "needed_mb": row["needed_mb"], "holds": holds_memory(row["state"]),
                       "virtual_processors": row["virtual_processors"]} for row in vms],
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
            "needed_mb": _megabytes(vm_entries[name].get("needed_mb"), f"fleet.vms[{name!r}].needed_mb"),
            "virtual_processors": _megabytes(vm_entries[name].get("virtual_processors"), f"fleet.vms[{name!r}].virtual_processors"),
        })
    return rows


# The planned wave: the gate's decisions (migration_gate_decisions), taken literally


def _plan_type(value: t.Any, types: tuple[type, ...], where: str, what: str, required: bool = False) -> t.Any:
    """A decision's field as it is, or a VectorInputError naming it: the plan is never guessed at."""
    if value is None and not required:
        return None
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise VectorInputError(f"{where}: expected {what}, got {_kind(value)} {describe(value)}")
    return value


def _plan_needed(decision: Mapping, destination: str, where: str) -> int | None:
    """The memory the move needs on its destination, as the gate recorded it (checks.memory[destination].needed_mb)."""
    checks = _plan_type(decision.get("checks"), (Mapping,), f"{where}.checks", "a mapping of the gate's checks")
    memory = _plan_type((checks or {}).get("memory"), (Mapping,), f"{where}.checks.memory",
                        "a mapping of host to its memory figures")
    figures = _plan_type((memory or {}).get(destination), (Mapping,), f"{where}.checks.memory[{destination!r}]",
                         "a mapping with needed_mb")
    needed = (figures or {}).get("needed_mb")
    if needed is not None and (isinstance(needed, bool) or not isinstance(needed, int) or needed < 0):
        raise VectorInputError(f"{where}.checks.memory[{destination!r}].needed_mb: expected a whole number of MB, 0 or "
                               f"more, or null, got {_kind(needed)} {describe(needed)}")
    return needed


def _first_reason(decision: Mapping, where: str) -> dict[str, t.Any]:
    """{host, check, message}: a blocked decision's first reason, or a stopped gate's error."""
    reasons = decision.get("reasons")
    if reasons is not None and (isinstance(reasons, (str, bytes)) or not isinstance(reasons, t.Sequence)):
        raise VectorInputError(f"{where}.reasons: expected a list of reasons, got {_kind(reasons)} {describe(reasons)}")
    for index, item in enumerate(reasons or []):
        item = _plan_type(item, (Mapping,), f"{where}.reasons[{index}]", "a mapping with host, check and message", True)
        return {"host": item.get("host"), "check": item.get("check"),
                "message": _plan_type(item.get("message"), (str,), f"{where}.reasons[{index}].message", "a string", True)}
    error = _plan_type(decision.get("error"), (Mapping,), f"{where}.error", "a mapping with task and msg")
    if error is not None:
        return {"host": None, "check": error.get("task"),
                "message": _plan_type(error.get("msg"), (str,), f"{where}.error.msg", "a string", True)}
    return {"host": None, "check": None, "message": "no reason recorded"}


def _plan_entries(plan: t.Any) -> list[dict[str, t.Any]]:
    """Each decision's fields the report uses, checked literally: a wrong type is an error naming the field."""
    if not isinstance(plan, Mapping):
        raise VectorInputError(f"{_PLAN}: expected a mapping of VM to its gate decision (migration_gate_decisions of a "
                               f"gate-only run), got {_kind(plan)} {describe(plan)}")
    entries = []
    for vm in sorted(plan, key=lambda name: (str(name).casefold(), str(name))):
        if not isinstance(vm, str):
            raise VectorInputError(f"{_PLAN}: key {describe(vm)} is not a VM name")
        where = f"{_PLAN}[{vm!r}]"
        decision = _plan_type(plan[vm], (Mapping,), where, "the VM's gate decision, a mapping", True)
        entry = {
            "vm": vm,
            "allowed": _plan_type(decision.get("allowed"), (bool,), f"{where}.allowed", "true or false", True),
            "verdict": _plan_type(decision.get("verdict"), (str,), f"{where}.verdict", "a string"),
            "source": _plan_type(decision.get("source"), (str,), f"{where}.source", "a host name"),
            "destination": _plan_type(decision.get("destination"), (str,), f"{where}.destination", "a host name"),
            "state": _plan_type(decision.get("state"), (str,), f"{where}.state", "a state name"),
            "moved": _plan_type(decision.get("moved"), (bool,), f"{where}.moved", "true or false"),
        }
        if entry["allowed"]:
            for key in ("source", "destination"):
                if not entry[key]:
                    raise VectorInputError(f"{where}.{key}: an allowed decision names its {key} host, got "
                                           f"{describe(decision.get(key))}")
            entry["needed_mb"] = _plan_needed(decision, entry["destination"], where)
        else:
            entry["reason"] = _first_reason(decision, where)
        entries.append(entry)
    return entries


def _plan_host(name: str, memory: dict[str, t.Any] | None, moves: list[dict[str, t.Any]], reserve_mb: int) -> dict[str, t.Any]:
    """One host before and after the planned moves: free now, in (brought), out (taken away), free after, overfilled.

    A VM leaving frees its memory only when its migration completes, and the plan does not order the moves, so what
    comes in must fit in what is free now: overfilled is judged before anything leaves (as the gate counts room)."""
    free = (memory or {}).get("free_mb")
    incoming = [move for move in moves if move["destination"] == name]
    # an off or saved VM holds no memory here, so its leaving frees none
    outgoing = [move for move in moves if move["source"] == name]
    not_read = [move["vm"] for move in incoming if move["needed_mb"] is None]
    not_read += [move["vm"] for move in outgoing if move["holds"] and move["needed_mb"] is None]
    in_mb = sum(move["needed_mb"] or 0 for move in incoming)
    out_mb = sum(move["needed_mb"] or 0 for move in outgoing if move["holds"])
    peak = None if free is None else free - reserve_mb - in_mb  # free for VMs once the moves in have their memory
    if not incoming:
        overfilled = False
    elif peak is not None and peak < 0:
        overfilled = True  # even without the moves whose memory is not known
    else:
        overfilled = None if peak is None or any(move["needed_mb"] is None for move in incoming) else False
    after = None if free is None or not_read else free - in_mb + out_mb
    return {
        "name": name,
        "in_report": memory is not None,
        "free_mb": free,
        "reserve_mb": reserve_mb,
        "for_vms_mb": None if free is None else free - reserve_mb,
        "in_mb": in_mb,
        "out_mb": out_mb,
        "in_vms": [{"vm": move["vm"], "source": move["source"], "needed_mb": move["needed_mb"]} for move in incoming],
        "out_vms": [{"vm": move["vm"], "destination": move["destination"], "needed_mb": move["needed_mb"],
                     "holds": move["holds"]} for move in outgoing],
        "not_read": not_read,  # VMs whose memory the decisions do not give: after is then not known
        "after_mb": after,
        "after_for_vms_mb": None if after is None else after - reserve_mb,
        "peak_for_vms_mb": peak,
        "overfilled": overfilled,  # None: not known (free memory or a VM's demand not read)
        "over_mb": -peak if overfilled and peak is not None else None,
    }


def plan_report(plan: t.Any, host_details: list[dict[str, t.Any]], reserve_mb: int) -> dict[str, t.Any]:
    """What each host would hold after the planned wave (the gate's decisions), and the VMs of the plan that stay."""
    entries = _plan_entries(plan)
    moves, already, moved, blocked = [], [], [], []
    for entry in entries:
        if not entry["allowed"]:
            blocked.append({key: entry[key] for key in ("vm", "verdict", "source", "destination", "reason")})
        elif entry["destination"] == entry["source"]:
            already.append({"vm": entry["vm"], "host": entry["source"]})
        elif entry["moved"]:  # a move run's decision: done, and the facts may already show it there
            moved.append({"vm": entry["vm"], "source": entry["source"], "destination": entry["destination"]})
        else:
            moves.append({key: entry[key] for key in ("vm", "source", "destination", "state", "needed_mb")}
                         | {"holds": entry["state"] is not None and holds_memory(entry["state"])})
    memory = {info["name"]: info["memory"] for info in host_details}
    others = sorted({host for move in moves for host in (move["source"], move["destination"])} - set(memory))
    hosts = [_plan_host(name, memory.get(name), moves, reserve_mb) for name in [*memory, *others]]
    return {
        "reserve_mb": reserve_mb,
        "vms": len(entries),
        "moves": moves,
        "in_mb": sum(move["needed_mb"] or 0 for move in moves),
        "hosts": hosts,
        "overfilled_hosts": [host["name"] for host in hosts if host["overfilled"]],
        "unknown_hosts": [host["name"] for host in hosts if host["overfilled"] is None],
        "hosts_not_in_report": others,
        "blocked": blocked,
        "already_there": already,
        "moved": moved,
    }


def memory_reserve(value: t.Any, where: str = "memory_reserve_mb") -> int:
    """The reserve, a whole number of MB, 0 or more, or a string of one (as -e and templated variables send it)."""
    number = whole_megabytes(value)
    if number is None:
        raise VectorInputError(f"{where}: must be a whole number of MB, 0 or more, got {_kind(value)} {describe(value)}")
    return number


def fleet_report(fleet: t.Any, plan: t.Any = None, memory_reserve_mb: t.Any = DEFAULT_RESERVE_MB) -> dict[str, t.Any]:
    """Everything the report shows, from {hosts: {name: vectors}, vms: {name: vectors or {vectors, host, state}}}.

    plan: the gate's decisions of a planned wave (migration_gate_decisions), or None; memory_reserve_mb: the memory
    each host keeps for itself, as the gate's setting of that name."""
    reserve_mb = memory_reserve(memory_reserve_mb)
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
    host_details = [_host_info(name, host_entries[name], host_group[name], rows, host_clusters[name], reserve_mb)
                    for name in columns]
    clusters = _clusters(host_clusters, rows, vm_entries, hosts)
    planned = None if plan is None else plan_report(plan, host_details, reserve_mb)
    return {
        "hosts": columns,
        "host_group": host_group,
        "host_details": host_details,
        "vms": rows,
        "blocked": blocked,
        "baseline": describe_vectors(baseline),
        "clusters": clusters,
        "standalone_hosts": sorted(name for name, cluster in host_clusters.items() if cluster is None),
        "memory_reserve_mb": reserve_mb,
        "plan": planned,
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
            # memory: hosts inside their reserve already (less free than they keep), and the planned wave's figures
            "hosts_in_reserve": [info["name"] for info in host_details
                                 if info["memory"]["for_vms_mb"] is not None and info["memory"]["for_vms_mb"] < 0],
            "planned_moves": None if planned is None else len(planned["moves"]),
            "hosts_overfilled": [] if planned is None else planned["overfilled_hosts"],
        },
    }
