"""Vector lists that are enormous or nested thousands deep, given to the filters as Ansible loads them.

Each gets a verdict or a clear error naming the field and where it is; never a crash, and never a RecursionError.
"""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible.plugins.loader import filter_loader

N = 100_000  # vectors in one list
DEPTH = 10_000  # levels of nesting


def ansible_filter(name: str):
    return filter_loader.get(f"vmgate.hyperv.{name}").j2_function


def vectors(count: int, value: int = 1) -> list[dict]:
    return [{"vector_id": index, "compare_operation": 2, "compatibility_info": value} for index in range(1, count + 1)]


def nested(depth: int, kind: type):
    """[[[...]]] or {'x': {'x': ...}}, `depth` levels, built without recursion."""
    top = current = kind()
    for _level in range(depth):
        inner = kind()
        if kind is list:
            current.append(inner)
        else:
            current["x"] = inner
        current = inner
    return top


def test_enormous_lists_get_an_exact_verdict():
    vm, host = vectors(N), vectors(N, value=3)
    assert ansible_filter("vm_compatible")(vm, host) is True
    host[-1]["compatibility_info"] = 0  # the last of 100,000 vectors fails
    report = ansible_filter("compat_report")(vm, host)
    assert report["compatible"] is False and [reason["vector_id"] for reason in report["reasons"]] == [N]
    ranking = ansible_filter("rank_hosts")(vm, {"hv01": host, "hv02": vectors(N)})
    assert [(entry["host"], entry["compatible"]) for entry in ranking] == [("hv02", True), ("hv01", False)]
    assert ansible_filter("compat_baseline")([host, vectors(N, value=7)])[-1] == {
        "vector_id": N, "compare_operation": 2, "compatibility_info": 0}


def test_one_bad_entry_among_enormous_lists_is_named_by_its_position():
    vm = vectors(N)
    vm[N - 1]["compatibility_info"] = "-1"
    with pytest.raises(AnsibleFilterError, match=r"vm_vectors\[99999\]\.compatibility_info: '-1' is not a non-negative decimal integer"):
        ansible_filter("compat_report")(vm, vectors(3))
    vm[N - 1] = {"vector_id": 1, "compare_operation": 2, "compatibility_info": 1}
    with pytest.raises(AnsibleFilterError, match=r"vm_vectors\[99999\]\.vector_id: 1 appears twice \(first at vm_vectors\[0\]\)"):
        ansible_filter("compat_report")(vm, vectors(3))


@pytest.mark.parametrize("kind", [list, dict], ids=["lists", "dicts"])
@pytest.mark.parametrize("place", ["list", "entry", "value"])
@pytest.mark.parametrize("name", ["compat_report", "vm_compatible", "rank_hosts", "compat_matrix", "compat_baseline"])
def test_deep_nesting_is_a_clear_error(name, place, kind):
    deep = nested(DEPTH, kind)
    good = vectors(3)
    vm = {"list": deep, "entry": [deep], "value": [{"vector_id": 1, "compare_operation": 2, "compatibility_info": deep}]}[place]
    args = {
        "compat_report": (vm, good), "vm_compatible": (good, vm), "rank_hosts": (good, {"hv01": vm}),
        "compat_matrix": ({"web01": vm}, {"hv01": good}), "compat_baseline": ([good, vm],),
    }[name]
    with pytest.raises(AnsibleFilterError) as raised:
        ansible_filter(name)(*args)
    message = str(raised.value)
    assert "expected" in message or "is a" in message or "missing" in message, message
    assert len(message) < 400, message  # the value is shown cut short, not 10,000 levels of brackets


def test_deep_nesting_in_place_of_the_host_mapping():
    with pytest.raises(AnsibleFilterError, match="expected a mapping of name to vector list"):
        ansible_filter("rank_hosts")(vectors(3), nested(DEPTH, list))


@pytest.mark.parametrize("value, said", [(10**5000, "16610-bit integer> is larger than the maximum"),
                                         (-(10**5000), "negative 16610-bit integer> is negative"),
                                         ("9" * 100_000, "is larger than the maximum"),
                                         (float("inf"), "inf is a float")],
                         ids=["5001-digits", "negative-5001-digits", "100000-digit-string", "infinity"])
def test_values_too_large_to_print_are_described(value, said):
    entry = {"vector_id": 1, "compare_operation": 2, "compatibility_info": value}
    with pytest.raises(AnsibleFilterError, match=said):
        ansible_filter("compat_report")([entry], vectors(3))
