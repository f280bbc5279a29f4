# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cim_types: wire text to the Python value of each declared CIM type, refusing what does not fit."""

from __future__ import annotations

import pytest

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.cim_types import SCHEMAS, CimTypeError, convert, typed
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.soap import Instance

LIMITS = {"uint8": 2**8 - 1, "uint16": 2**16 - 1, "uint32": 2**32 - 1, "uint64": 2**64 - 1}


@pytest.mark.parametrize("cim_type, limit", LIMITS.items())
def test_unsigned_integers_up_to_their_maximum(cim_type, limit):
    for text, value in (("0", 0), ("7", 7), (" 42\n", 42), ("007", 7), (str(limit), limit), (limit, limit)):
        assert convert(text, cim_type, "where") == value


@pytest.mark.parametrize("cim_type, limit", LIMITS.items())
@pytest.mark.parametrize("bad", [
    "{over}", "-1", "-0", "+1", "", " ", "1.0", "1e3", "0x10", "1_000", "1 2", "\u0663", "\uff17", "\u00b2",
    "9" * 21, True, False,
], ids=["overflow", "negative", "minus-zero", "plus", "empty", "blank", "decimal-point", "exponent", "hex",
        "underscore", "two-numbers", "arabic-indic-digit", "fullwidth-digit", "superscript", "21-digits",
        "bool-true", "bool-false"])
def test_unsigned_integers_refuse(cim_type, limit, bad):
    value = bad.format(over=limit + 1) if isinstance(bad, str) else bad
    with pytest.raises(CimTypeError, match=rf"^Msvm_X\.P: .* is not a {cim_type}$"):
        convert(value, cim_type, "Msvm_X.P")


@pytest.mark.parametrize("text, value", [
    ("true", True), ("false", False), ("TRUE", True), ("False", False), (" true ", True), ("1", True),
    ("0", False), (True, True), (False, False),
])
def test_booleans(text, value):
    assert convert(text, "boolean", "where") is value


@pytest.mark.parametrize("text", ["yes", "no", "on", "2", "", "t", "truthy"])
def test_booleans_refuse(text):
    with pytest.raises(CimTypeError, match="is not a boolean"):
        convert(text, "boolean", "where")


@pytest.mark.parametrize("value, expected", [("web01", "web01"), ("", ""), (" spaced ", " spaced "), (5, "5")])
def test_strings_are_kept_as_text(value, expected):
    assert convert(value, "string", "where") == expected


@pytest.mark.parametrize("cim_type", ["uint16", "boolean", "string"])
def test_null_scalar_is_none(cim_type):
    assert convert(None, cim_type, "where") is None


@pytest.mark.parametrize("value, cim_type, expected", [
    (None, "uint16[]", []),
    ([], "string[]", []),
    ("2", "uint16[]", [2]),  # an array of one arrives as a single element
    (["2", "11"], "uint16[]", [2, 11]),
    ("10.0.0.1", "string[]", ["10.0.0.1"]),
    (["true", "0"], "boolean[]", [True, False]),
])
def test_arrays(value, cim_type, expected):
    assert convert(value, cim_type, "where") == expected


def test_array_items_are_checked_with_their_index():
    with pytest.raises(CimTypeError, match=r"^Msvm_X\.Status\[1\]: '65536' is not a uint16$"):
        convert(["2", "65536"], "uint16[]", "Msvm_X.Status")


def test_several_values_for_a_scalar_are_refused():
    with pytest.raises(CimTypeError, match="several values where the class declares one uint16"):
        convert(["2", "3"], "uint16", "where")


def test_errors_quote_at_most_40_characters():
    with pytest.raises(CimTypeError) as info:
        convert("x" * 1000, "uint32", "where")
    assert len(str(info.value)) < 80


def test_typed_converts_the_declared_properties_and_keeps_the_rest():
    system = Instance("Msvm_ComputerSystem", {
        "ElementName": "web01", "EnabledState": "2", "HealthState": None, "OperationalStatus": "2",
        "Undeclared": "17", "Embedded": Instance("Other", {"A": "1"}),
    })
    assert typed(system, "Msvm_ComputerSystem") == {
        "ElementName": "web01", "EnabledState": 2, "HealthState": None, "OperationalStatus": [2],
        "Undeclared": "17", "Embedded": Instance("Other", {"A": "1"}),
    }
    assert system.properties["EnabledState"] == "2"  # the instance is left as it came


def test_typed_fills_absent_arrays_with_empty_lists_only():
    assert typed(Instance("Msvm_VirtualSystemMigrationService", {"Name": "svc"}), "svc") == {
        "Name": "svc", "MigrationServiceListenerIPAddressList": [],
    }


def test_typed_vector_uint64_maximum():
    vector = Instance("Msvm_CompatibilityVector",
                      {"VectorId": "1", "CompareOperation": "2", "CompatibilityInfo": "18446744073709551615"})
    assert typed(vector, "v") == {"VectorId": 1, "CompareOperation": 2, "CompatibilityInfo": 2**64 - 1}


def test_typed_names_the_offending_property():
    vector = Instance("Msvm_CompatibilityVector", {"CompatibilityInfo": "18446744073709551616"})
    with pytest.raises(CimTypeError, match=r"^CompatibilityVectors\[0\]\.CompatibilityInfo: "):
        typed(vector, "CompatibilityVectors[0]")


def test_unknown_classes_pass_through():
    properties = {"EnabledState": "2", "Flag": "true", "List": ["1"], "Nothing": None}
    assert typed(Instance("Msvm_Unknown", dict(properties)), "x") == properties


def test_concrete_job_shares_the_migration_job_schema():
    assert SCHEMAS["Msvm_ConcreteJob"] == SCHEMAS["Msvm_MigrationJob"]
    assert typed(Instance("Msvm_ConcreteJob", {"JobState": "7", "PercentComplete": "100"}), "job") == {
        "JobState": 7, "PercentComplete": 100,
    }
