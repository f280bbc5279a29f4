# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rank candidate hosts for a VM, and every host for every VM of a fleet.

Order: compatible hosts first, the closest fit first: the host with the fewest surplus
feature bits (bits of the VM's Subset vectors, such as ProcessorFeatures, that the host has
and the VM does not use). Placing a VM on the least capable host that runs it keeps hosts with
newer processors free for the VMs that need them. Incompatible hosts follow, the nearest miss
(fewest failing vectors) first. Ties go by host name, so the order is stable.

Fleets repeat themselves: VMs built from one template, hosts bought in one batch share a
vector profile. Each distinct (VM profile, host profile) pair is evaluated once and each
distinct VM profile is ranked once, which is what makes a 5,000 x 200 matrix cheap.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.compat import (
    SUBSET,
    HostValues,
    check,
    host_values,
)
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.vectors import (
    Profile,
    parse_named_profiles,
    parse_profile,
)

Ranking = list[dict[str, t.Any]]


def surplus_bits(vm: Profile, host: HostValues) -> int:
    """Feature bits the host offers beyond what the VM uses, over the VM's Subset vectors."""
    return sum(
        (host.get(vector.vector_id, 0) & ~vector.compatibility_info).bit_count()
        for vector in vm
        if vector.compare_operation == SUBSET
    )


def ranking_order(entry: dict[str, t.Any]) -> tuple[bool, int, str]:
    """Sort key of a ranking entry (see the module docstring)."""
    if entry["compatible"]:
        return (False, entry["surplus_bits"], entry["host"])
    return (True, len(entry["reasons"]), entry["host"])


class _HostGroups:
    """Hosts grouped by identical profile, so each profile is compared once per VM profile."""

    def __init__(self, hosts: Mapping[str, Profile]):
        groups: dict[Profile, list[str]] = {}
        for name, profile in hosts.items():
            groups.setdefault(profile, []).append(name)
        self.groups = [(host_values(profile), names) for profile, names in groups.items()]

    def rank(self, vm: Profile) -> Ranking:
        entries = []
        for values, names in self.groups:
            reasons = check(vm, values)
            surplus = surplus_bits(vm, values)
            for name in names:
                entries.append(
                    {
                        "host": name,
                        "compatible": not reasons,
                        "reasons": reasons,
                        "surplus_bits": surplus,
                    }
                )
        entries.sort(key=ranking_order)
        return entries


def rank_profiles(vms: Mapping[str, Profile], hosts: Mapping[str, Profile]) -> dict[str, Ranking]:
    """Rank every host for every VM; VMs with the same profile share one evaluation."""
    host_groups = _HostGroups(hosts)
    rankings: dict[Profile, Ranking] = {}
    matrix = {}
    for name, profile in vms.items():
        ranking = rankings.get(profile)
        if ranking is None:
            ranking = rankings[profile] = host_groups.rank(profile)
        # Entries are shared between VMs of one profile; each VM gets its own list.
        matrix[name] = list(ranking)
    return matrix


def rank_hosts(vm_vectors: t.Any, hosts: t.Any) -> Ranking:
    """Parse a VM's vectors and a mapping host name -> vectors, and rank the hosts."""
    vm = parse_profile(vm_vectors, "vm_vectors")
    return _HostGroups(parse_named_profiles(hosts, "hosts")).rank(vm)


def compat_matrix(vms: t.Any, hosts: t.Any) -> dict[str, Ranking]:
    """Parse mappings VM name -> vectors and host name -> vectors; rank hosts for each VM."""
    return rank_profiles(parse_named_profiles(vms, "vms"), parse_named_profiles(hosts, "hosts"))
