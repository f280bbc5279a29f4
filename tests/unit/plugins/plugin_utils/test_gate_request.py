# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""gate/request.py: what the gate is asked, taken literally, or refused with every problem named at once."""

from __future__ import annotations

import pytest

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import request as gate_request
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate.request import Request, RequestError, parse

INVENTORY = ["hv01", "hv02", "hv03", "localhost"]
NOT_IN_INVENTORY = "is not a host of the inventory: the gate reaches Hyper-V hosts with their inventory connection variables."
WHERE = ("Say where the VM should go: migration_gate_destination (one host) or migration_gate_candidates "
         "(hosts to choose from).")
BLANK_REASON = ("migration_gate_override_reason is empty or blank. An override needs a written reason (who accepts the "
                "risk, and why); leave it unset to keep the gate.")


def ok(**raw):
    """The request parsed from the role's variables (vm web01 unless given)."""
    return parse({"vm": "web01", **raw}, INVENTORY)


def problems(**raw):
    """The problems of a request that must be refused."""
    with pytest.raises(RequestError) as caught:
        parse({"vm": "web01", **raw}, INVENTORY)
    return caught.value.problems


# --- A valid request, and its defaults


def test_a_destination_request_with_its_defaults():
    request = ok(destination="hv02")
    assert request == Request(vm="web01", source=None, destination="hv02", candidates=None, search_hosts=())
    assert (request.mode, request.override_reason, request.limit_wait, request.limit_poll) == ("gate", None, 0, 5)
    assert (request.migration_type, request.destination_path) == ("live", None)
    assert request.allowed_states == ("Running", "Off", "Paused")
    assert not request.pick and request.targets == ("hv02",)


def test_a_candidates_request_picks_among_them_in_the_order_given_each_once():
    request = ok(source="hv01", candidates=["hv03", "hv02", "hv03"])
    assert request.pick and request.candidates == ("hv03", "hv02") and request.targets == ("hv03", "hv02")
    assert request.source == "hv01" and request.destination is None


def test_every_option_is_kept():
    request = ok(source="hv01", destination="hv02", search_hosts=["hv01", "hv03"], mode="move",
                 override_reason="  change 42, approved by ops  ", limit_wait="30", limit_poll=2.5,
                 migration_type="live_and_storage", destination_path="D:\\VMs", allowed_states=["Running"])
    assert request.search_hosts == ("hv01", "hv03") and request.mode == "move"
    assert request.override_reason == "change 42, approved by ops"  # the reason is trimmed, as before
    assert (request.limit_wait, request.limit_poll) == (30.0, 2.5)
    assert (request.migration_type, request.destination_path) == ("live_and_storage", "D:\\VMs")
    assert request.allowed_states == ("Running",)


# --- The VM's name: literal


@pytest.mark.parametrize("vm", [" padded ", "comma,vm", "web01 ", "{1F3B5D7A-2C4E-4A6B-8D0F-1A2B3C4D5E01}", "Web 01"])
def test_the_vm_is_taken_literally_never_trimmed_nor_split(vm):
    assert ok(vm=vm, destination="hv02").vm == vm


@pytest.mark.parametrize("vm", [None, "", "   ", "\t\n", "\u200b\u200b"])
def test_a_missing_or_blank_vm_is_refused(vm):
    assert problems(vm=vm, destination="hv02") == ["migration_gate_vm is empty: name the VM to gate, by its name or id."]


def test_a_missing_vm_is_said_of_the_vm_in_general():
    with pytest.raises(RequestError) as caught:
        parse({"destination": "hv02"}, INVENTORY)
    assert str(caught.value) == ("migration_gate cannot gate the VM:\n"
                                 "  - migration_gate_vm is empty: name the VM to gate, by its name or id.")
    assert caught.value.vm is None


def test_a_vm_of_only_invisible_characters_is_said_of_the_vm_in_general():
    with pytest.raises(RequestError) as caught:
        parse({"vm": "\u200b\u200b", "destination": "hv02"}, INVENTORY)
    assert str(caught.value).startswith("migration_gate cannot gate the VM:\n")


@pytest.mark.parametrize("vm, shown", [(42, "an integer (42)"), (True, "a boolean (True)"), (["web01"], "a list (['web01'])"),
                                       ({"name": "web01"}, "a mapping ({'name': 'web01'})"), (1.5, "a number (1.5)")])
def test_a_vm_that_is_not_a_string_is_refused_with_its_type(vm, shown):
    assert problems(vm=vm, destination="hv02") == [
        f"migration_gate_vm must be a string (the VM's name or id), got {shown}; quote it."]


# --- Strings: literal, blank means not given, a wrong type is an error


@pytest.mark.parametrize("blank", [None, "", "  ", "\u200b", "\ufeff "])
def test_a_blank_source_or_destination_path_is_not_given(blank):
    request = ok(source=blank, destination="hv02", destination_path=blank)
    assert request.source is None and request.destination_path is None


def test_a_blank_destination_is_not_given():
    assert problems(destination="  ") == [WHERE]


@pytest.mark.parametrize("option", ["source", "destination", "destination_path"])
def test_a_string_option_of_another_type_is_refused(option):
    raw = {"destination": "hv02", option: 7}
    found = problems(**raw)
    assert f"migration_gate_{option} must be a string, got an integer (7); quote it." in found


def test_a_padded_host_name_is_kept_and_refused_with_a_hint_when_the_trimmed_name_is_in_the_inventory():
    assert problems(source=" hv01", destination="hv02 ") == [
        f" hv01 {NOT_IN_INVENTORY} (The inventory has 'hv01'; host names are taken literally, spaces included.)",
        f"hv02  {NOT_IN_INVENTORY} (The inventory has 'hv02'; host names are taken literally, spaces included.)",
    ]


def test_a_host_missing_from_the_inventory_is_refused_without_a_hint():
    assert problems(destination="hv09") == [f"hv09 {NOT_IN_INVENTORY}"]
    assert problems(destination=" hv09 ") == [f" hv09  {NOT_IN_INVENTORY}"]  # its trimmed name is not there either


# --- Host lists: a list, or a string of names separated by commas


def test_candidates_as_a_string_are_split_at_commas_and_trimmed():
    assert ok(candidates="hv02, hv03 ,hv01").candidates == ("hv02", "hv03", "hv01")
    assert ok(candidates=" hv02 ").candidates == ("hv02",)


def test_search_hosts_as_a_string_are_split_at_commas_and_trimmed():
    assert ok(destination="hv02", search_hosts="hv01 , hv03").search_hosts == ("hv01", "hv03")


def test_list_items_are_taken_literally():
    assert problems(candidates=["hv02 ", "hv03"]) == [
        f"hv02  {NOT_IN_INVENTORY} (The inventory has 'hv02'; host names are taken literally, spaces included.)"]


@pytest.mark.parametrize("blank", ["", "   ", "\u200b"])
def test_candidates_as_a_blank_string_are_not_given(blank):
    request = ok(destination="hv02", candidates=blank)
    assert request.candidates is None and not request.pick
    assert problems(candidates=blank) == [WHERE]


@pytest.mark.parametrize("empty", [[], ()])
def test_candidates_as_an_empty_list_are_refused(empty):
    assert problems(candidates=empty) == [
        "migration_gate_candidates is an empty list: name at least one host, or leave it unset."]


def test_candidates_as_an_empty_list_are_refused_with_a_destination_too():
    assert problems(destination="hv02", candidates=[]) == [
        "migration_gate_candidates is an empty list: name at least one host, or leave it unset."]


@pytest.mark.parametrize("value, shown", [({"hv02": 1}, "a mapping ({'hv02': 1})"), (3, "an integer (3)"), (True, "a boolean (True)")])
def test_candidates_that_are_not_a_list_are_refused_naming_what_they_are(value, shown):
    # and no second message that the destination is missing: the candidates were given, wrongly
    assert problems(candidates=value) == [
        f"migration_gate_candidates must be a list of inventory hosts (or names separated by commas), got {shown}."]


def test_search_hosts_as_a_mapping_are_refused():
    assert problems(destination="hv02", search_hosts={"hv01": None}) == [
        "migration_gate_search_hosts must be a list of inventory hosts (or names separated by commas), "
        "got a mapping ({'hv01': None})."]


def test_search_hosts_as_an_empty_list_are_none():
    # the role's default when the inventory has no group hyperv
    assert ok(destination="hv02", search_hosts=[]).search_hosts == ()


@pytest.mark.parametrize("value, shown", [(["hv02", 5], "5"), (["hv02", ""], "''"), (["hv02", None], "None"), (["hv02", "  "], "'  '")])
def test_list_items_that_are_not_host_names_are_refused(value, shown):
    assert problems(candidates=value) == [f"migration_gate_candidates has items that are not host names: {shown}."]


def test_an_empty_item_of_a_comma_separated_string_is_left_out():
    assert ok(candidates="hv02, hv03,").candidates == ("hv02", "hv03")


def test_hosts_of_the_candidates_and_search_hosts_must_be_in_the_inventory():
    assert problems(candidates="hv02,hv08", search_hosts=["hv09"]) == [f"hv08 {NOT_IN_INVENTORY}", f"hv09 {NOT_IN_INVENTORY}"]


def test_search_hosts_are_not_checked_when_a_source_is_given():
    assert ok(source="hv01", destination="hv02", search_hosts=["hv09"]).search_hosts == ("hv09",)


# --- Contradictions


def test_a_destination_and_candidates_are_not_both_given():
    assert problems(destination="hv02", candidates=["hv03"]) == [
        "Give migration_gate_destination (one host) or migration_gate_candidates (hosts to choose from), not both."]


def test_neither_a_destination_nor_candidates():
    assert problems() == [WHERE]


def test_the_source_and_the_destination_are_not_the_same_host():
    assert problems(source="hv01", destination="hv01") == [
        "migration_gate_source and migration_gate_destination are the same host, hv01."]


@pytest.mark.parametrize("candidates", [["hv01"], ["hv01", "hv01"], "hv01 , hv01"])
def test_candidates_that_hold_only_the_source(candidates):
    assert problems(source="hv01", candidates=candidates) == ["migration_gate_candidates holds no host but the source, hv01."]


def test_candidates_with_the_source_among_others_are_fine():
    assert ok(source="hv01", candidates=["hv01", "hv02"]).candidates == ("hv01", "hv02")


# --- The override's reason


@pytest.mark.parametrize("reason", ["", "   ", "\t\n", "\u200b\u200b", " \u200b\ufeff "])
def test_an_override_reason_needs_visible_characters(reason):
    assert problems(destination="hv02", override_reason=reason) == [BLANK_REASON]


def test_an_override_reason_of_none_is_not_given():
    assert ok(destination="hv02", override_reason=None).override_reason is None


@pytest.mark.parametrize("reason, shown", [(42, "an integer (42)"), (["ok"], "a list (['ok'])"), (False, "a boolean (False)")])
def test_an_override_reason_that_is_not_a_string_is_refused(reason, shown):
    assert problems(destination="hv02", override_reason=reason) == [
        f"migration_gate_override_reason must be a string, got {shown}."]


# --- Numbers and choices


@pytest.mark.parametrize("value, expected", [(0, 0.0), (30, 30.0), ("45", 45.0), (" 2.5 ", 2.5), (None, 0.0), ("", 0.0)])
def test_limit_wait_is_a_number_of_seconds(value, expected):
    assert ok(destination="hv02", limit_wait=value).limit_wait == expected


@pytest.mark.parametrize("value, problem", [
    ("abc", "migration_gate_limit_wait must be a number of seconds, got str ('abc')."),
    (True, "migration_gate_limit_wait must be a number of seconds, got a boolean (True)."),
    ([5], "migration_gate_limit_wait must be a number of seconds, got a list ([5])."),
    ("nan", "migration_gate_limit_wait must be a number of seconds, got a number (nan)."),
    (-1, "migration_gate_limit_wait must be 0 or more seconds, got -1."),
])
def test_limit_wait_of_a_wrong_type_or_negative_is_refused(value, problem):
    assert problems(destination="hv02", limit_wait=value) == [problem]


@pytest.mark.parametrize("value, problem", [
    (0, "migration_gate_limit_poll must be more than 0 seconds, got 0."),
    ("-2", "migration_gate_limit_poll must be more than 0 seconds, got -2.0."),
    (False, "migration_gate_limit_poll must be a number of seconds, got a boolean (False)."),
])
def test_limit_poll_must_be_more_than_zero(value, problem):
    assert problems(destination="hv02", limit_poll=value) == [problem]


def test_mode_and_migration_type_are_choices():
    assert problems(destination="hv02", mode="moev", migration_type="quick") == [
        "migration_gate_migration_type must be one of live, live_and_storage, got 'quick'.",
        "migration_gate_mode must be one of gate, move, got 'moev'.",
    ]
    assert ok(destination="hv02", mode="", migration_type=" ").mode == "gate"


@pytest.mark.parametrize("path", [None, "", "  "])
def test_live_and_storage_needs_a_destination_path(path):
    assert problems(destination="hv02", migration_type="live_and_storage", destination_path=path) == [
        "migration_gate_migration_type live_and_storage needs migration_gate_destination_path, where the VM files go."]


@pytest.mark.parametrize("states", ["Running", ["Running", 3], {"Running": True}])
def test_allowed_states_must_be_a_list_of_names(states):
    assert problems(destination="hv02", allowed_states=states) == [
        f"migration_gate_allowed_states must be a non-empty list of VM state names, got {states!r}."]


def test_allowed_states_as_a_blank_string_are_not_given():
    assert ok(destination="hv02", allowed_states="").allowed_states == ("Running", "Off", "Paused")


def test_allowed_states_as_an_empty_list_are_refused():
    with pytest.raises(RequestError) as caught:
        parse({"vm": "web01", "destination": "hv02", "allowed_states": []}, INVENTORY)
    assert any(problem.startswith("migration_gate_allowed_states ") for problem in caught.value.problems)


# --- Every problem at once


def test_every_problem_is_listed_at_once_in_the_error():
    raw = {"vm": "web01", "source": "hv01", "destination": "hv01", "candidates": {"hv02": 1}, "override_reason": "\u200b\u200b",
           "migration_type": "live_and_storage", "limit_wait": "abc", "limit_poll": 0}
    with pytest.raises(RequestError) as caught:
        parse(raw, INVENTORY)
    expected = [
        "migration_gate_candidates must be a list of inventory hosts (or names separated by commas), got a mapping ({'hv02': 1}).",
        "migration_gate_source and migration_gate_destination are the same host, hv01.",
        BLANK_REASON,
        "migration_gate_migration_type live_and_storage needs migration_gate_destination_path, where the VM files go.",
        "migration_gate_limit_wait must be a number of seconds, got str ('abc').",
        "migration_gate_limit_poll must be more than 0 seconds, got 0.",
    ]
    assert caught.value.problems == expected
    assert caught.value.vm == "web01"
    assert str(caught.value) == "\n  - ".join(["migration_gate cannot gate web01:", *expected])
    assert isinstance(caught.value, ValueError)


def test_a_problem_found_twice_is_said_once():
    assert problems(source="hv09", candidates=["hv09", "hv09"]) == [
        "migration_gate_candidates holds no host but the source, hv09.", f"hv09 {NOT_IN_INVENTORY}"]


# --- Helpers


@pytest.mark.parametrize("value, blank", [(None, True), ("", True), (" \t\n", True), ("\u200b\u200c\u200d\u2060\ufeff", True),
                                          ("\u00a0", True), ("a", False), (" a ", False), (0, False), ([], False)])
def test_is_blank(value, blank):
    assert gate_request.is_blank(value) is blank


def test_visible_keeps_only_what_shows():
    assert gate_request.visible(" a\u200b b\t") == "ab"


@pytest.mark.parametrize("given, reserve", [(None, 2048), ("", 2048), ("  ", 2048), (0, 0), ("4096", 4096), (1024, 1024)])
def test_the_memory_reserve_is_a_whole_number_of_mb(given, reserve):
    assert ok(destination="hv02", memory_reserve_mb=given).memory_reserve_mb == reserve


@pytest.mark.parametrize("given", [-1, "-5", 1.5, "2 GB", True, [2048]])
def test_a_memory_reserve_that_is_not_a_whole_number_of_mb_is_refused(given):
    assert any(problem.startswith("migration_gate_memory_reserve_mb must be a whole number of MB, 0 or more")
               for problem in problems(destination="hv02", memory_reserve_mb=given))
