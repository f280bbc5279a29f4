# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsing and validation: every accepted form, and every malformed input as a precise error."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.vectors import (
    UINT32_MAX,
    UINT64_MAX,
    Vector,
    VectorInputError,
    parse_named_profiles,
    parse_profile,
    parse_uint,
)
from ansible_collections.vmgate.hyperv.tests.unit.plugins.plugin_utils.helpers import (
    DETERMINISTIC,
    SNAKE,
    WMI,
    as_text,
    canonical,
    junk_vector_lists,
    vec,
    vector_lists,
    wmi,
)

LIMITS = {"vector_id": UINT32_MAX, "compare_operation": UINT32_MAX, "compatibility_info": UINT64_MAX}
FIELD_POSITION = {key: index for index, key in enumerate(SNAKE)}


def entry_with(field, value):
    """A valid entry whose `field` (a snake_case name) is replaced by value."""
    entry = vec(7, 2, 5)
    entry[field] = value
    return entry


def parse_error(vectors, where="vm_vectors"):
    with pytest.raises(VectorInputError) as caught:
        parse_profile(vectors, where)
    return str(caught.value)


# --- parse_uint: accepted values -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        (0, UINT64_MAX, 0),
        (UINT64_MAX, UINT64_MAX, UINT64_MAX),
        (UINT32_MAX, UINT32_MAX, UINT32_MAX),
        ("0", UINT64_MAX, 0),
        ("007", UINT64_MAX, 7),
        ("18446744073709551615", UINT64_MAX, UINT64_MAX),
        ("4294967295", UINT32_MAX, UINT32_MAX),
        ("00000000000000000000", UINT64_MAX, 0),
    ],
)
def test_parse_uint_accepts(value, limit, expected):
    parsed = parse_uint(value, limit, "here")
    assert parsed == expected
    assert type(parsed) is int  # pylint: disable=unidiomatic-typecheck


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # Zero padding beyond 20 characters is still a decimal string of an in-range value.
        ("0" * 21 + "7", 7),
        ("0" + str(UINT64_MAX), UINT64_MAX),
    ],
)
def test_parse_uint_accepts_long_zero_padded_decimal_strings(value, expected):
    assert parse_uint(value, UINT64_MAX, "here") == expected


# --- parse_uint: rejected values ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "limit", "shown"),
    [
        (UINT64_MAX + 1, UINT64_MAX, "18446744073709551616"),
        (UINT32_MAX + 1, UINT32_MAX, "4294967296"),
        ("18446744073709551616", UINT64_MAX, "18446744073709551616"),
        ("4294967296", UINT32_MAX, "4294967296"),
        ("1" * 21, UINT64_MAX, "1" * 21),
        (2**200, UINT64_MAX, str(2**200)[:20]),
        (-1, UINT64_MAX, "-1"),
        ("-1", UINT64_MAX, "'-1'"),
        ("+1", UINT64_MAX, "'+1'"),
        ("1.5", UINT64_MAX, "'1.5'"),
        ("0x10", UINT64_MAX, "'0x10'"),
        (" 5", UINT64_MAX, "' 5'"),
        ("5 ", UINT64_MAX, "'5 '"),
        ("5\n", UINT64_MAX, "'5\\n'"),
        ("", UINT64_MAX, "''"),
        ("\u0663", UINT64_MAX, "'\u0663'"),  # ARABIC-INDIC DIGIT THREE: int() would take it
        ("\uff15", UINT64_MAX, "'\uff15'"),  # FULLWIDTH DIGIT FIVE
        ("1e3", UINT64_MAX, "'1e3'"),
        ("1_000", UINT64_MAX, "'1_000'"),
        ("abc", UINT64_MAX, "'abc'"),
        (1.5, UINT64_MAX, "1.5"),
        (2.0, UINT64_MAX, "2.0"),
        (float("nan"), UINT64_MAX, "nan"),
        (float("inf"), UINT64_MAX, "inf"),
        (True, UINT64_MAX, "True"),
        (False, UINT64_MAX, "False"),
        (None, UINT64_MAX, "null"),
        ([1], UINT64_MAX, "[1]"),
        ({"value": 1}, UINT64_MAX, "{'value': 1}"),
        (b"5", UINT64_MAX, "b'5'"),
    ],
)
def test_parse_uint_rejects_and_names_value_and_place(value, limit, shown):
    with pytest.raises(VectorInputError) as caught:
        parse_uint(value, limit, "vm_vectors[2].compatibility_info")
    message = str(caught.value)
    assert message.startswith("vm_vectors[2].compatibility_info")
    assert shown in message


@pytest.mark.parametrize("value", [1.5, True, None, [1], "x"])
def test_vector_input_error_is_a_value_error(value):
    # Callers that catch ValueError (and the Jinja wrapper catching VectorInputError) both work.
    with pytest.raises(ValueError):
        parse_uint(value, UINT64_MAX, "here")


# --- whole entries: limits per field -----------------------------------------------------------


@pytest.mark.parametrize("field", SNAKE)
@pytest.mark.parametrize("as_string", [False, True], ids=["int", "str"])
def test_each_field_accepts_its_maximum_and_rejects_one_more(field, as_string):
    limit = LIMITS[field]
    convert = str if as_string else int
    parsed = parse_profile([entry_with(field, convert(limit))], "vm_vectors")
    assert parsed[0][FIELD_POSITION[field]] == limit

    message = parse_error([vec(1, 0, 0), entry_with(field, convert(limit + 1))])
    assert f"vm_vectors[1].{field}" in message
    assert str(limit + 1) in message


def test_id_and_operation_are_uint32_not_uint64():
    message = parse_error([entry_with("vector_id", UINT64_MAX)])
    assert "vm_vectors[0].vector_id" in message and str(UINT64_MAX) in message
    message = parse_error([entry_with("compare_operation", 2**32)])
    assert "vm_vectors[0].compare_operation" in message and str(2**32) in message


BAD_VALUES = [
    pytest.param(-1, "-1", id="negative"),
    pytest.param(1.5, "1.5", id="fractional"),
    pytest.param(3.0, "3.0", id="integral-float"),
    pytest.param(True, "True", id="bool"),
    pytest.param(None, "null", id="none"),
    pytest.param("abc", "'abc'", id="non-numeric"),
    pytest.param("1e3", "'1e3'", id="exponent"),
    pytest.param([5], "[5]", id="list"),
]


@pytest.mark.parametrize("field", SNAKE)
@pytest.mark.parametrize(("value", "shown"), BAD_VALUES)
def test_malformed_field_names_field_value_and_position(field, value, shown):
    vectors = [vec(1, 0, 0), vec(2, 0, 0), entry_with(field, value)]
    message = parse_error(vectors)
    assert f"vm_vectors[2].{field}" in message
    assert shown in message


@pytest.mark.parametrize("field", SNAKE)
def test_malformed_wmi_field_is_reported_at_its_position(field):
    entry = wmi(1, 0, 0)
    entry[WMI[FIELD_POSITION[field]]] = "-3"
    message = parse_error([wmi(2, 0, 0), entry])
    assert f"vm_vectors[1].{field}" in message
    assert "'-3'" in message


# --- accepted shapes ---------------------------------------------------------------------------


def test_snake_wmi_text_and_mixed_spellings_parse_alike():
    snake = [vec(1, 2, 7), vec(2, 0, UINT64_MAX), vec(3, 9, 64)]
    expected = (Vector(1, 2, 7), Vector(2, 0, UINT64_MAX), Vector(3, 9, 64))
    spellings = {
        "snake": snake,
        "wmi": [wmi(*e.values()) for e in snake],
        "text": [as_text(e) for e in snake],
        "mixed": [snake[0], as_text(wmi(*snake[1].values())), wmi(*snake[2].values())],
        "shuffled": [snake[2], snake[0], snake[1]],
        "tuple": tuple(snake),
    }
    for name, vectors in spellings.items():
        assert parse_profile(vectors, "vm_vectors") == expected, name


def test_extra_keys_are_ignored():
    entry = dict(vec(4, 5, 6), Description="cache line", other=[1, 2])
    assert parse_profile([entry], "vm_vectors") == (Vector(4, 5, 6),)


def test_empty_list_parses_to_an_empty_profile():
    assert parse_profile([], "vm_vectors") == ()


@given(vectors=vector_lists())
@settings(DETERMINISTIC, max_examples=150)
def test_parse_profile_is_canonical(vectors):
    parsed = parse_profile(vectors, "vm_vectors")
    expected = sorted((canonical(entry) for entry in vectors), key=lambda e: e["vector_id"])
    assert [vector._asdict() for vector in parsed] == expected
    assert parse_profile(list(reversed(vectors)), "vm_vectors") == parsed
    assert hash(parsed) == hash(parse_profile([canonical(e) for e in vectors], "other"))


# --- malformed shapes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vectors", "fragments"),
    [
        pytest.param(
            [vec(1, 0, 0), {"vector_id": 2, "compatibility_info": 3}],
            ["vm_vectors[1]", "compare_operation", "CompareOperation"],
            id="missing-operation",
        ),
        pytest.param([{"compare_operation": 0, "compatibility_info": 3}], ["vm_vectors[0]", "vector_id"], id="missing-id"),
        pytest.param([{"VectorId": 1, "CompareOperation": 0}], ["vm_vectors[0]", "compatibility_info"], id="missing-info-wmi"),
        pytest.param([{}], ["vm_vectors[0]", "vector_id"], id="empty-mapping"),
        pytest.param(
            [dict(vec(1, 0, 0), VectorId=1)], ["vm_vectors[0]", "vector_id", "VectorId"], id="both-id-spellings"
        ),
        pytest.param(
            [vec(1, 0, 0), dict(wmi(2, 0, 0), compatibility_info=0)],
            ["vm_vectors[1]", "compatibility_info", "CompatibilityInfo"],
            id="both-info-spellings",
        ),
        pytest.param([vec(1, 0, 0), 5], ["vm_vectors[1]", "int", "5"], id="entry-int"),
        pytest.param([None], ["vm_vectors[0]", "None"], id="entry-none"),
        pytest.param([vec(1, 0, 0), "1,0,0"], ["vm_vectors[1]", "'1,0,0'"], id="entry-str"),
        pytest.param([[1, 0, 0]], ["vm_vectors[0]", "[1, 0, 0]"], id="entry-list"),
    ],
)
def test_malformed_entries(vectors, fragments):
    message = parse_error(vectors)
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(vec(5, 0, 1), vec(5, 2, 9), id="snake"),
        pytest.param(vec(5, 0, 1), wmi("5", 0, 1), id="across-spellings-and-types"),
        pytest.param(wmi("005", 0, 1), vec(5, 0, 1), id="zero-padded"),
    ],
)
def test_duplicate_ids_name_both_positions(first, second):
    message = parse_error([first, vec(1, 0, 0), second])
    assert "vm_vectors[2]" in message
    assert "vm_vectors[0]" in message
    assert "5" in message


@pytest.mark.parametrize(
    ("vectors", "shown"),
    [
        pytest.param(None, "null", id="none"),
        pytest.param("vector_id=1", "str", id="str"),
        pytest.param(b"\x01", "bytes", id="bytes"),
        pytest.param(vec(1, 0, 0), "dict", id="a-single-entry-mapping"),
        pytest.param(5, "int", id="int"),
        pytest.param(1.5, "float", id="float"),
        pytest.param(True, "bool", id="bool"),
        pytest.param({1, 2}, "set", id="set"),
        pytest.param(iter([vec(1, 0, 0)]), "iterator", id="iterator"),
    ],
)
def test_non_list_containers_are_rejected(vectors, shown):
    message = parse_error(vectors, where="host_vectors")
    assert message.startswith("host_vectors")
    assert shown in message


# --- parse_named_profiles ----------------------------------------------------------------------


def test_named_profiles_parse_every_list():
    parsed = parse_named_profiles({"hv01": [vec(1, 2, 3)], "hv02": []}, "hosts")
    assert parsed == {"hv01": (Vector(1, 2, 3),), "hv02": ()}


@pytest.mark.parametrize(
    ("groups", "fragments"),
    [
        pytest.param({1: []}, ["hosts", "1"], id="int-key"),
        pytest.param({None: []}, ["hosts", "None"], id="none-key"),
        pytest.param({("hv01",): []}, ["hosts", "('hv01',)"], id="tuple-key"),
        pytest.param({"hv01": [], 2: []}, ["hosts", "2"], id="mixed-keys"),
        pytest.param([[vec(1, 0, 0)]], ["hosts", "list"], id="list-not-mapping"),
        pytest.param(None, ["hosts", "NoneType"], id="none"),
        pytest.param("hv01", ["hosts", "str"], id="str"),
        pytest.param({"hv01": None}, ["hosts['hv01']", "null"], id="null-list"),
        pytest.param({"hv01": [vec(1, 0, 0)], "hv02": [vec(1, 0, -4)]}, ["hosts['hv02'][0].compatibility_info", "-4"], id="bad-value"),
        pytest.param({"hv01": [vec(3, 0, 0), vec(3, 1, 1)]}, ["hosts['hv01'][1]", "hosts['hv01'][0]"], id="duplicate"),
    ],
)
def test_named_profiles_malformed(groups, fragments):
    with pytest.raises(VectorInputError) as caught:
        parse_named_profiles(groups, "hosts")
    for fragment in fragments:
        assert fragment in str(caught.value)


# --- fuzz --------------------------------------------------------------------------------------


@given(vectors=junk_vector_lists)
@settings(DETERMINISTIC, max_examples=300)
def test_parse_profile_raises_only_vector_input_error(vectors):
    try:
        parsed = parse_profile(vectors, "vm_vectors")
    except VectorInputError as exc:
        assert str(exc).startswith("vm_vectors")
        return
    assert isinstance(parsed, tuple)
    ids = [vector.vector_id for vector in parsed]
    assert ids == sorted(set(ids))
    for vector in parsed:
        assert isinstance(vector, Vector)
        assert all(type(value) is int for value in vector)  # pylint: disable=unidiomatic-typecheck
        assert 0 <= vector.vector_id <= UINT32_MAX
        assert 0 <= vector.compare_operation <= UINT32_MAX
        assert 0 <= vector.compatibility_info <= UINT64_MAX
