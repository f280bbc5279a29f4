# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""compat_baseline(): sound always, exact as specified, with the one documented Multiple corner."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.baseline import compat_baseline
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.compat import report
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.vectors import (
    UINT32_MAX,
    UINT64_MAX,
    Vector,
    VectorInputError,
    parse_profile,
)
from ansible_collections.vmgate.hyperv.tests.unit.plugins.plugin_utils.helpers import (
    DETERMINISTIC,
    DISJOINT,
    DIVISIBLE,
    EQUAL,
    GREATER,
    GREATER_EQUAL,
    LARGE_PRIMES,
    LESS,
    LESS_EQUAL,
    MULTIPLE,
    OPERATION_NAMES,
    SUBSET,
    SUPERSET,
    as_text,
    canonical,
    junk,
    junk_named_lists,
    known_operations,
    neighbours,
    operations,
    uint64s,
    vec,
    vector_ids,
    vector_lists,
    wmi,
)

# A group whose lcm overflows 64 bits: the documented corner of Multiple.
OVERFLOWING = (2**63, 3)


def compatible(vm, host):
    return report(vm, host)["compatible"]


def host_value(host, vector_id):
    return next((canonical(e)["compatibility_info"] for e in host if canonical(e)["vector_id"] == vector_id), None)


def is_documented_multiple_corner(reason, hosts):
    """A VM value of 0 under Multiple, against a baseline 0 standing for an lcm beyond 64 bits."""
    if (reason["operation"], reason["vm_value"], reason["host_value"]) != ("Multiple", 0, 0):
        return False
    values = [host_value(host, reason["vector_id"]) for host in hosts]
    return None not in values and 0 not in values and math.lcm(*values) > UINT64_MAX


def assert_sound_and_exact(vm, hosts, baseline):
    """compatible(vm, B) == compatible with every host, except the documented Multiple corner."""
    on_every_host = all(compatible(vm, host) for host in hosts)
    on_baseline = report(vm, baseline)
    if on_baseline["compatible"]:
        assert on_every_host, "unsound: compatible with the baseline but not with every host"
    elif on_every_host:
        assert on_baseline["reasons"], on_baseline
        for reason in on_baseline["reasons"]:
            assert is_documented_multiple_corner(reason, hosts), f"inexact: {reason}"


def baseline_of(*host_values, operation, vector_id=7):
    return compat_baseline([[vec(vector_id, operation, value)] for value in host_values])


# --- the combination per operation --------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "values", "expected"),
    [
        pytest.param(EQUAL, (5, 5, 5), 5, id="equal-agree"),
        pytest.param(EQUAL, (5, 6), None, id="equal-disagree"),
        pytest.param(SUPERSET, (0b0001, 0b0100, 0b0101), 0b0101, id="superset-or"),
        pytest.param(SUBSET, (0b0111, 0b1101, 0b0101), 0b0101, id="subset-and"),
        pytest.param(SUBSET, (0b0011, 0b1100), 0, id="subset-and-empty"),
        pytest.param(DISJOINT, (0b0001, 0b1000), 0b1001, id="disjoint-or"),
        pytest.param(GREATER, (3, 9, 4), 9, id="greater-max"),
        pytest.param(GREATER_EQUAL, (0, UINT64_MAX), UINT64_MAX, id="greater-equal-max"),
        pytest.param(LESS, (3, 9, 4), 3, id="less-min"),
        pytest.param(LESS_EQUAL, (UINT64_MAX, 0), 0, id="less-equal-min"),
        pytest.param(MULTIPLE, (4, 6), 12, id="multiple-lcm"),
        pytest.param(MULTIPLE, (4, 0), 0, id="multiple-with-zero-host"),
        pytest.param(MULTIPLE, OVERFLOWING, 0, id="multiple-lcm-overflow"),
        pytest.param(MULTIPLE, (3 * 5 * 17 * 257, 641 * 65537 * 6700417), UINT64_MAX, id="multiple-lcm-exactly-max"),
        pytest.param(DIVISIBLE, (12, 18), 6, id="divisible-gcd"),
        pytest.param(DIVISIBLE, (0, 18), 18, id="divisible-gcd-with-zero"),
        pytest.param(DIVISIBLE, (0, 0), 0, id="divisible-all-zero"),
    ],
)
def test_combined_value_per_operation(operation, values, expected):
    baseline = baseline_of(*values, operation=operation)
    assert baseline == ([] if expected is None else [vec(7, operation, expected)])


@pytest.mark.parametrize(
    ("hosts", "expected_ids"),
    [
        pytest.param([[vec(1, SUBSET, 3), vec(2, SUBSET, 1)], [vec(1, SUBSET, 1)]], [1], id="id-missing-on-a-host"),
        pytest.param([[vec(1, SUBSET, 3), vec(2, SUBSET, 1)], [vec(1, SUBSET, 1), vec(2, SUPERSET, 1)]], [1],
                     id="operations-differ"),
        pytest.param([[vec(1, SUBSET, 3), vec(2, 10, 1)], [vec(1, SUBSET, 1), vec(2, 10, 1)]], [1], id="unknown-op"),
        pytest.param([[vec(1, SUBSET, 3), vec(2, UINT32_MAX, 1)]], [1], id="unknown-op-single-host"),
        pytest.param([[vec(1, SUBSET, 3), vec(2, EQUAL, 1)], [vec(1, SUBSET, 1), vec(2, EQUAL, 2)]], [1],
                     id="equal-disagrees"),
        pytest.param([[vec(1, SUBSET, 3)], []], [], id="a-host-without-vectors"),
    ],
)
def test_ids_the_baseline_leaves_out(hosts, expected_ids):
    assert [entry["vector_id"] for entry in compat_baseline(hosts)] == expected_ids


@pytest.mark.parametrize(
    ("hosts", "vm", "documented_corner"),
    [
        pytest.param([[vec(1, MULTIPLE, value)] for value in OVERFLOWING], [vec(1, MULTIPLE, 0)], True, id="2^63-and-3"),
        pytest.param([[vec(1, MULTIPLE, p)] for p in LARGE_PRIMES], [vec(1, MULTIPLE, 0)], True, id="large-primes"),
        pytest.param([[vec(1, MULTIPLE, value)] for value in OVERFLOWING], [vec(1, MULTIPLE, 2**63)], False,
                     id="nonzero-vm-fails-everywhere"),
    ],
)
def test_lcm_overflow_is_the_documented_exception(hosts, vm, documented_corner):
    baseline = compat_baseline(hosts)
    assert baseline == [vec(1, MULTIPLE, 0)]
    assert all(compatible(vm, host) for host in hosts) is documented_corner
    result = report(vm, baseline)
    assert result["compatible"] is False
    assert all(is_documented_multiple_corner(reason, hosts) for reason in result["reasons"]) is documented_corner
    assert_sound_and_exact(vm, hosts, baseline)


def test_lcm_exactly_uint64_max_is_kept_exact():
    hosts = [[vec(1, MULTIPLE, 3 * 5 * 17 * 257)], [vec(1, MULTIPLE, 641 * 65537 * 6700417)]]
    baseline = compat_baseline(hosts)
    for vm_value in (0, UINT64_MAX, UINT64_MAX - 1, 3 * 5 * 17 * 257):
        vm = [vec(1, MULTIPLE, vm_value)]
        assert compatible(vm, baseline) is all(compatible(vm, host) for host in hosts)


# --- input forms and errors --------------------------------------------------------------------

HOSTS = {
    "hv01": [vec(1, SUBSET, 0b0111), vec(3, EQUAL, 64), vec(4, LESS_EQUAL, 10)],
    "hv02": [wmi(4, LESS_EQUAL, 8), wmi(3, EQUAL, 64), wmi(1, SUBSET, 0b1101)],
    "hv03": [as_text(vec(1, SUBSET, 0b0101)), as_text(vec(4, LESS_EQUAL, 9)), as_text(vec(3, EQUAL, 64))],
}
EXPECTED = [vec(1, SUBSET, 0b0101), vec(3, EQUAL, 64), vec(4, LESS_EQUAL, 8)]


@pytest.mark.parametrize(
    "hosts",
    [HOSTS, list(HOSTS.values()), tuple(HOSTS.values()), list(reversed(HOSTS.values()))],
    ids=["mapping", "list", "tuple", "reversed"],
)
def test_input_forms_give_the_same_baseline(hosts):
    assert compat_baseline(hosts) == EXPECTED


@pytest.mark.parametrize(
    ("hosts", "fragments"),
    [
        pytest.param([], ["host_vector_lists", "empty"], id="empty-list"),
        pytest.param({}, ["host_vector_lists", "empty"], id="empty-mapping"),
        pytest.param(None, ["host_vector_lists", "NoneType"], id="none"),
        pytest.param("hv01", ["host_vector_lists", "str"], id="str"),
        pytest.param(b"hv01", ["host_vector_lists", "bytes"], id="bytes"),
        pytest.param(5, ["host_vector_lists", "int"], id="int"),
        pytest.param([[vec(1, 0, 1)], None], ["host_vector_lists[1]", "null"], id="null-host"),
        pytest.param([[vec(1, 0, 1)], [vec(1, 0, "1.5")]], ["host_vector_lists[1][0].compatibility_info", "'1.5'"],
                     id="bad-value"),
        pytest.param({"hv01": [vec(1, 0, 1), vec(1, 2, 1)]}, ["host_vector_lists['hv01'][1]", "[0]"], id="duplicate"),
        pytest.param({"hv01": [], 7: []}, ["host_vector_lists", "7"], id="int-name"),
        pytest.param([vec(1, 0, 1)], ["host_vector_lists[0]", "dict"], id="one-host-not-wrapped"),
    ],
)
def test_malformed_input_raises(hosts, fragments):
    with pytest.raises(VectorInputError) as caught:
        compat_baseline(hosts)
    for fragment in fragments:
        assert fragment in str(caught.value)


# --- properties --------------------------------------------------------------------------------


@st.composite
def groups(draw, consistent_operations=True):
    """(hosts, vm): hosts as vector lists, usually sharing every id; the VM's operation on each
    id is the one the hosts report for it (one of theirs, when they disagree)."""
    ids = draw(st.lists(vector_ids, min_size=1, max_size=3, unique=True))
    operation_of = {vector_id: draw(operations) for vector_id in ids}
    hosts = []
    for _host in range(draw(st.integers(1, 4))):
        host = []
        for vector_id in ids:
            if draw(st.integers(0, 7)) == 0:
                continue  # this host lacks the id
            same = consistent_operations or draw(st.booleans())
            host.append(vec(vector_id, operation_of[vector_id] if same else draw(operations), draw(uint64s)))
        hosts.append(host)
    vm = []
    for vector_id in ids + [50]:
        if not draw(st.booleans()):
            continue
        reported = [canonical(e) for host in hosts for e in host if e["vector_id"] == vector_id]
        reported_operations = sorted({e["compare_operation"] for e in reported})
        operation = draw(st.sampled_from(reported_operations) if reported else operations)
        values = [e["compatibility_info"] for e in reported]
        value = draw(st.sampled_from(neighbours(values)) if values else uint64s)
        vm.append(vec(vector_id, operation, value))
    return hosts, vm


CORNER = ([[vec(1, MULTIPLE, 2**63), vec(2, SUBSET, 3)], [vec(1, MULTIPLE, 3), vec(2, SUBSET, 7)]],
          [vec(1, MULTIPLE, 0), vec(2, SUBSET, 1)])


@given(group=groups(consistent_operations=False))
@example(group=CORNER)
@settings(DETERMINISTIC, max_examples=400)
def test_baseline_is_sound(group):
    hosts, vm = group
    baseline = compat_baseline(hosts)
    if compatible(vm, baseline):
        assert all(compatible(vm, host) for host in hosts)


@given(group=groups())
@example(group=CORNER)
@settings(DETERMINISTIC, max_examples=400)
def test_baseline_is_exact_when_hosts_agree_on_operations(group):
    hosts, vm = group
    assert_sound_and_exact(vm, hosts, compat_baseline(hosts))


@pytest.mark.parametrize("operation", range(10), ids=OPERATION_NAMES)
@given(data=st.data())
@settings(DETERMINISTIC, max_examples=120)
def test_baseline_is_exact_per_operation(operation, data):
    values = data.draw(st.lists(uint64s, min_size=1, max_size=4), label="host values")
    vm_value = data.draw(st.one_of(st.sampled_from(neighbours(values)), uint64s), label="vm value")
    hosts = [[vec(7, operation, value)] for value in values]
    vm = [vec(7, operation, vm_value)]
    assert_sound_and_exact(vm, hosts, compat_baseline(hosts))


@given(host=vector_lists(min_size=1))
@settings(DETERMINISTIC, max_examples=150)
def test_baseline_of_one_host_is_that_host_without_unknown_operations(host):
    expected = sorted(
        (canonical(entry) for entry in host if canonical(entry)["compare_operation"] < 10),
        key=lambda entry: entry["vector_id"],
    )
    assert compat_baseline([host]) == expected


@given(group=groups(consistent_operations=False), data=st.data())
@settings(DETERMINISTIC, max_examples=150)
def test_baseline_is_idempotent_and_order_free(group, data):
    hosts = group[0]
    baseline = compat_baseline(hosts)
    assert compat_baseline([baseline]) == baseline
    assert compat_baseline(hosts + [baseline]) == baseline
    assert compat_baseline(data.draw(st.permutations(hosts))) == baseline
    assert compat_baseline({f"hv{index}": host for index, host in enumerate(hosts)}) == baseline


@given(values=st.lists(uint64s, min_size=1, max_size=4), operation=known_operations)
@settings(DETERMINISTIC, max_examples=150)
def test_baseline_value_lies_within_uint64(values, operation):
    for entry in baseline_of(*values, operation=operation):
        assert parse_profile([entry], "baseline") == (Vector(7, operation, entry["compatibility_info"]),)


# --- fuzz --------------------------------------------------------------------------------------


@given(hosts=st.one_of(junk_named_lists, st.lists(st.one_of(vector_lists(), junk), max_size=4)))
@settings(DETERMINISTIC, max_examples=250)
def test_baseline_on_junk_raises_input_error_or_returns_a_vector_list(hosts):
    try:
        baseline = compat_baseline(hosts)
    except VectorInputError as exc:
        assert str(exc).startswith("host_vector_lists")
        return
    assert isinstance(baseline, list)
    for entry in baseline:
        assert set(entry) == {"vector_id", "compare_operation", "compatibility_info"}
        assert entry["compare_operation"] < 10
    assert [Vector(**entry) for entry in baseline] == list(parse_profile(baseline, "baseline"))
