# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The compatibility baseline of a group of hosts (what VMware calls an EVC baseline).

The baseline B is one host vector list such that a VM compatible with B is compatible with every
host of the group (sound), and, for the bit-mask, ordering and divisibility operations, a VM
compatible with every host is compatible with B (exact). Per vector id, with the operation the
hosts report for it (Hyper-V gives an id one meaning and one operation):

Both hold for VM vectors that use that same operation, as Hyper-V's do. A VM vector with another
operation for the id is judged against B with its own operation (the VM's operation governs), and
B, combined for the hosts' operation, does not stand for every host then: with hosts Superset 1 and
Superset 0, B is 1, and a VM vector Equal 1 passes B but not the second host.

  Superset, Disjoint: OR of the hosts' values     Subset: AND
  GreaterThan(OrEqual): the largest value          LessThan(OrEqual): the smallest
  Multiple: least common multiple                  Divisible: greatest common divisor
  Equal: the value when all hosts agree

An id is left out of B, so a VM that carries it fails closed against B, when a host lacks it
(such a VM fails on that host anyway), when the hosts disagree on its operation or on an Equal
value, or when the operation is unknown. Multiple is exact unless the least common multiple
exceeds 64 bits: then B holds 0, which no VM passes, although a VM value of 0 passes every host.
"""

from __future__ import annotations

import functools
import math
import operator
import typing as t
from collections.abc import Mapping, Sequence

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.compat import (
    DISJOINT,
    DIVISIBLE,
    EQUAL,
    GREATER,
    GREATER_EQUAL,
    LESS,
    LESS_EQUAL,
    MULTIPLE,
    SUBSET,
    SUPERSET,
)
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.vectors import (
    UINT64_MAX,
    Profile,
    Vector,
    VectorInputError,
    describe,
    parse_named_profiles,
    parse_profile,
)


def _lcm_or_zero(values: list[int]) -> int:
    if 0 in values:
        return 0  # Multiple of 0 fails closed on that host, so on the baseline too
    lcm = math.lcm(*values)
    return lcm if lcm <= UINT64_MAX else 0


def _equal_or_none(values: list[int]) -> int | None:
    return values[0] if len(set(values)) == 1 else None


_COMBINE: dict[int, t.Callable[[list[int]], int | None]] = {
    EQUAL: _equal_or_none,
    SUPERSET: lambda values: functools.reduce(operator.or_, values),
    SUBSET: lambda values: functools.reduce(operator.and_, values),
    DISJOINT: lambda values: functools.reduce(operator.or_, values),
    GREATER: max,
    GREATER_EQUAL: max,
    LESS: min,
    LESS_EQUAL: min,
    MULTIPLE: _lcm_or_zero,
    DIVISIBLE: lambda values: math.gcd(*values),
}


def baseline_profile(hosts: Sequence[Profile]) -> Profile:
    """Combine host profiles into the baseline profile (see the module docstring)."""
    common_ids = set.intersection(*({v.vector_id for v in profile} for profile in hosts))
    by_id: dict[int, list[Vector]] = {vector_id: [] for vector_id in common_ids}
    for profile in hosts:
        for vector in profile:
            if vector.vector_id in by_id:
                by_id[vector.vector_id].append(vector)
    baseline = []
    for vector_id, vectors in sorted(by_id.items()):
        operations = {vector.compare_operation for vector in vectors}
        if len(operations) != 1:
            continue
        operation = operations.pop()
        combine = _COMBINE.get(operation)
        value = combine([v.compatibility_info for v in vectors]) if combine else None
        if value is not None:
            baseline.append(Vector(vector_id, operation, value))
    return tuple(baseline)


def compat_baseline(host_vector_lists: t.Any) -> list[dict[str, int]]:
    """Parse a list of host vector lists (or a mapping name -> list) and return the baseline."""
    where = "host_vector_lists"
    if isinstance(host_vector_lists, Mapping):
        profiles = list(parse_named_profiles(host_vector_lists, where).values())
    elif isinstance(host_vector_lists, Sequence) and not isinstance(host_vector_lists, (str, bytes)):
        profiles = [parse_profile(v, f"{where}[{i}]") for i, v in enumerate(host_vector_lists)]
    else:
        raise VectorInputError(
            f"{where}: expected a list of host vector lists or a mapping of host name to "
            f"vector list, got {type(host_vector_lists).__name__} {describe(host_vector_lists)}"
        )
    if not profiles:
        raise VectorInputError(f"{where}: is empty; a baseline needs at least one host")
    return [vector._asdict() for vector in baseline_profile(profiles)]
