# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""gate/wave.py: migrate.yml's request (which VMs, taken literally), its plan, and the report of every VM."""

from __future__ import annotations

import pytest

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import wave
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate.wave import HELP, WaveRequest, WaveRequestError, parse

INVENTORY = ["hv01", "hv02", "hv03", "localhost"]
GROUP = ["hv01", "hv02", "hv03"]
WEB01_ID = "6C9A2A5F-7F1B-4D4B-9C1E-0F0E1D2C3B4A"
APP01_A = "1F3B5D7A-2C4E-4A6B-8D0F-1A2B3C4D5E05"
APP01_B = "1F3B5D7A-2C4E-4A6B-8D0F-1A2B3C4D5E06"
BLANK_REASON = ("override_reason is empty or blank. An override needs a written reason (who accepts the risk, and why); "
                "leave it unset to keep the gate.")
BOTH = "Give vm (one VM) or vms (a wave), not both."
NEITHER = "Name the VM: vm (one) or vms (a wave)."


def ok(raw=None, group=None, **more) -> WaveRequest:
    """The wave parsed from migrate.yml's extra vars (vm web01 unless vm or vms is given)."""
    raw = {**(raw or {}), **more}
    if "vm" not in raw and "vms" not in raw:
        raw["vm"] = "web01"
    return parse(raw, INVENTORY, GROUP if group is None else group)


def problems(raw=None, group=None, **more) -> list[str]:
    """The problems of a request migrate.yml must refuse."""
    raw = {**(raw or {}), **more}
    if "vm" not in raw and "vms" not in raw:
        raw["vm"] = "web01"
    with pytest.raises(WaveRequestError) as caught:
        parse(raw, INVENTORY, GROUP if group is None else group)
    return caught.value.problems


# --- parse: which VMs, taken literally


@pytest.mark.parametrize("vm", [" padded ", "comma,vm", "web01 ", "Web 01", "{6C9A2A5F-7F1B-4D4B-9C1E-0F0E1D2C3B4A}",
                                "x' OR Name LIKE '%"])
def test_vm_is_one_vm_taken_literally_never_trimmed_nor_split(vm):
    assert ok(vm=vm).vms == (vm,)


@pytest.mark.parametrize("vms, expected", [
    ("web01,db01", ("web01", "db01")),
    (" web01 , db01 ,, ,app01, ", ("web01", "db01", "app01")),
    ("web01", ("web01",)),
    ("web01,WEB01", ("web01", "WEB01")),  # each once is plan()'s work, not parse()'s
])
def test_vms_as_a_string_is_split_on_commas_each_trimmed_empty_items_dropped(vms, expected):
    assert ok(vms=vms).vms == expected


def test_vms_as_a_list_keeps_each_item_literally():
    assert ok(vms=[" padded ", "comma,vm", "db01"]).vms == (" padded ", "comma,vm", "db01")
    assert ok(vms=("web01",)).vms == ("web01",)


def test_vms_as_a_mapping_is_refused_naming_it_and_saying_one_wave_per_destination():
    found = problems(vms={"web01": "hv02", "db01": "hv03"})
    assert len(found) == 1
    assert found[0].startswith("vms must be a list of VM names or ids, or names separated by commas; got a mapping (")
    assert "'web01': 'hv02'" in found[0]
    assert found[0].endswith("A wave sends every VM to the same destination or candidates: run one wave per destination.")


@pytest.mark.parametrize("vms", [[], 42, True])
def test_vms_neither_a_list_nor_a_string_or_an_empty_list_is_refused(vms):
    assert problems(vms=vms) == [
        f"vms must be a non-empty list of VM names or ids, or names separated by commas; got {vms!r}."]


def test_vms_items_that_are_not_names_are_refused_each_named():
    assert problems(vms=["web01", "", 7, "  ", None]) == ["vms has items that are not VM names: '', 7, '  ', None."]


def test_a_vm_of_nothing_visible_is_refused_by_the_gates_rules():
    assert problems(vm="\u200b\u200b") == ["vm is empty: name the VM to gate, by its name or id."]


@pytest.mark.parametrize("vms", [["web01", "\u200b\u200b"], "web01, \u200b"])
def test_vms_items_of_nothing_visible_are_refused(vms):
    with pytest.raises(WaveRequestError):
        parse({"vms": vms, "destination": "hv02"}, INVENTORY, GROUP)


@pytest.mark.parametrize("vms", ["", "   ", None])
def test_vms_blank_is_not_given(vms):
    assert ok(vm="web01", vms=vms).vms == ("web01",)
    assert problems(vm="", vms=vms) == [NEITHER]


@pytest.mark.parametrize("vms", [",", " , ,"])
def test_vms_of_nothing_but_commas_is_refused(vms):
    with pytest.raises(WaveRequestError):
        parse({"vms": vms, "destination": "hv02"}, INVENTORY, GROUP)


@pytest.mark.parametrize("vm, vms", [("web01", "db01"), ("web01", ["db01"]), ("web01", {"db01": "hv02"})])
def test_vm_and_vms_together_are_refused(vm, vms):
    assert problems(vm=vm, vms=vms) == [BOTH]


@pytest.mark.parametrize("raw", [{}, {"vm": None}, {"vm": ""}, {"vm": "   "}, {"vm": None, "vms": ""}])
def test_neither_vm_nor_vms_is_refused(raw):
    with pytest.raises(WaveRequestError) as caught:
        parse(raw, INVENTORY, GROUP)
    assert caught.value.problems == [NEITHER]


@pytest.mark.parametrize("vm, shown", [(42, "int (42)"), (["web01", "db01"], "list (['web01', 'db01'])"),
                                       ({"name": "web01"}, "dict ({'name': 'web01'})"), (True, "bool (True)")])
def test_a_vm_that_is_not_a_string_is_refused_pointing_to_vms(vm, shown):
    assert problems(vm=vm) == [f"vm must be one VM's name or id, a string; got {shown}. For several VMs, use vms."]


# --- parse: where to, and the gate's options


@pytest.mark.parametrize("candidates", [None, "", "   "])
def test_candidates_blank_means_every_host_of_the_group(candidates):
    request = ok(candidates=candidates)
    assert request.gate["candidates"] == GROUP and request.gate["destination"] is None
    assert request.gate["search_hosts"] == GROUP


def test_candidates_blank_with_a_destination_means_that_destination():
    request = ok(candidates="", destination="hv02")
    assert request.gate["candidates"] is None and request.gate["destination"] == "hv02"


def test_candidates_as_given():
    assert ok(candidates="hv02, hv03").gate["candidates"] == "hv02, hv03"  # the gate splits them
    assert ok(candidates=["hv03", "hv02"]).gate["candidates"] == ["hv03", "hv02"]


def test_candidates_an_empty_list_is_refused():
    assert problems(candidates=[]) == ["candidates is an empty list: name at least one host, or leave it unset."]


def test_candidates_a_mapping_is_refused():
    found = problems(candidates={"hv02": 1})
    assert found == ["candidates must be a list of inventory hosts (or names separated by commas), got a mapping ({'hv02': 1})."]


def test_without_destination_candidates_nor_a_group_the_wave_is_refused():
    assert problems(group=[]) == ["Say where the VM should go: destination (one host) or candidates (hosts to choose from)."]


def test_destination_and_candidates_together_are_refused():
    assert problems(destination="hv02", candidates="hv03") == [
        "Give destination (one host) or candidates (hosts to choose from), not both."]


def test_a_host_not_in_the_inventory_is_refused():
    found = problems(destination="hv09")
    assert found == ["hv09 is not a host of the inventory: the gate reaches Hyper-V hosts with their inventory connection "
                     "variables."]


@pytest.mark.parametrize("reason", ["", None])
def test_override_reason_empty_is_not_given(reason):
    assert ok(override_reason=reason).gate["override_reason"] is None


@pytest.mark.parametrize("reason", ["\u200b\u200b", "   ", "\t\n", "\ufeff"])
def test_override_reason_blank_is_refused(reason):
    assert problems(override_reason=reason) == [BLANK_REASON]


def test_override_reason_not_a_string_is_refused():
    assert problems(override_reason=["CHG-1"]) == ["override_reason must be a string, got a list (['CHG-1'])."]


def test_override_reason_is_kept_for_the_gate():
    assert ok(override_reason=" CHG-42: accepted by ops ").gate["override_reason"] == " CHG-42: accepted by ops "


def test_the_defaults_passed_to_the_gate():
    request = ok()
    assert request.vms == ("web01",) and request.move_timeout == 600
    assert request.gate == {
        "source": None, "destination": None, "candidates": GROUP, "search_hosts": GROUP, "mode": "move",
        "override_reason": None, "limit_wait": 120, "limit_poll": 5, "migration_type": "live", "destination_path": None,
        "memory_reserve_mb": None, "candidates_by_default": True,  # a clustered VM's candidates are then the other nodes of its cluster
    }
    assert "candidates_by_default" not in ok(candidates="hv02,hv03").gate


@pytest.mark.parametrize("blank", ["", "  ", None])
def test_blank_options_take_their_defaults(blank):
    request = ok(mode=blank, limit_wait=blank, limit_poll=blank, migration_type=blank, move_timeout=blank)
    assert (request.gate["mode"], request.gate["limit_wait"], request.gate["limit_poll"]) == ("move", 120, 5)
    assert request.gate["migration_type"] == "live" and request.move_timeout == 600


def test_every_option_is_passed_to_the_gate_as_given():
    request = ok(vms="web01,db01", source="hv01", destination="hv02", mode="gate", override_reason="CHG-1",
                 limit_wait="30", limit_poll=0.5, migration_type="live_and_storage", destination_path="D:\\VMs",
                 move_timeout="90", memory_reserve_mb="4096")
    assert request.vms == ("web01", "db01") and request.move_timeout == 90
    assert request.gate == {
        "source": "hv01", "destination": "hv02", "candidates": None, "search_hosts": GROUP, "mode": "gate",
        "override_reason": "CHG-1", "limit_wait": "30", "limit_poll": 0.5, "migration_type": "live_and_storage",
        "destination_path": "D:\\VMs", "memory_reserve_mb": "4096",
    }


@pytest.mark.parametrize("mode, found", [
    ("fly", "mode must be one of gate, move, got 'fly'."),
    ("Move", "mode must be one of gate, move, got 'Move'."),
])
def test_the_gates_own_rules_apply_once_for_the_wave(mode, found):
    assert problems(vms="web01,db01", mode=mode) == [found]


# --- parse: move_timeout


@pytest.mark.parametrize("value, expected", [(1, 1), (600, 600), ("30", 30), (" 45 ", 45), ("", 600), (None, 600)])
def test_move_timeout_a_whole_number_of_seconds(value, expected):
    assert ok(move_timeout=value).move_timeout == expected


@pytest.mark.parametrize("value, shown", [(0, "0"), (-5, "-5"), ("0", "0"), (" -1", "-1"), ("2.5", "'2.5'"), (2.5, "2.5"),
                                          ("ten", "'ten'"), ([10], "[10]"), ("inf", "'inf'"), (float("nan"), "nan")])
def test_move_timeout_not_a_whole_number_of_at_least_one_is_refused(value, shown):
    assert problems(move_timeout=value) == [f"move_timeout must be a whole number of seconds, at least 1; got {shown}."]


@pytest.mark.parametrize("value", [True, False])
def test_move_timeout_a_boolean_is_refused_naming_it(value):
    assert problems(move_timeout=value) == [f"move_timeout must be a whole number of seconds, at least 1; got {value!r}."]


# --- parse: every problem at once, and how to ask


def test_every_problem_is_listed_at_once_then_how_to_ask():
    with pytest.raises(WaveRequestError) as caught:
        parse({"vm": "web01", "vms": "db01", "candidates": [], "override_reason": "\u200b\u200b", "mode": "fly",
               "move_timeout": 0, "destination": "hv09"}, INVENTORY, GROUP)
    found = caught.value.problems
    assert found == [
        BOTH,
        "candidates is an empty list: name at least one host, or leave it unset.",
        "hv09 is not a host of the inventory: the gate reaches Hyper-V hosts with their inventory connection variables.",
        BLANK_REASON,
        "mode must be one of gate, move, got 'fly'.",
        "move_timeout must be a whole number of seconds, at least 1; got 0.",
    ]
    text = str(caught.value)
    assert text.startswith("migrate.yml cannot start:\n  - " + BOTH + "\n  - ")
    assert text.endswith("\n" + HELP)
    for problem in found:
        assert f"\n  - {problem}" in text
    assert isinstance(caught.value, ValueError)


def test_every_problem_of_a_mapping_wave_and_its_options():
    found = problems(vms={"web01": "hv02"}, candidates=[], override_reason="   ", move_timeout="soon")
    assert len(found) == 4
    assert found[0].startswith("vms must be a list") and "run one wave per destination" in found[0]
    assert found[1:] == ["candidates is an empty list: name at least one host, or leave it unset.", BLANK_REASON,
                         "move_timeout must be a whole number of seconds, at least 1; got 'soon'."]


def test_the_help_says_how_to_ask():
    assert "-e vm=NAME" in HELP and "-e vms=NAME1,NAME2" in HELP and "not both" in HELP
    assert "-e destination=HOST" in HELP and "-e candidates=HOST1,HOST2" in HELP and "mode=gate" in HELP


# --- vm_key


@pytest.mark.parametrize("name, key", [
    ("web01", "web01"),
    ("WEB01", "web01"),
    (" Web01 ", " web01 "),  # never trimmed
    (WEB01_ID, WEB01_ID.lower()),
    ("{" + WEB01_ID + "}", WEB01_ID.lower()),
    ("{" + WEB01_ID.lower() + "}", WEB01_ID.lower()),
    ("{open", "{open"),
    ("close}", "close}"),
    ("{}", ""),
])
def test_vm_key_names_without_case_ids_without_braces(name, key):
    assert wave.vm_key(name) == key


# --- plan


def wave_of(*vms, source=None) -> WaveRequest:
    return ok(vms=list(vms), source=source, destination="hv03" if source else None)


def test_plan_one_entry_per_vm_in_the_order_given():
    entries = wave.plan(wave_of("web01", "db01"), None)
    assert entries == [{"vm": "web01", "source": ""}, {"vm": "db01", "source": ""}]


def test_plan_a_name_given_twice_in_another_case_is_gated_once_as_first_written():
    entries = wave.plan(wave_of("web01", "WEB01", "Web01", "db01"), None)
    assert [entry["vm"] for entry in entries] == ["web01", "db01"]


def test_plan_an_id_with_or_without_braces_in_any_case_is_gated_once():
    entries = wave.plan(wave_of("{" + WEB01_ID + "}", WEB01_ID.lower(), "{" + WEB01_ID.lower() + "}"), None)
    assert [entry["vm"] for entry in entries] == ["{" + WEB01_ID + "}"]


def test_plan_a_vm_by_its_name_and_by_its_id_found_on_one_host_is_gated_once_there():
    found = {"hv01": [{"id": WEB01_ID, "name": "web01"}, {"id": APP01_A, "name": "app01"}], "hv02": []}
    entries = wave.plan(wave_of("web01", "{" + WEB01_ID.lower() + "}", "WEB01"), found)
    assert entries == [{"vm": "web01", "source": "hv01"}]
    entries = wave.plan(wave_of(WEB01_ID, "web01"), found)
    assert entries == [{"vm": WEB01_ID, "source": "hv01"}]


def test_plan_without_having_looked_a_name_and_an_id_stay_two():
    assert len(wave.plan(wave_of("web01", WEB01_ID), None)) == 2


def test_plan_each_vm_gated_where_it_was_found_else_searched_for():
    found = {"hv01": [{"id": WEB01_ID, "name": "web01"}], "hv02": [{"id": APP01_B, "name": "db01"}]}
    entries = wave.plan(wave_of("web01", "db01", "gone01"), found)
    assert [(entry["vm"], entry["source"]) for entry in entries] == [("web01", "hv01"), ("db01", "hv02"), ("gone01", "")]


def test_plan_a_name_on_two_hosts_is_searched_for_and_its_ids_stay_apart():
    found = {"hv01": [{"id": APP01_A, "name": "app01"}], "hv02": [{"id": APP01_B, "name": "APP01"}]}
    entries = wave.plan(wave_of("app01", "App01", APP01_A, "{" + APP01_B + "}"), found)
    assert [(entry["vm"], entry["source"]) for entry in entries] == [
        ("app01", ""), (APP01_A, "hv01"), ("{" + APP01_B + "}", "hv02")]


def test_plan_a_source_given_overrides_where_the_vm_was_found():
    found = {"hv01": [{"id": WEB01_ID, "name": "web01"}]}
    entries = wave.plan(wave_of("web01", "db01", source="hv02"), found)
    assert [entry["source"] for entry in entries] == ["hv02", "hv02"]
    assert [entry["source"] for entry in wave.plan(wave_of("web01", source="hv02"), None)] == ["hv02"]


def test_plan_found_entries_without_an_id_or_a_name_are_harmless():
    found = {"hv01": [{"name": "web01"}, {"id": None, "name": None}, {}]}
    entries = wave.plan(wave_of("web01", "db01"), found)
    assert [(entry["vm"], entry["source"]) for entry in entries] == [("web01", "hv01"), ("db01", "")]


# --- stopped


def test_stopped_names_the_task_and_its_message():
    stop = wave.stopped("db01", "moving the VM", "HV-NEW-01 refused the connection")
    assert (stop["task"], stop["msg"]) == ("moving the VM", "HV-NEW-01 refused the connection")
    assert stop["message"].startswith('STOPPED: the gate of db01 stopped at "moving the VM": HV-NEW-01 refused the connection\n')
    assert "Nothing after that step ran for db01." in stop["message"]


def decision(vm="web01", **changes):
    """A decision as gate/decision.py makes them: allowed from hv01 to hv02 in move mode, moved."""
    made = {"vm": vm, "vm_name": vm, "verdict": "allowed", "allowed": True, "moved": True, "mode": "move",
            "check_mode": False, "source": "hv01", "destination": "hv02", "override": None, "reasons": [],
            "move": {"failed": False, "changed": True, "msg": "moved"},
            "message": f"MOVED: VM '{vm}' is Running on hv02 now."}
    return {**made, **changes}


BLOCKED = {"verdict": "blocked", "allowed": False, "moved": False, "move": None,
           "reasons": [{"host": "hv02", "role": "destination", "check": "vectors", "message": "lacks bits"}]}


@pytest.mark.parametrize("changes, line", [
    ({}, "MOVED from hv01 to hv02"),
    ({"verdict": "overridden", "override": {"reason": "CHG-1", "overridden_reasons": 2}}, "MOVED from hv01 to hv02 (override)"),
    ({"moved": False, "move": {"failed": True, "msg": "job failed"}}, "MOVE FAILED from hv01 to hv02"),
    ({"verdict": "already_there", "moved": False, "move": None, "source": None}, "already on hv02"),
    (BLOCKED, "BLOCKED (1 reason)"),
    ({**BLOCKED, "reasons": BLOCKED["reasons"] * 3}, "BLOCKED (3 reasons)"),
    ({**BLOCKED, "reasons": []}, "BLOCKED (0 reasons)"),
    ({**BLOCKED, "reasons": None}, "BLOCKED (0 reasons)"),
    ({"moved": False, "move": {"failed": False, "msg": "would move"}, "check_mode": True}, "would move from hv01 to hv02 (check mode)"),
    ({"moved": False, "move": {"failed": False, "changed": False, "final": {"host": "hv02"}}},
     "NOTHING TO MOVE: on hv02 already"),  # another run's migration got it there first
    ({"moved": False, "move": None, "mode": "gate"}, "ALLOWED from hv01 to hv02"),
    ({"moved": False, "move": None, "mode": "gate", "check_mode": True}, "ALLOWED from hv01 to hv02"),
    ({"moved": False, "move": None, "mode": "gate", "verdict": "overridden", "override": {"reason": "CHG-1"}},
     "ALLOWED from hv01 to hv02 (override)"),
    ({"error": {"task": "moving the VM", "msg": "the source\n   went away\n"}}, 'STOPPED at "moving the VM": the source went away '),
])
def test_summary_line_for_every_outcome(changes, line):
    assert wave.summary_line(decision(**changes)) == line


def test_report_a_wave_that_moved_every_vm():
    report = wave.report([{"vm": "web01", "decision": decision("web01"), "error": None},
                          {"vm": "db01", "decision": decision("db01")}], "move", False)
    assert report == {"decisions": {"web01": decision("web01"), "db01": decision("db01")},
                      "summary": ["web01: MOVED from hv01 to hv02", "db01: MOVED from hv01 to hv02"],
                      "unmoved": [], "message": None}


def test_report_allowed_in_gate_mode_and_already_there_are_not_unmoved():
    entries = [{"vm": "web01", "decision": decision("web01", moved=False, move=None, mode="gate"), "error": None},
               {"vm": "db01", "decision": decision("db01", verdict="already_there", moved=False, move=None), "error": None}]
    report = wave.report(entries, "gate", False)
    assert report["unmoved"] == [] and report["message"] is None
    assert report["summary"] == ["web01: ALLOWED from hv01 to hv02", "db01: already on hv02"]


def test_report_one_vm_blocked_its_message_without_a_headline():
    blocked = decision("db01", **BLOCKED, message="BLOCKED: db01 may not move from hv01 to hv02 (1 reason)")
    report = wave.report([{"vm": "db01", "decision": blocked, "error": None}], "move", False)
    assert report["unmoved"] == ["db01"] and report["summary"] == ["db01: BLOCKED (1 reason)"]
    assert report["message"] == "BLOCKED: db01 may not move from hv01 to hv02 (1 reason)"
    assert "did not move." not in report["message"]
    assert report["decisions"]["db01"] is blocked


def test_report_a_wave_headline_then_every_unmoved_vms_message_in_order():
    entries = [
        {"vm": "web01", "decision": decision("web01"), "error": None},
        {"vm": "db01", "decision": decision("db01", **BLOCKED, message="BLOCKED: db01"), "error": None},
        {"vm": "app01", "decision": decision("app01", moved=False, move={"failed": True, "msg": "job failed"},
                                             message="MOVE FAILED: app01"), "error": None},
        {"vm": "batch01", "decision": decision("batch01", moved=False, move=None, mode="gate"), "error": None},
    ]
    report = wave.report(entries, "move", False)
    assert report["unmoved"] == ["db01", "app01"]
    assert report["message"] == "2 of 4 VMs did not move.\n\nBLOCKED: db01\n\nMOVE FAILED: app01"
    assert report["summary"] == ["web01: MOVED from hv01 to hv02", "db01: BLOCKED (1 reason)",
                                 "app01: MOVE FAILED from hv01 to hv02", "batch01: ALLOWED from hv01 to hv02"]
    assert list(report["decisions"]) == ["web01", "db01", "app01", "batch01"]


def test_report_a_gate_that_did_not_run():
    report = wave.report([{"vm": " padded ", "decision": None, "error": None},
                          {"vm": "web01", "decision": decision("web01")}], "gate", True)
    stopped = report["decisions"][" padded "]
    message = "STOPPED: the gate of  padded  did not run. Check where it is (Get-VM) before running again."
    assert stopped == {
        "vm": " padded ", "verdict": "error", "allowed": False, "moved": False, "move": None, "mode": "gate",
        "check_mode": True,
        "reasons": [{"host": "", "role": "gate", "check": "the wave", "message": "its gate did not run"}],
        "error": {"task": "the wave", "msg": "its gate did not run", "message": message},
        "message": message,
    }
    assert report["summary"][0] == ' padded : STOPPED at "the wave": its gate did not run'
    assert report["unmoved"] == [" padded "]
    assert report["message"] == f"1 of 2 VMs did not move.\n\n{message}"


def test_report_a_gate_that_stopped_before_deciding():
    stop = wave.stopped("web01", "gating the VM", "HV-OLD-01: access denied")
    report = wave.report([{"vm": "web01", "decision": None, "error": stop}], "move", False)
    made = report["decisions"]["web01"]
    assert made["verdict"] == "error" and made["allowed"] is False and made["moved"] is False
    assert made["reasons"] == [{"host": "", "role": "gate", "check": "gating the VM", "message": "HV-OLD-01: access denied"}]
    assert made["error"] == stop and made["message"] == stop["message"]
    assert report["summary"] == ['web01: STOPPED at "gating the VM": HV-OLD-01: access denied']
    assert report["message"] == stop["message"]  # one VM: no headline


def test_report_a_vm_stopped_after_its_decision_keeps_the_decision_with_the_error():
    stop = wave.stopped("web01", "moving the VM", "lost")
    report = wave.report([{"vm": "web01", "decision": decision("web01", moved=False, move=None), "error": stop},
                          {"vm": "db01", "decision": decision("db01"), "error": None}], "move", False)
    made = report["decisions"]["web01"]
    assert made["verdict"] == "allowed" and made["source"] == "hv01"  # what the gate decided, kept
    assert made["error"] == stop and made["message"] == stop["message"]
    assert report["unmoved"] == ["web01"] and report["summary"][0] == 'web01: STOPPED at "moving the VM": lost'
    assert report["message"] == "1 of 2 VMs did not move.\n\n" + stop["message"]


def test_report_of_no_vm():
    assert wave.report([], "move", False) == {"decisions": {}, "summary": [], "unmoved": [], "message": None}


# --- drain


def test_a_drain_takes_its_host_as_source_and_the_groups_other_hosts_as_candidates():
    request = parse({"drain": "hv01"}, INVENTORY, GROUP)
    assert request.drain == "hv01" and request.vms == ("?",)
    assert request.gate["source"] == "hv01" and request.gate["candidates"] == ["hv02", "hv03"]
    assert request.gate["search_hosts"] == ["hv02", "hv03"]


@pytest.mark.parametrize("extra, word", [({"vm": "web01"}, "vm"), ({"vms": "a,b"}, "vms"), ({"source": "hv02"}, "source")])
def test_a_drain_is_its_host_alone(extra, word):
    with pytest.raises(WaveRequestError) as caught:
        parse({"drain": "hv01", **extra}, INVENTORY, GROUP)
    assert f"drain moves every running VM of its host: give drain alone, without {word}." in caught.value.problems


@pytest.mark.parametrize("host", ["nowhere", ["hv01"], 7])
def test_a_drain_names_an_inventory_host(host):
    with pytest.raises(WaveRequestError) as caught:
        parse({"drain": host}, INVENTORY, GROUP)
    assert caught.value.problems[0] == f"drain must be the inventory name of the host to empty, got {host!r}."


def test_the_drain_wave_is_the_hosts_running_vms_by_name_or_by_id_when_names_repeat():
    vms = [{"id": "A", "name": "web01", "state_name": "Running"}, {"id": "B", "name": "app01", "state_name": "Running"},
           {"id": "C", "name": "APP01", "state_name": "Off"}, {"id": "D", "name": "db01", "state_name": "Saved"}]
    assert wave.drain_wave(parse({"drain": "hv01"}, INVENTORY, GROUP), vms).vms == ("web01", "B")


def test_the_plan_says_where_each_vm_goes_which_go_nowhere_and_what_stays():
    decisions = [{"vm": "web01", "allowed": True, "verdict": "allowed", "destination": "hv02"},
                 {"vm": "db01", "allowed": False, "verdict": "blocked", "reasons": [{"message": "No room."}, {"message": "x"}]}]
    assert wave.plan_lines("hv01", decisions, [{"name": "old01", "state_name": "Off"}]) == [
        "Drain hv01: 2 running VMs; 1 can move, 1 can go nowhere.",
        "  web01 -> hv02",
        "  db01: can go nowhere (2 reasons; first: No room.)",
        "  Not running, left on hv01: old01 (Off)",
    ]


def _allowed(vm, *hosts, needed=4096):
    """An allowed decision with these equally good candidates, its figures as the gate records them."""
    selection = [{"host": host, "ok": True, "surplus_bits": 0} for host in hosts]
    memory = {host: {"needed_mb": needed, "free_mb": None, "reserve_mb": 2048} for host in hosts}
    return {"vm": vm, "allowed": True, "verdict": "allowed", "destination": hosts[0], "selection": selection,
            "checks": {"memory": memory}}


def test_the_room_plan_places_the_vms_together_where_the_most_memory_is_left():
    decisions = [_allowed("a", "hv02", "hv03"), _allowed("b", "hv02", "hv03"), _allowed("c", "hv02", "hv03"),
                 _allowed("d", "hv02", needed=8192)]
    placed, homeless, after = wave.room_plan(decisions, {"hv02": 8192, "hv03": 4096})
    assert placed == {"a": "hv02", "b": "hv02", "c": "hv03"} and homeless == ["d"]
    assert after == {"hv02": 0, "hv03": 0}
    # unknown figures are not counted: every VM is placed where the gate chose
    assert wave.room_plan(decisions, {})[:2] == ({"a": "hv02", "b": "hv02", "c": "hv02", "d": "hv02"}, [])


def test_a_drain_plan_answers_the_n_minus_1_question():
    decisions = [_allowed("a", "hv02", "hv03"), _allowed("b", "hv02", needed=8192)]
    assert wave.plan_lines("hv01", decisions, [], {"hv02": 6144, "hv03": 2048}) == [
        "Drain hv01: 2 running VMs; 1 can move, 1 can go nowhere.",
        "  a -> hv02",
        "  b: can go nowhere (no room left for it once the others moved)",
        "  Room (memory for VMs, less each host's reserve), before -> after the drain: the other hosts cannot hold b.",
        "    hv02: 6144 MB -> 2048 MB",
        "    hv03: 2048 MB -> 2048 MB",
    ]
    assert wave.plan_lines("hv01", decisions[:1], [], {"hv02": 6144})[-2].endswith(
        "the other hosts can hold every VM that can move.")


def test_a_cluster_node_is_held_when_its_vms_fit_one_by_one_but_not_together():
    decisions = [_allowed("a", "hv02", needed=8192), _allowed("b", "hv02", needed=8192)]
    for decision in decisions:
        decision["checks"]["memory"]["hv02"].update(free_mb=8192 + 2048)  # room for one of them, not both
    assert "and b can go nowhere" in wave.held_by_cluster_drain(decisions)
    assert wave.held_by_cluster_drain(decisions[:1]) is None


def test_a_list_written_as_text_is_refused_with_how_to_give_one():
    found = problems(vm=None, vms='["web01", "db01"]')
    assert found == ["vms is a list written as text ('[\"web01\", \"db01\"]'): give the names separated by commas "
                     "(web01,db01), or a list (-e '{\"vms\": [\"web01\", \"db01\"]}')."]
    assert ok(vm=None, vms="[test],web01").vms == ("[test]", "web01")  # brackets alone: still names


class TaggedList(list):
    """As ansible-core 2.19 passes a list from the command line (_AnsibleTaggedList)."""


def test_a_list_of_ansibles_own_class_is_called_a_list():
    assert problems(source=TaggedList(["hv01"])) == ["source must be a string, got a list (['hv01']); quote it."]


def test_a_drain_refused_ends_with_how_to_ask_for_a_drain_and_names_its_host_once():
    with pytest.raises(WaveRequestError) as caught:
        parse({"drain": TaggedList(["hv01"])}, INVENTORY, GROUP)
    assert caught.value.problems == ["drain must be the inventory name of the host to empty, got ['hv01']."]
    assert str(caught.value).endswith("\n" + wave.DRAIN_HELP) and "-e vm=NAME" not in str(caught.value)


@pytest.mark.parametrize("drain, hint", [
    ("HV01", " (The inventory spells it 'hv01'; host names are taken literally, case included.)"),
    (" hv01", " (The inventory has 'hv01'; host names are taken literally, spaces included.)"),
    ("hv01,hv02", " (One host: names separated by commas are not split here.)"), ("hv09", "")])
def test_a_drain_of_a_host_not_in_the_inventory_says_what_it_may_have_meant(drain, hint):
    with pytest.raises(WaveRequestError) as caught:
        parse({"drain": drain}, INVENTORY, GROUP)
    assert caught.value.problems == [f"drain must be the inventory name of the host to empty, got {drain!r}.{hint}"]
