# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared helpers for the engine's unit tests: vector builders, the spec oracle, strategies."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.vectors import (
    UINT32_MAX,
    UINT64_MAX,
)

# Deterministic Hypothesis runs: the same examples on every machine, no example database, no
# per-example deadline (CI machines are slow and shared). Tests pass max_examples on top.
DETERMINISTIC = settings(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SNAKE = ("vector_id", "compare_operation", "compatibility_info")
WMI = ("VectorId", "CompareOperation", "CompatibilityInfo")

EQUAL, SUPERSET, SUBSET, DISJOINT = 0, 1, 2, 3
GREATER, GREATER_EQUAL, LESS, LESS_EQUAL, MULTIPLE, DIVISIBLE = 4, 5, 6, 7, 8, 9
OPERATION_NAMES = (
    "Equal", "Superset", "Subset", "Disjoint", "GreaterThan", "GreaterThanOrEqual",
    "LessThan", "LessThanOrEqual", "Multiple", "Divisible",
)
MASK_OPERATIONS = (SUPERSET, SUBSET, DISJOINT)


def vec(vector_id, operation, value, keys=SNAKE):
    """One vector entry as facts give it (keys=WMI for the ConvertTo-Json spelling)."""
    return dict(zip(keys, (vector_id, operation, value)))


def wmi(vector_id, operation, value):
    return vec(vector_id, operation, value, keys=WMI)


def as_text(entry):
    """The WS-Management form of an entry: every value a decimal string."""
    return {key: str(value) for key, value in entry.items()}


# The specification's table, written independently of compat.OPERATIONS. VM value on the left;
# the modulo operations fail closed on a zero divisor.
SPEC = {
    EQUAL: lambda vm, host: vm == host,
    SUPERSET: lambda vm, host: (vm & host) == host,
    SUBSET: lambda vm, host: (vm & host) == vm,
    DISJOINT: lambda vm, host: (vm & host) == 0,
    GREATER: lambda vm, host: vm > host,
    GREATER_EQUAL: lambda vm, host: vm >= host,
    LESS: lambda vm, host: vm < host,
    LESS_EQUAL: lambda vm, host: vm <= host,
    MULTIPLE: lambda vm, host: host != 0 and vm % host == 0,
    DIVISIBLE: lambda vm, host: vm != 0 and host % vm == 0,
}


def spec_compatible(vm_entries, host_entries):
    """The specification's verdict for well-formed snake_case entries (int values)."""
    if not vm_entries:
        return False
    host = {entry["vector_id"]: entry["compatibility_info"] for entry in host_entries}
    for entry in vm_entries:
        vector_id, operation, value = (entry[key] for key in SNAKE)
        if vector_id not in host or operation not in SPEC:
            return False
        if not SPEC[operation](value, host[vector_id]):
            return False
    return True


# Large coprime values: the lcm of two or three of them overflows 64 bits.
LARGE_PRIMES = (4294967291, 4294967279, 18446744073709551557)
EXTREMES = (0, 1, 2, 3, 0xFF, 2**31, UINT32_MAX, 2**32, 2**63, UINT64_MAX - 1, UINT64_MAX) + LARGE_PRIMES

# Values that make bit-mask and ordering comparisons interesting: small widths (many overlaps,
# equalities and divisibilities), mixed with the extremes and the whole uint64 range.
uint64s = st.one_of(
    st.integers(0, 15),
    st.sampled_from(EXTREMES),
    st.integers(0, 255),
    st.integers(0, UINT64_MAX),
)
known_operations = st.integers(0, 9)
operations = st.one_of(known_operations, st.sampled_from((10, 11, UINT32_MAX)))
vector_ids = st.integers(1, 6)


def neighbours(values):
    """VM values worth comparing with a group of host values: each of them, one off either
    side, their OR, AND, min, max, lcm and gcd (and near multiples and divisors of those)."""
    values = list(values)
    candidates = {0, 1, 2, UINT64_MAX}
    for value in values:
        candidates.update((value, value - 1, value + 1, value * 2, value // 2))
    joined, common = 0, UINT64_MAX
    for value in values:
        joined |= value
        common &= value
    lcm, gcd = math.lcm(*values), math.gcd(*values)
    candidates.update((joined, common, joined | 1, common & ~1, lcm, 2 * lcm, 3 * lcm, gcd))
    candidates.update(divisor for divisor in range(1, 17) if gcd % divisor == 0)
    return sorted(value for value in candidates if 0 <= value <= UINT64_MAX)


@st.composite
def entries(draw, vector_id=vector_ids, operation=operations, value=uint64s):
    """A valid entry in any spelling: snake or WMI keys, int or decimal-string values."""
    entry = vec(draw(vector_id), draw(operation), draw(value), keys=draw(st.sampled_from((SNAKE, WMI))))
    return as_text(entry) if draw(st.booleans()) else entry


@st.composite
def vector_lists(draw, min_size=0, max_size=4):
    """A valid vector list (unique ids), in mixed spellings."""
    ids = draw(st.lists(vector_ids, min_size=min_size, max_size=max_size, unique=True))
    return [draw(entries(vector_id=st.just(vector_id))) for vector_id in ids]


def canonical(entry):
    """An entry of any spelling as a snake_case dict of ints."""
    return {snake: int(entry[snake] if snake in entry else entry[name]) for snake, name in zip(SNAKE, WMI)}


# Junk: anything a playbook could hand the filters, with enough near-valid structure that some
# of it parses. Every field value may be valid, out of range or of the wrong type.
_junk_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(("", "007", "-1", "1.5", "0x10", " 5", "\u0663", "1e3", str(UINT64_MAX), str(UINT64_MAX + 1))),
    st.binary(max_size=4),
)
_field_values = st.one_of(uint64s, operations, _junk_scalars)
_junk_entries = st.dictionaries(
    st.sampled_from(SNAKE + WMI + ("other",)), _field_values, max_size=7
)
junk = st.recursive(
    st.one_of(_junk_scalars, _junk_entries, entries()),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=4), st.integers(0, 3)), children, max_size=3),
    ),
    max_leaves=12,
)
# A vector list: usually a list of (mostly valid) entries, sometimes anything at all.
junk_vector_lists = st.one_of(
    vector_lists(),
    st.lists(st.one_of(entries(), entries(), _junk_entries, junk), max_size=4),
    junk,
)
junk_named_lists = st.one_of(
    st.dictionaries(st.text(max_size=4), vector_lists(), min_size=1, max_size=3),
    st.dictionaries(st.text(max_size=4), junk_vector_lists, max_size=3),
    st.dictionaries(st.one_of(st.text(max_size=4), st.integers(0, 3), st.none()), junk_vector_lists, max_size=3),
    junk,
)

REASON_KEYS = {"vector_id", "name", "operation", "vm_value", "host_value", "kind", "offending_bits", "message"}
REASON_KINDS = {"mismatch", "missing_host_vector", "unknown_operation", "zero_divisor", "no_vm_vectors"}


def assert_well_formed_reason(reason):
    assert set(reason) == REASON_KEYS
    assert reason["kind"] in REASON_KINDS
    assert isinstance(reason["message"], str) and reason["message"].strip()
    bits = reason["offending_bits"]
    assert bits is None or (isinstance(bits, str) and bits.startswith("0x") and int(bits, 16) > 0)


def assert_well_formed_report(result):
    assert set(result) == {"compatible", "reasons"}
    assert isinstance(result["compatible"], bool)
    assert isinstance(result["reasons"], list)
    assert result["compatible"] == (not result["reasons"])
    for reason in result["reasons"]:
        assert_well_formed_reason(reason)
