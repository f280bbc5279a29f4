# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rank_hosts() and compat_matrix(): order, ties, shared profiles, and agreement with report()."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.compat import report
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.ranking import compat_matrix, rank_hosts
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.vectors import VectorInputError
from ansible_collections.vmgate.hyperv.tests.unit.plugins.plugin_utils.helpers import (
    DETERMINISTIC,
    DISJOINT,
    EQUAL,
    GREATER_EQUAL,
    SUBSET,
    SUPERSET,
    as_text,
    assert_well_formed_reason,
    canonical,
    junk_named_lists,
    junk_vector_lists,
    vec,
    vector_lists,
    wmi,
)

ENTRY_KEYS = {"host", "compatible", "reasons", "surplus_bits"}


def order(ranking):
    return [entry["host"] for entry in ranking]


def expected_sort_key(entry):
    """The documented order, written out independently of ranking._sort_key."""
    if entry["compatible"]:
        return (0, entry["surplus_bits"], entry["host"])
    return (1, len(entry["reasons"]), entry["host"])


def assert_consistent_ranking(ranking, vm, hosts):
    """One entry per host, each agreeing with report(), in the documented order."""
    assert sorted(order(ranking)) == sorted(hosts)
    for entry in ranking:
        assert set(entry) == ENTRY_KEYS
        expected = report(vm, hosts[entry["host"]])
        assert entry["compatible"] is expected["compatible"]
        assert entry["reasons"] == expected["reasons"]
        assert isinstance(entry["surplus_bits"], int) and entry["surplus_bits"] >= 0
        for reason in entry["reasons"]:
            assert_well_formed_reason(reason)
    assert ranking == sorted(ranking, key=expected_sort_key)


# --- order -------------------------------------------------------------------------------------

VM = [vec(1, SUBSET, 0b0011), vec(3, EQUAL, 64)]


def host(features, cache=64):
    return [vec(1, SUBSET, features), vec(3, EQUAL, cache)]


def test_compatible_first_by_fewest_surplus_bits_then_incompatible_by_fewest_reasons():
    hosts = {
        "exact": host(0b0011),  # compatible, surplus 0
        "newest": host(0b1111_0011),  # compatible, surplus 4
        "newer": host(0b0111),  # compatible, surplus 1
        "older": host(0b0001),  # 1 reason
        "both-wrong": host(0b0001, cache=32),  # 2 reasons
        "cache": host(0b0011, cache=128),  # 1 reason
        "empty": [],  # 2 reasons (both ids missing)
    }
    ranking = rank_hosts(VM, hosts)
    assert order(ranking) == ["exact", "newer", "newest", "cache", "older", "both-wrong", "empty"]
    assert [entry["surplus_bits"] for entry in ranking[:3]] == [0, 1, 4]
    assert [entry["compatible"] for entry in ranking] == [True] * 3 + [False] * 4
    assert [len(entry["reasons"]) for entry in ranking] == [0, 0, 0, 1, 1, 2, 2]
    assert_consistent_ranking(ranking, VM, hosts)


def test_fewer_surplus_bits_beats_name_and_compatible_beats_everything():
    hosts = {"a-incompatible": host(0), "b-wide": host(2**64 - 1), "c-narrow": host(0b0011)}
    assert order(rank_hosts(VM, hosts)) == ["c-narrow", "b-wide", "a-incompatible"]


def test_surplus_counts_only_subset_vectors():
    # Only the Subset vector counts: 0b0111 offers two bits the VM does not use. The Disjoint,
    # Superset and GreaterThanOrEqual hosts' values would add bits if they were counted.
    vm = [vec(1, SUBSET, 0b0001), vec(2, SUPERSET, 0b1111), vec(4, GREATER_EQUAL, 10), vec(5, DISJOINT, 0b0001)]
    hosts = {"h": [vec(1, SUBSET, 0b0111), vec(2, SUPERSET, 0b0001), vec(4, GREATER_EQUAL, 3), vec(5, DISJOINT, 0b1110)]}
    (entry,) = rank_hosts(vm, hosts)
    assert entry["compatible"] is True
    assert entry["surplus_bits"] == 2


@pytest.mark.parametrize(
    "names",
    [
        ["hv03", "hv01", "hv02"],
        ["b", "a", "C", "_", "10", "9"],
        ["\u00e9", "e", "z"],
    ],
)
@pytest.mark.parametrize("features", [0b0011, 0b0001], ids=["compatible", "incompatible"])
def test_ties_are_broken_by_host_name(names, features):
    hosts = {name: host(features) for name in names}
    assert order(rank_hosts(VM, hosts)) == sorted(names)


def test_identical_profile_hosts_get_identical_verdicts_in_any_spelling():
    spellings = {
        "hv-snake": host(0b0111),
        "hv-wmi": [wmi(3, EQUAL, 64), wmi(1, SUBSET, 0b0111)],
        "hv-text": [as_text(entry) for entry in host(0b0111)],
        "hv-mixed": [as_text(wmi(1, SUBSET, 0b0111)), vec(3, EQUAL, 64)],
    }
    for vm in (VM, [vec(1, SUBSET, 0b1000)]):
        ranking = rank_hosts(vm, spellings)
        assert order(ranking) == sorted(spellings)
        first = {key: value for key, value in ranking[0].items() if key != "host"}
        for entry in ranking[1:]:
            assert {key: value for key, value in entry.items() if key != "host"} == first


def test_vm_without_vectors_is_incompatible_everywhere():
    ranking = rank_hosts([], {"b": host(1), "a": []})
    assert order(ranking) == ["a", "b"]
    assert all(not entry["compatible"] and entry["reasons"][0]["kind"] == "no_vm_vectors" for entry in ranking)


def test_no_hosts_ranks_nothing():
    assert rank_hosts(VM, {}) == []


@pytest.mark.parametrize(
    ("vm", "hosts", "fragments"),
    [
        pytest.param(VM, [host(1)], ["hosts", "list"], id="hosts-list"),
        pytest.param(VM, None, ["hosts"], id="hosts-none"),
        pytest.param(VM, {1: host(1)}, ["hosts", "1"], id="int-name"),
        pytest.param(VM, {"hv01": host(1), None: host(1)}, ["hosts", "None"], id="none-name"),
        pytest.param(VM, {"hv01": [vec(1, SUBSET, -1)]}, ["hosts['hv01'][0].compatibility_info", "-1"], id="bad-host"),
        pytest.param(VM, {"hv01": "x"}, ["hosts['hv01']", "str"], id="host-str"),
        pytest.param([vec(1, 0, 1), vec(1, 0, 1)], {}, ["vm_vectors[1]", "vm_vectors[0]"], id="vm-dup"),
        pytest.param({"vm": VM}, {}, ["vm_vectors", "dict"], id="vm-mapping"),
    ],
)
def test_rank_hosts_malformed(vm, hosts, fragments):
    with pytest.raises(VectorInputError) as caught:
        rank_hosts(vm, hosts)
    for fragment in fragments:
        assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("vms", "hosts", "fragments"),
    [
        pytest.param([VM], {}, ["vms", "list"], id="vms-list"),
        pytest.param({3: VM}, {}, ["vms", "3"], id="vms-int-name"),
        pytest.param({"vm1": VM, "vm2": [vec(1, 0, 1.5)]}, {}, ["vms['vm2'][0].compatibility_info", "1.5"], id="vm-value"),
        pytest.param({"vm1": VM}, {"hv01": None}, ["hosts['hv01']", "null"], id="host-none"),
        pytest.param({"vm1": VM}, "hv01", ["hosts", "str"], id="hosts-str"),
    ],
)
def test_compat_matrix_malformed(vms, hosts, fragments):
    with pytest.raises(VectorInputError) as caught:
        compat_matrix(vms, hosts)
    for fragment in fragments:
        assert fragment in str(caught.value)


# --- compat_matrix -----------------------------------------------------------------------------


@st.composite
def fleets(draw):
    """VMs and hosts drawn from a small pool of profiles, so profiles repeat (sometimes in
    another spelling: other key names, text values, another order)."""
    pool = draw(st.lists(vector_lists(max_size=3), min_size=1, max_size=3))

    def respelled(vectors):
        shuffled = draw(st.permutations(vectors))
        return [as_text(entry) if draw(st.booleans()) else entry for entry in shuffled]

    def named(prefix, max_size):
        names = draw(st.lists(st.text("abc", min_size=1, max_size=2), max_size=max_size, unique=True))
        return {prefix + name: respelled(draw(st.sampled_from(pool))) for name in names}

    return named("vm-", 5), named("hv-", 6)


@given(fleet=fleets())
@settings(DETERMINISTIC, max_examples=150)
def test_compat_matrix_equals_rank_hosts_per_vm(fleet):
    vms, hosts = fleet
    matrix = compat_matrix(vms, hosts)
    assert list(matrix) == list(vms)
    for name, vm in vms.items():
        assert matrix[name] == rank_hosts(vm, hosts)
        assert_consistent_ranking(matrix[name], vm, hosts)


def test_compat_matrix_gives_each_vm_its_own_list():
    vms = {"vm1": VM, "vm2": list(reversed(VM)), "vm3": [as_text(e) for e in VM]}
    hosts = {"hv01": host(0b0011), "hv02": host(0b0001)}
    matrix = compat_matrix(vms, hosts)
    lists = list(matrix.values())
    assert all(ranking == lists[0] for ranking in lists)
    assert len({id(ranking) for ranking in lists}) == len(lists)
    matrix["vm1"].reverse()
    matrix["vm2"].clear()
    assert order(matrix["vm3"]) == ["hv01", "hv02"]


def test_compat_matrix_of_no_vms_or_no_hosts():
    assert compat_matrix({}, {"hv01": host(1)}) == {}
    assert compat_matrix({"vm1": VM}, {}) == {"vm1": []}


# --- fuzz --------------------------------------------------------------------------------------


@given(vm=junk_vector_lists, hosts=junk_named_lists)
@settings(DETERMINISTIC, max_examples=250)
def test_rank_hosts_on_junk_raises_input_error_or_ranks_soundly(vm, hosts):
    try:
        ranking = rank_hosts(vm, hosts)
    except VectorInputError:
        return
    assert_consistent_ranking(ranking, vm, hosts)
    vm_ids = {canonical(entry)["vector_id"] for entry in vm}
    for entry in ranking:
        host_ids = {canonical(e)["vector_id"] for e in hosts[entry["host"]]}
        if not vm_ids or vm_ids - host_ids:
            assert entry["compatible"] is False
