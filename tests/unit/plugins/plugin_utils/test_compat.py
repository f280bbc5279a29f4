# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""report(): the ten operations at their boundaries, failing closed, and the reasons it gives."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.compat import OPERATIONS, format_bits, report
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.vectors import (
    UINT32_MAX,
    UINT64_MAX,
    VectorInputError,
)
from ansible_collections.vmgate.hyperv.tests.unit.plugins.plugin_utils.helpers import (
    DETERMINISTIC,
    DISJOINT,
    DIVISIBLE,
    EQUAL,
    GREATER,
    GREATER_EQUAL,
    LESS,
    LESS_EQUAL,
    MASK_OPERATIONS,
    MULTIPLE,
    OPERATION_NAMES,
    SPEC,
    SUBSET,
    SUPERSET,
    as_text,
    assert_well_formed_report,
    canonical,
    junk_vector_lists,
    known_operations,
    spec_compatible,
    uint64s,
    vec,
    vector_lists,
    wmi,
)

MAX = UINT64_MAX
HINT = "processor compatibility mode"


def verdict(operation, vm_value, host_value, vector_id=7):
    return report([vec(vector_id, operation, vm_value)], [vec(vector_id, operation, host_value)])


def only_reason(result):
    assert result["compatible"] is False
    assert len(result["reasons"]) == 1
    return result["reasons"][0]


# --- the ten operations at their boundaries ----------------------------------------------------

BOUNDARIES = {
    EQUAL: [(5, 5, True), (5, 6, False), (6, 5, False), (0, 0, True), (0, 1, False), (MAX, MAX, True),
            (MAX, MAX - 1, False), (MAX - 1, MAX, False)],
    SUPERSET: [(0b111, 0b101, True), (0b101, 0b111, False), (0, 0, True), (5, 0, True), (0, 1, False),
               (MAX, MAX, True), (MAX, 12345, True), (MAX - 1, MAX, False), (2**63, 2**63 | 1, False)],
    SUBSET: [(0b101, 0b111, True), (0b111, 0b101, False), (0, 0, True), (0, MAX, True), (1, 0, False),
             (MAX, MAX, True), (MAX, MAX - 1, False), (2**63, MAX >> 1, False)],
    DISJOINT: [(0b1010, 0b0101, True), (0b1010, 0b0010, False), (0, 0, True), (0, MAX, True), (MAX, 0, True),
               (MAX, 1, False), (2**63, 2**63, False), (2**63, MAX >> 1, True)],
    GREATER: [(6, 5, True), (5, 5, False), (4, 5, False), (1, 0, True), (0, 0, False), (MAX, MAX - 1, True),
              (MAX, MAX, False), (0, MAX, False)],
    GREATER_EQUAL: [(5, 5, True), (6, 5, True), (4, 5, False), (0, 0, True), (0, 1, False), (MAX, MAX, True),
                    (MAX - 1, MAX, False)],
    LESS: [(4, 5, True), (5, 5, False), (6, 5, False), (0, 1, True), (0, 0, False), (MAX - 1, MAX, True),
           (MAX, MAX, False), (MAX, 0, False)],
    LESS_EQUAL: [(5, 5, True), (4, 5, True), (6, 5, False), (0, 0, True), (1, 0, False), (MAX, MAX, True),
                 (MAX, MAX - 1, False)],
    MULTIPLE: [(12, 4, True), (12, 5, False), (12, 12, True), (12, 24, False), (0, 5, True), (5, 0, False),
               (0, 0, False), (MAX, 1, True), (MAX, MAX, True), (MAX, 2, False), (2**63, 2**62, True),
               (MAX - 1, MAX, False)],
    DIVISIBLE: [(4, 12, True), (5, 12, False), (12, 12, True), (24, 12, False), (5, 0, True), (0, 5, False),
                (0, 0, False), (1, MAX, True), (MAX, MAX, True), (2, MAX, False), (2**62, 2**63, True),
                (MAX, MAX - 1, False)],
}


@pytest.mark.parametrize(
    ("operation", "vm_value", "host_value", "expected"),
    [
        pytest.param(op, vm, host, expected, id=f"{OPERATION_NAMES[op]}-{vm}-{host}")
        for op, cases in BOUNDARIES.items()
        for vm, host, expected in cases
    ],
)
def test_operation_boundaries(operation, vm_value, host_value, expected):
    assert SPEC[operation](vm_value, host_value) is expected  # the table itself follows the spec
    result = verdict(operation, vm_value, host_value)
    assert_well_formed_report(result)
    assert result["compatible"] is expected
    if not expected:
        reason = only_reason(result)
        assert (reason["vector_id"], reason["vm_value"], reason["host_value"]) == (7, vm_value, host_value)
        assert reason["operation"] == OPERATION_NAMES[operation]


def test_operation_table_names_and_order():
    assert [operation.name for operation in OPERATIONS] == list(OPERATION_NAMES)


@given(operation=known_operations, vm_value=uint64s, host_value=uint64s)
@settings(DETERMINISTIC, max_examples=400)
def test_every_operation_follows_the_spec_table(operation, vm_value, host_value):
    assert verdict(operation, vm_value, host_value)["compatible"] is SPEC[operation](vm_value, host_value)


@pytest.mark.parametrize("vm_operation", range(10), ids=OPERATION_NAMES)
def test_the_vm_vectors_operation_governs(vm_operation):
    # The host reports 0b0110 under every other operation; only the VM's operation is applied.
    vm_value = 0b0100
    expected = SPEC[vm_operation](vm_value, 0b0110)
    for host_operation in range(12):
        result = report([vec(3, vm_operation, vm_value)], [vec(3, host_operation, 0b0110)])
        assert result["compatible"] is expected


@given(vm=vector_lists(), host=vector_lists())
@settings(DETERMINISTIC, max_examples=300)
def test_report_matches_the_spec_for_whole_lists(vm, host):
    result = report(vm, host)
    assert_well_formed_report(result)
    canonical_vm = [canonical(entry) for entry in vm]
    assert result["compatible"] is spec_compatible(canonical_vm, [canonical(entry) for entry in host])
    # one reason per failing vector, and only for those
    failing = {
        entry["vector_id"]
        for entry in canonical_vm
        if not spec_compatible([entry], [canonical(h) for h in host])
    }
    if canonical_vm:
        assert {reason["vector_id"] for reason in result["reasons"]} == failing
        assert len(result["reasons"]) == len(failing)


# --- failing closed ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vm", "host", "kind"),
    [
        pytest.param([vec(1, SUBSET, 0)], [vec(2, SUBSET, MAX)], "missing_host_vector", id="missing-subset-0"),
        pytest.param([vec(5, LESS_EQUAL, 0)], [], "missing_host_vector", id="missing-empty-host"),
        pytest.param([vec(9, 10, 0)], [vec(9, 10, 0)], "unknown_operation", id="op-10"),
        pytest.param([vec(9, UINT32_MAX, 5)], [vec(9, EQUAL, 5)], "unknown_operation", id="op-uint32-max"),
        pytest.param([vec(4, MULTIPLE, 0)], [vec(4, MULTIPLE, 0)], "zero_divisor", id="multiple-host-0-vm-0"),
        pytest.param([vec(4, MULTIPLE, 8)], [vec(4, MULTIPLE, 0)], "zero_divisor", id="multiple-host-0"),
        pytest.param([vec(4, DIVISIBLE, 0)], [vec(4, DIVISIBLE, 0)], "zero_divisor", id="divisible-vm-0-host-0"),
        pytest.param([vec(4, DIVISIBLE, 0)], [vec(4, DIVISIBLE, 8)], "zero_divisor", id="divisible-vm-0"),
        pytest.param([], [vec(1, SUBSET, 1)], "no_vm_vectors", id="empty-vm"),
        pytest.param([], [], "no_vm_vectors", id="empty-both"),
        pytest.param([vec(1, SUBSET, 5)], [vec(1, SUBSET, 4)], "mismatch", id="plain-mismatch"),
        pytest.param([vec(4, MULTIPLE, 9)], [vec(4, MULTIPLE, 2)], "mismatch", id="multiple-nonzero-mismatch"),
        pytest.param([vec(4, DIVISIBLE, 2)], [vec(4, DIVISIBLE, 9)], "mismatch", id="divisible-nonzero-mismatch"),
    ],
)
def test_fail_closed_kinds(vm, host, kind):
    result = report(vm, host)
    assert_well_formed_report(result)
    reason = only_reason(result)
    assert reason["kind"] == kind
    assert reason["message"]


def test_unknown_operation_reason_names_the_code():
    reason = only_reason(report([vec(3, 12, 1)], [vec(3, 0, 1)]))
    assert reason["operation"] == "Unknown(12)"
    assert "12" in reason["message"]


def test_missing_host_vector_reason_has_no_host_value():
    reason = only_reason(report([vec(2, SUBSET, 1)], [vec(1, SUBSET, 1)]))
    assert reason["host_value"] is None
    assert reason["vm_value"] == 1
    assert reason["name"] == "ProcessorXSave"


def test_host_vectors_the_vm_lacks_are_ignored():
    host = [vec(1, SUBSET, 0b11), vec(2, EQUAL, 9), vec(99, 10, 0), wmi(3, MULTIPLE, 0)]
    assert report([vec(1, SUBSET, 0b01)], host) == {"compatible": True, "reasons": []}


def test_compatible_when_every_vector_passes():
    vm = [vec(1, SUBSET, 0b0101), vec(2, SUBSET, 0), vec(3, EQUAL, 64), vec(4, GREATER_EQUAL, 10)]
    host = [vec(4, GREATER_EQUAL, 10), vec(3, EQUAL, 64), vec(2, SUBSET, MAX), vec(1, SUBSET, 0b1101)]
    assert report(vm, host) == {"compatible": True, "reasons": []}


def test_key_spellings_and_text_values_give_the_same_report():
    vm = [vec(1, SUBSET, 0b1110), vec(3, EQUAL, 64)]
    host = [vec(1, SUBSET, 0b0010), vec(3, EQUAL, 32)]
    expected = report(vm, host)
    assert report([as_text(wmi(*entry.values())) for entry in vm], [as_text(entry) for entry in host]) == expected


# --- reasons and messages ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "vm_value", "host_value", "bits", "bit_list"),
    [
        pytest.param(SUBSET, 0b1110, 0b0010, "0xC", "bits 2, 3", id="subset"),
        pytest.param(SUPERSET, 0b0001, 0x300001, "0x300000", "bits 20, 21", id="superset"),
        pytest.param(DISJOINT, 0xF0, 0x30, "0x30", "bits 4, 5", id="disjoint"),
        pytest.param(SUBSET, 2**63, 0, "0x8000000000000000", "bit 63", id="top-bit"),
        pytest.param(SUBSET, MAX, 0, "0xFFFFFFFFFFFFFFFF", "and 52 more", id="all-bits"),
        pytest.param(SUPERSET, 0, MAX, "0xFFFFFFFFFFFFFFFF", "bits 0, 1, 2", id="all-bits-superset"),
        pytest.param(DISJOINT, MAX, MAX, "0xFFFFFFFFFFFFFFFF", "bits 0, 1, 2", id="all-bits-disjoint"),
    ],
)
def test_mask_failures_name_the_offending_bits_in_hex(operation, vm_value, host_value, bits, bit_list):
    reason = only_reason(verdict(operation, vm_value, host_value, vector_id=40))
    assert reason["offending_bits"] == bits
    assert int(reason["offending_bits"], 16) > 0
    assert bits in reason["message"]
    assert bit_list in reason["message"]


@given(operation=st.sampled_from(MASK_OPERATIONS), vm_value=uint64s, host_value=uint64s)
@settings(DETERMINISTIC, max_examples=200)
def test_offending_bits_are_exactly_the_bits_at_fault(operation, vm_value, host_value):
    result = verdict(operation, vm_value, host_value)
    expected = {
        SUBSET: vm_value & ~host_value,  # VM bits the host lacks
        SUPERSET: host_value & ~vm_value,  # host bits the VM lacks
        DISJOINT: vm_value & host_value,  # shared bits
    }[operation]
    if result["compatible"]:
        assert expected == 0
    else:
        reason = only_reason(result)
        assert int(reason["offending_bits"], 16) == expected
        assert f"0x{expected:X}" in reason["message"]


@pytest.mark.parametrize("operation", [op for op in range(10) if op not in MASK_OPERATIONS], ids=lambda op: OPERATION_NAMES[op])
def test_numeric_failures_have_no_offending_bits_and_show_both_values(operation):
    vm_value, host_value = next((vm, host) for vm, host, ok in BOUNDARIES[operation] if not ok and vm and host)
    reason = only_reason(verdict(operation, vm_value, host_value))
    assert reason["offending_bits"] is None
    assert str(vm_value) in reason["message"]
    assert str(host_value) in reason["message"]


@pytest.mark.parametrize(
    ("vector_id", "name"),
    [(1, "ProcessorFeatures"), (2, "ProcessorXSave"), (3, "CacheLineFlushSize"), (0, None), (4, None), (UINT32_MAX, None)],
)
def test_reason_names_known_vectors(vector_id, name):
    reason = only_reason(verdict(SUBSET, 0b11, 0b01, vector_id=vector_id))
    assert reason["name"] == name
    assert (name or f"vector {vector_id}") in reason["message"]


FAILURES = [
    pytest.param(SUBSET, 0b11, 0b01, id="subset"),
    pytest.param(SUPERSET, 0b01, 0b11, id="superset"),
    pytest.param(DISJOINT, 0b11, 0b01, id="disjoint"),
    pytest.param(EQUAL, 3, 4, id="equal"),
    pytest.param(GREATER, 3, 4, id="greater"),
    pytest.param(LESS_EQUAL, 5, 4, id="less-equal"),
]


@pytest.mark.parametrize(("operation", "vm_value", "host_value"), FAILURES)
@pytest.mark.parametrize("vector_id", [1, 2, 3, 4, 0, 100])
def test_compatibility_mode_hint_only_where_it_helps(operation, vm_value, host_value, vector_id):
    """Compatibility mode hides processor features the VM uses (a Subset failure on ids 1, 2);
    for any other failure it is the wrong advice."""
    reason = only_reason(verdict(operation, vm_value, host_value, vector_id=vector_id))
    hinted = operation == SUBSET and vector_id in (1, 2)
    assert (HINT in reason["message"].lower()) is hinted


@pytest.mark.parametrize("vector_id", [3, 7])
def test_no_hint_on_fail_closed_reasons_for_other_vectors(vector_id):
    vm = [vec(vector_id, 10, 1), vec(vector_id + 100, SUBSET, 1), vec(vector_id + 200, MULTIPLE, 1)]
    host = [vec(vector_id, 10, 1), vec(vector_id + 200, MULTIPLE, 0)]
    for reason in report(vm, host)["reasons"]:
        assert HINT not in reason["message"].lower()


def test_all_failing_vectors_are_reported_not_only_the_first():
    vm = [vec(1, SUBSET, 0b111), vec(2, SUBSET, 0b001), vec(3, EQUAL, 64), vec(4, GREATER, 1), vec(5, 12, 0),
          vec(6, DIVISIBLE, 0), vec(7, MULTIPLE, 4)]
    host = [vec(1, SUBSET, 0b011), vec(2, SUBSET, 0b001), vec(3, EQUAL, 32), vec(4, GREATER, 0), vec(5, 0, 0),
            vec(6, DIVISIBLE, 6), vec(7, MULTIPLE, 2)]
    result = report(vm, host)
    assert_well_formed_report(result)
    by_id = {reason["vector_id"]: reason for reason in result["reasons"]}
    assert len(result["reasons"]) == len(by_id) == 4
    assert {vector_id: reason["kind"] for vector_id, reason in by_id.items()} == {
        1: "mismatch", 3: "mismatch", 5: "unknown_operation", 6: "zero_divisor",
    }


def test_messages_are_short_and_actionable():
    vm = [vec(1, SUBSET, 0b111), vec(3, EQUAL, 64), vec(8, GREATER, 1), vec(9, MULTIPLE, 3), vec(10, DIVISIBLE, 2),
          vec(11, 10, 0), vec(12, SUBSET, 0)]
    host = [vec(1, SUBSET, 0b011), vec(3, EQUAL, 32), vec(8, GREATER, 1), vec(9, MULTIPLE, 2), vec(10, DIVISIBLE, 3),
            vec(11, 0, 0)]
    reasons = report(vm, host)["reasons"]
    assert len(reasons) == 7
    for reason in reasons:
        message = reason["message"]
        assert message[0].isupper() and message.endswith(".")
        assert "\n" not in message
        assert len(message) < 500
        # every message tells the reader what to do about it
        assert re.search(r"\b(Choose|Gather|Check|remedy|move)\b", message), message


def test_each_report_returns_fresh_reasons():
    # Reasons may be remembered between calls; a caller editing one report must not edit the next.
    vm, host = [vec(1, SUBSET, 0b11), vec(4, EQUAL, 1)], [vec(1, SUBSET, 0b01), vec(4, EQUAL, 2)]
    first = report(vm, host)
    expected = [dict(reason) for reason in first["reasons"]]
    for reason in first["reasons"]:
        reason["message"] = "edited"
        reason.clear()
    first["reasons"].clear()
    assert report(vm, host)["reasons"] == expected
    assert report([], host)["reasons"][0]["kind"] == "no_vm_vectors"


@pytest.mark.parametrize(
    ("mask", "expected"),
    [
        (1, "0x1 (bit 0)"),
        (0x300000, "0x300000 (bits 20, 21)"),
        (2**63, "0x8000000000000000 (bit 63)"),
        (0x1FFF, "0x1FFF (bits 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 1 more)"),
    ],
)
def test_format_bits(mask, expected):
    assert format_bits(mask) == expected


# --- malformed input reaches the caller as an error, never as a verdict -------------------------


@pytest.mark.parametrize(
    ("vm", "host", "fragments"),
    [
        pytest.param([vec(1, 0, 1), vec(2, 0, -1)], [], ["vm_vectors[1].compatibility_info", "-1"], id="vm-value"),
        pytest.param([vec(1, 0, 1)], [vec(1, 0, 1), vec(2, 0, 1.5)], ["host_vectors[1].compatibility_info", "1.5"],
                     id="host-value"),
        pytest.param([vec(1, 0, 1)], [vec(1, 0, 1), vec(1, 0, 2)], ["host_vectors[1]", "host_vectors[0]"], id="host-dup"),
        pytest.param(None, [], ["vm_vectors"], id="vm-none"),
        pytest.param([vec(1, 0, 1)], None, ["host_vectors"], id="host-none"),
        pytest.param([vec(1, 0, 1)], {"hv01": []}, ["host_vectors", "dict"], id="host-mapping"),
        pytest.param([vec(1, 0, 1)], [vec(1, 0, True)], ["host_vectors[0].compatibility_info", "True"], id="host-bool"),
        # A host that lacks the VM's id would make the verdict incompatible; the bad VM value
        # must still be an error rather than a verdict.
        pytest.param([vec(1, 0, "0x1")], [], ["vm_vectors[0].compatibility_info", "'0x1'"], id="vm-hex-string"),
    ],
)
def test_malformed_input_raises(vm, host, fragments):
    with pytest.raises(VectorInputError) as caught:
        report(vm, host)
    for fragment in fragments:
        assert fragment in str(caught.value)


@given(vm=junk_vector_lists, host=junk_vector_lists)
@settings(DETERMINISTIC, max_examples=300)
def test_report_on_junk_raises_input_error_or_returns_a_sound_report(vm, host):
    try:
        result = report(vm, host)
    except VectorInputError:
        return
    assert_well_formed_report(result)
    vm_entries, host_entries = [canonical(e) for e in vm], [canonical(e) for e in host]
    host_ids = {entry["vector_id"] for entry in host_entries}
    missing = {entry["vector_id"] for entry in vm_entries} - host_ids
    if missing or not vm_entries:
        assert result["compatible"] is False
    for vector_id in missing:
        assert any(r["vector_id"] == vector_id and r["kind"] == "missing_host_vector" for r in result["reasons"])
    assert result["compatible"] is spec_compatible(vm_entries, host_entries)
