"""More hostile inputs, each one a gap the other hostile tests left: lookalike and unsendable VM names against hvsim
(through HyperVHost, and through migrate.yml where the path matters), a VM named by another VM's id, numbers that are
not plain numbers or too large to wait for, and filter arguments of the wrong type.
"""

from __future__ import annotations

import json
import re

import pytest
from ansible.errors import AnsibleFilterError
from ansible.plugins.loader import filter_loader

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate.request import RequestError, parse
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import HyperVError
from hostile.test_hostile_requests import NOT_FOUND, assert_nothing_moved, migrate, placement  # noqa: F401  pylint: disable=unused-import
from hostile.test_hostile_xml import host_api
from hvsim.lab import VirtualMachine
from hvsim.pytest_fixtures import hvsim_lab, hvsim_session  # noqa: F401  pylint: disable=unused-import
from integration.ansible_output import task_failure
from integration.conftest import run_playbook  # noqa: F401  pylint: disable=unused-import

KELVIN = "\u212a"  # KELVIN SIGN: str.lower() makes it a k, Windows does not
TWIN_ID = "0C0C0C0C-1111-2222-3333-444455556666"
WEB01 = "6C9A2A5F-7F1B-4D4B-9C1E-0F0E1D2C3B4A"


@pytest.fixture
def lab_with(hvsim_lab):  # pylint: disable=redefined-outer-name
    """lab_with({guid: name}): the demo lab with these VMs on HV-OLD-01, or `host` (web01's twins but for the name)."""
    def add(vms: dict[str, str], host: str = "HV-OLD-01"):
        with hvsim_lab.lab.lock:
            web01 = hvsim_lab.lab.vm("web01")
            for guid, name in vms.items():
                hvsim_lab.lab.vms[guid] = VirtualMachine(guid=guid, name=name, host=host, state=web01.state,
                                                         version=web01.version, vectors=list(web01.vectors))
        return hvsim_lab

    yield add
    hvsim_lab.reset()


# --- Names, through the Hyper-V API over hvsim


def test_a_lookalike_letter_is_not_the_letter(lab_with):
    sim = lab_with({TWIN_ID: f"{KELVIN}8s"})
    api = host_api(sim)
    assert api.virtual_machines(["k8s"]) == [] and api.find_vm("k8s") is None  # hvsim's WQL, like str.lower(), says k
    assert api.find_vm("K8S") is None
    assert api.find_vm(f"{KELVIN}8S")["Name"] == TWIN_ID  # the name itself, case aside, still answers
    assert api.find_vm("WEB01")["ElementName"] == "web01"


@pytest.mark.parametrize("name", ["e\u0301", "\uff57\uff45\uff42\uff10\uff11", "\u202eweb01", "web01\u200b"],
                         ids=["nfd", "full-width", "rtl", "zero-width"])
def test_lookalikes_match_only_themselves(lab_with, name):
    sim = lab_with({TWIN_ID: name})
    api = host_api(sim)
    assert api.find_vm(name)["Name"] == TWIN_ID
    other = "\u00e9" if name == "e\u0301" else "web01"  # NFC for NFD; the plain name for the others
    assert (api.find_vm(other) or {}).get("Name") != TWIN_ID


def test_a_vm_named_by_another_vms_id_makes_that_id_ambiguous(lab_with):
    sim = lab_with({TWIN_ID: WEB01})  # web01's id, as a name
    api = host_api(sim)
    assert sim.guid("web01") == WEB01
    with pytest.raises(HyperVError, match=r"2 VMs are named '6C9A2A5F-.*' or have it as id \(ids .*\); name one by its id"):
        api.find_vm(WEB01)
    assert api.find_vm("{" + WEB01.lower() + "}")["ElementName"] == "web01"  # braces: an id only
    assert api.find_vm(TWIN_ID)["Name"] == TWIN_ID


def test_a_vm_is_found_by_its_id_alone_where_another_is_named_so(lab_with):
    sim = lab_with({TWIN_ID: WEB01})
    api = host_api(sim)
    assert api.vm_by_id(WEB01)["ElementName"] == "web01"
    assert api.vm_by_id("{" + WEB01.lower() + "}")["ElementName"] == "web01"
    assert host_api(sim, "HV-NEW-01").vm_by_id(WEB01) is None  # web01 is not there, whatever is named so


@pytest.mark.parametrize("name, code", [("a\x00b", "U+0000"), ("a\x1bb", "U+001B"), ("a\uffffb", "U+FFFF"),
                                        ("a\ud800b", "U+D800")])
def test_a_name_xml_cannot_carry_is_refused_before_any_request(hvsim_lab, name, code):  # pylint: disable=redefined-outer-name
    before = hvsim_lab.request_count()
    with pytest.raises(HyperVError, match=f"No VM can be named .*: it holds {re.escape(code)} \\(at 1\\), which XML cannot carry"):
        host_api(hvsim_lab).find_vm(name)
    assert hvsim_lab.request_count() == before


# --- Names, through migrate.yml


def test_migrate_never_takes_a_lookalike_for_the_vm(lab_with, migrate):  # pylint: disable=redefined-outer-name
    sim = lab_with({TWIN_ID: f"{KELVIN}8s"})
    before = placement(sim)
    result, decisions = migrate(sim, "-e", "vm=k8s", "-e", "destination=HV-NEW-01")
    assert task_failure(result).startswith(f"BLOCKED: k8s {NOT_FOUND}")
    assert decisions["k8s"]["vm_id"] is None and decisions["k8s"]["moved"] is False
    assert_nothing_moved(sim, before, result.stdout)


def test_migrate_follows_the_vm_by_its_id_where_another_vm_is_named_so(lab_with, migrate):  # pylint: disable=redefined-outer-name
    sim = lab_with({TWIN_ID: WEB01}, host="HV-NEW-01")  # on the destination, a VM named web01's id
    result, decisions = migrate(sim, "-e", "vm=web01", "-e", "destination=HV-NEW-01")
    assert result.returncode == 0, result.stdout
    assert decisions["web01"]["moved"] is True
    assert sim.lab.vm("web01").host == "HV-NEW-01" and sim.lab.vms[TWIN_ID].host == "HV-NEW-01"


def test_migrate_refuses_a_name_xml_cannot_carry_before_any_request(hvsim_lab, migrate):  # pylint: disable=redefined-outer-name
    before = placement(hvsim_lab)
    result, _decisions = migrate(hvsim_lab, "-e", json.dumps({"vm": "web01\u001b[2J", "destination": "HV-NEW-01"}))
    message = task_failure(result)
    assert message.startswith("migrate.yml cannot start:") and "it holds U+001B (at 5), which XML cannot carry" in message
    assert hvsim_lab.request_count() == 0
    assert_nothing_moved(hvsim_lab, before, result.stdout)


# --- Request options, taken literally


INVENTORY = ["hv01", "hv02"]


def problems(**raw) -> list[str]:
    with pytest.raises(RequestError) as caught:
        parse({"vm": "web01", "destination": "hv02", **raw}, INVENTORY)
    return caught.value.problems


@pytest.mark.parametrize("option", ["limit_wait", "limit_poll"])
@pytest.mark.parametrize("value, said", [("1_0", "got str ('1_0')"), ("\u0663", "got str ('\u0663')"),
                                         (10**400, "must be at most 604800 seconds (a week), got <1329-bit integer>"),
                                         ("1e10", "must be at most 604800 seconds (a week), got 10000000000.0")],
                         ids=["underscore", "arabic-indic", "401-digits", "1e10"])
def test_a_number_is_plain_and_at_most_a_week(option, value, said):
    [problem] = problems(**{option: value})
    assert problem.startswith(f"migration_gate_{option} must ") and said in problem, problem


def test_a_week_is_the_longest_wait():
    assert parse({"vm": "web01", "destination": "hv02", "limit_wait": "604800"}, INVENTORY).limit_wait == 604800


@pytest.mark.parametrize("value", ["\u0664\u0660\u0669\u0666", "4_096", 2**64, str(2**64), "9" * 100_000],
                         ids=["arabic-indic", "underscore", "2**64", "2**64-string", "100000-digits"])
def test_a_memory_reserve_is_plain_digits_within_64_bits(value):
    [problem] = problems(memory_reserve_mb=value)
    assert problem.startswith("migration_gate_memory_reserve_mb must be a whole number of MB, 0 or more (at most "
                              "2**64 - 1), got ") and len(problem) < 200, problem


def test_the_largest_memory_reserve():
    assert parse({"vm": "web01", "destination": "hv02", "memory_reserve_mb": str(2**64 - 1)}, INVENTORY).memory_reserve_mb == 2**64 - 1


@pytest.mark.parametrize("states, unknown", [(["running"], "'running'"), (["Running", ""], "''")])
def test_allowed_states_are_states_a_vm_can_be_in(states, unknown):
    [problem] = problems(allowed_states=states)
    assert problem.startswith(f"migration_gate_allowed_states has names that are no VM state: {unknown}; the states are ")
    assert "Running" in problem and "Saved" in problem


def test_a_vm_name_with_control_characters_is_shown_quoted():
    with pytest.raises(RequestError) as caught:
        parse({"vm": "web01\n- all is well", "destination": "hv02", "limit_poll": 0}, INVENTORY)
    assert str(caught.value).startswith('migration_gate cannot gate "web01\\n- all is well":\n  - ')


def test_a_huge_value_is_shown_cut_short():
    [problem] = problems(mode=["move"] * 100_000)
    assert problem.startswith("migration_gate_mode must be one of gate, move, got ['move', ") and len(problem) < 200


# --- Filters: a wrong type is refused, never guessed at


SERVICE = {"enabled_state": 2, "live_migration_enabled": True, "listener_addresses": ["10.0.0.12"],
           "active_vm_migrations": 2, "max_vm_migrations": 2}


def ansible_filter(name: str):
    return filter_loader.get(f"vmgate.hyperv.{name}").j2_function


def test_include_limit_is_a_boolean():
    reasons = ansible_filter("migration_service_reasons")
    assert [reason["check"] for reason in reasons(SERVICE, "hv02", "destination")] == ["migration limit"]
    assert reasons(SERVICE, "hv02", "destination", False) == []
    with pytest.raises(AnsibleFilterError, match="include_limit as a boolean, got 'hv02' and 'no'"):
        reasons(SERVICE, "hv02", "destination", "no")


@pytest.mark.parametrize("field, value, kind", [("live_migration_enabled", "false", "a boolean"),
                                                ("max_vm_migrations", "2", "a whole number"),
                                                ("active_vm_migrations", True, "a whole number"),
                                                ("enabled_state", -1, "a whole number"),
                                                ("listener_addresses", "10.0.0.12", "a list")])
def test_a_service_field_of_another_type_is_refused(field, value, kind):
    with pytest.raises(AnsibleFilterError, match=f"hv02: migration_service.{field} must be {kind} or null, got "):
        ansible_filter("migration_service_reasons")({**SERVICE, field: value}, "hv02", "destination", False)


def test_a_decision_short_of_the_gates_is_named():
    with pytest.raises(AnsibleFilterError, match="as the gate returns it: it has no 'vm_name'"):
        ansible_filter("migration_outcome")({"verdict": "allowed", "check_mode": False}, {"changed": True})
