"""Hostile requests to playbooks/migrate.yml and to the migration_gate role, run by ansible-playbook against hvsim.

A name is taken literally (never trimmed, never split), a blank answer means "not given", and a request that
cannot be meant (a mapping where a list belongs, an empty list, a blank override reason) is refused before any
request to a host, naming the input. Whatever the input, no other VM moves: every test checks where each VM of
the lab is afterwards and that no MigrateVirtualSystemToHost was sent unless the move was the point.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from hvsim.lab import VirtualMachine
from hvsim.pytest_fixtures import hvsim_factory, hvsim_lab, hvsim_session  # noqa: F401  pylint: disable=unused-import
from integration.ansible_output import task_failure
# run_playbook, and its [core2.19]/[core2.16]/[core2.21] parameters: tests/integration/conftest.py's hook does not
# reach tests/hostile, so this module uses it as its own (a test module may define pytest_generate_tests).
from integration.conftest import pytest_generate_tests, run_playbook, skip_without_its_venv  # noqa: F401  pylint: disable=unused-import
from integration.lab_inventory import write_inventory

PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "migrate.yml"
MIGRATE = "Invoke:MigrateVirtualSystemToHost"
PADDED_ID = "0D0D0D0D-1111-2222-3333-444455556666"
NOT_FOUND = "was not found. Nothing was moved."
pytestmark = pytest.mark.every_core  # each playbook test runs on ansible-core 2.19, 2.16 and 2.21


@pytest.fixture(autouse=True)
def _skip_other_cores_without_their_venvs(request):
    """tests/integration/conftest.py's pytest_runtest_setup, for this directory."""
    skip_without_its_venv(request.node)


def published(stdout: str) -> dict:
    """migration_gate_decisions from the run's custom stats (set_stats), as AWX would receive them."""
    found = {}
    for line in stdout.splitlines():
        if line.strip().startswith("RUN: "):
            found = json.loads(line.split("RUN: ", 1)[1]).get("migration_gate_decisions", {})
    return found


def placement(sim) -> dict[str, str]:
    """Where every VM of the lab is, by id (two VMs may share a name)."""
    with sim.lab.lock:
        ids = list(sim.lab.vms)
    return {vm_id: sim.where(vm_id) for vm_id in ids}


def migrations(sim) -> int:
    """MigrateVirtualSystemToHost requests served, over every host."""
    return sum(sim.counters(host).get(MIGRATE, 0) for host in sim.hosts)


def assert_nothing_moved(sim, before: dict[str, str], stdout: str) -> None:
    assert placement(sim) == before, stdout
    assert migrations(sim) == 0, stdout
    assert not sim.jobs(), stdout


@pytest.fixture
def migrate(run_playbook, tmp_path, monkeypatch):  # pylint: disable=redefined-outer-name
    """migrate(sim, *args) -> (CompletedProcess, decisions from the custom stats)."""
    monkeypatch.setenv("ANSIBLE_SHOW_CUSTOM_STATS", "1")

    def run(sim, *args: str):
        result = run_playbook(PLAYBOOK, "-i", write_inventory(sim, tmp_path / "hosts.yml"), "-e", "limit_poll=0.2", *args)
        return result, published(result.stdout)

    return run


@pytest.fixture
def gate(run_playbook, tmp_path, monkeypatch):  # pylint: disable=redefined-outer-name
    """gate(sim, **role_vars) -> (CompletedProcess, decisions): the role included in a play against localhost."""
    monkeypatch.setenv("ANSIBLE_SHOW_CUSTOM_STATS", "1")

    def run(sim, **role_vars):
        role_vars.setdefault("migration_gate_move_poll", 0.1)
        task = {"name": "Gate the VM", "ansible.builtin.include_role": {"name": "vmgate.hyperv.migration_gate"},
                "vars": role_vars}
        playbook = tmp_path / "gate.yml"
        playbook.write_text(yaml.safe_dump([{"name": "Gate", "hosts": "localhost", "gather_facts": False, "tasks": [task]}]))
        result = run_playbook(playbook, "-i", write_inventory(sim, tmp_path / "hosts.yml"))
        return result, published(result.stdout)

    return run


@pytest.fixture
def padded_lab(hvsim_lab):  # pylint: disable=redefined-outer-name
    """The demo lab with one more VM on HV-OLD-01, named `padded` (web01's twin); the lab reset afterwards."""
    with hvsim_lab.lab.lock:
        web01 = hvsim_lab.lab.vm("web01")
        hvsim_lab.lab.vms[PADDED_ID] = VirtualMachine(guid=PADDED_ID, name="padded", host="HV-OLD-01", state=web01.state,
                                                      version=web01.version, vectors=list(web01.vectors))
    yield hvsim_lab
    hvsim_lab.reset()


def near_miss(name: str, host: str) -> str:
    return (f'Names are taken literally, spaces included: "{name}" on {host} would match without the spaces around '
            "the name; name that VM exactly (or by its id) to gate it.")


# --- Names taken literally


@pytest.mark.parametrize("asked, twin", [(" padded ", "padded"), (" web01 ", "web01")])
def test_a_padded_name_is_not_found_and_its_trimmed_twin_does_not_move(padded_lab, migrate, asked, twin):
    before = placement(padded_lab)
    result, decisions = migrate(padded_lab, "-e", json.dumps({"vm": asked}))
    message = task_failure(result)
    assert message.startswith(f"BLOCKED: {asked} {NOT_FOUND}"), message
    assert near_miss(twin, "HV-OLD-01") in message
    assert list(decisions) == [asked]
    assert decisions[asked]["verdict"] == "blocked" and decisions[asked]["moved"] is False
    assert decisions[asked]["vm_id"] is None
    assert_nothing_moved(padded_lab, before, result.stdout)
    assert padded_lab.where(twin) == "HV-OLD-01"


def test_a_name_with_a_comma_is_one_vm_and_neither_half_moves(hvsim_lab, migrate):
    before = placement(hvsim_lab)
    result, decisions = migrate(hvsim_lab, "-e", "vm=web01,db01")
    message = task_failure(result)
    assert message.startswith(f"BLOCKED: web01,db01 {NOT_FOUND}"), message
    assert "No VM named or with id \"web01,db01\" is on " in message and "would match without the spaces" not in message
    assert list(decisions) == ["web01,db01"] and decisions["web01,db01"]["moved"] is False
    assert "web01: " not in result.stdout and "db01: " not in result.stdout.replace("web01,db01: ", "")
    assert_nothing_moved(hvsim_lab, before, result.stdout)


def test_a_wave_list_keeps_each_item_literally(hvsim_lab, migrate):
    before = placement(hvsim_lab)
    result, decisions = migrate(hvsim_lab, "-e", json.dumps({"vms": [" web01 ", "web01,db01"]}))
    message = task_failure(result)
    assert message.startswith(f"2 of 2 VMs did not move.\n\nBLOCKED:  web01  {NOT_FOUND}"), message
    assert near_miss("web01", "HV-OLD-01") in message and f"BLOCKED: web01,db01 {NOT_FOUND}" in message
    assert sorted(decisions) == [" web01 ", "web01,db01"]
    assert not any(decision["moved"] for decision in decisions.values())
    assert_nothing_moved(hvsim_lab, before, result.stdout)


# --- Refused before any request, naming the input


def test_vms_as_a_mapping_is_refused_before_any_request(hvsim_lab, migrate):
    before = placement(hvsim_lab)
    result, decisions = migrate(hvsim_lab, "-e", json.dumps({"vms": {"web01": "HV-OLD-02"}}))
    message = task_failure(result)
    assert message.startswith("migrate.yml cannot start:\n  - vms must be a list of VM names or ids"), message
    assert "got a mapping ({'web01': 'HV-OLD-02'})" in message and "run one wave per destination" in message
    assert "Say which VM to move and where" in message
    assert decisions == {}
    assert hvsim_lab.request_count() == 0
    assert_nothing_moved(hvsim_lab, before, result.stdout)


def test_candidates_an_empty_list_is_refused_before_any_request(hvsim_lab, migrate):
    before = placement(hvsim_lab)
    result, decisions = migrate(hvsim_lab, "-e", "vm=web01", "-e", json.dumps({"candidates": []}))
    message = task_failure(result)
    assert "\n  - candidates is an empty list: name at least one host, or leave it unset." in message, message
    assert message.startswith("migrate.yml cannot start:") and decisions == {}
    assert hvsim_lab.request_count() == 0
    assert_nothing_moved(hvsim_lab, before, result.stdout)


@pytest.mark.parametrize("reason", ["\u200b\u200b", "   "])
def test_a_blank_override_reason_is_refused_before_any_request(hvsim_lab, migrate, reason):
    before = placement(hvsim_lab)
    result, decisions = migrate(hvsim_lab, "-e", "vm=db01", "-e", "destination=HV-OLD-01",
                                "-e", json.dumps({"override_reason": reason}))
    message = task_failure(result)
    assert "\n  - override_reason is empty or blank. An override needs a written reason" in message, message
    assert decisions == {}
    assert hvsim_lab.request_count() == 0
    assert_nothing_moved(hvsim_lab, before, result.stdout)


def test_vms_of_nothing_but_commas_is_refused_before_any_request(hvsim_lab, migrate):
    before = placement(hvsim_lab)
    result, _decisions = migrate(hvsim_lab, "-e", "vms=,", "-e", "mode=gate")
    assert_nothing_moved(hvsim_lab, before, result.stdout)
    assert hvsim_lab.request_count() == 0
    message = task_failure(result)
    assert message.startswith("migrate.yml cannot start:") and "vms" in message, message


def test_a_wave_item_of_nothing_visible_is_refused_before_any_request(hvsim_lab, migrate):
    before = placement(hvsim_lab)
    result, _decisions = migrate(hvsim_lab, "-e", json.dumps({"vms": ["web01", "\u200b\u200b"]}), "-e", "mode=gate")
    assert_nothing_moved(hvsim_lab, before, result.stdout)
    assert hvsim_lab.request_count() == 0, result.stdout
    message = task_failure(result)
    assert message.startswith("migrate.yml cannot start:") and "vms" in message, message


# --- A blank answer is not given


@pytest.mark.parametrize("candidates", ["", "   "])
def test_candidates_blank_means_every_host_of_the_group(hvsim_lab, migrate, candidates):
    before = placement(hvsim_lab)
    result, decisions = migrate(hvsim_lab, "-e", "vm=web01", "-e", "mode=gate", "-e", json.dumps({"candidates": candidates}))
    assert result.returncode == 0, result.stdout
    decision = decisions["web01"]
    assert decision["verdict"] == "allowed" and decision["source"] == "HV-OLD-01" and decision["destination"] == "HV-NEW-01"
    assert {item["host"] for item in decision["selection"]} == {"HV-OLD-02", "HV-NEW-01", "HV-NEW-02"}
    assert "web01: ALLOWED from HV-OLD-01 to HV-NEW-01" in result.stdout
    assert_nothing_moved(hvsim_lab, before, result.stdout)


def test_candidates_empty_string_moves_the_vm_named_and_no_other(hvsim_lab, migrate):
    before = placement(hvsim_lab)
    result, decisions = migrate(hvsim_lab, "-e", "vm=web01", "-e", json.dumps({"candidates": ""}))
    assert result.returncode == 0, result.stdout
    assert decisions["web01"]["moved"] is True and "web01: MOVED from HV-OLD-01 to HV-NEW-01" in result.stdout
    web01 = hvsim_lab.guid("web01")
    assert placement(hvsim_lab) == {**before, web01: "HV-NEW-01"}
    assert migrations(hvsim_lab) == 1 and list(hvsim_lab.migration_requests()) == [web01]


def test_an_empty_override_reason_is_not_given_and_the_block_holds(hvsim_lab, migrate):
    before = placement(hvsim_lab)
    result, decisions = migrate(hvsim_lab, "-e", "vm=db01", "-e", "destination=HV-OLD-01", "-e", "override_reason=")
    message = task_failure(result)
    assert message.startswith("BLOCKED: db01 may not move from HV-NEW-01 to HV-OLD-01"), message
    assert decisions["db01"]["verdict"] == "blocked" and decisions["db01"]["override"] is None
    assert "OVERRIDDEN" not in result.stdout
    assert_nothing_moved(hvsim_lab, before, result.stdout)


# --- The same through the role


@pytest.mark.parametrize("asked, twin", [(" web01 ", "web01"), ("web01,db01", None)])
def test_the_role_takes_the_name_literally(hvsim_lab, gate, asked, twin):
    before = placement(hvsim_lab)
    result, decisions = gate(hvsim_lab, migration_gate_vm=asked, migration_gate_destination="HV-NEW-01",
                             migration_gate_mode="move")
    message = task_failure(result)
    assert message.startswith(f"BLOCKED: {asked} {NOT_FOUND}"), message
    assert (near_miss(twin, "HV-OLD-01") in message) if twin else ("would match without the spaces" not in message)
    assert list(decisions) == [asked] and decisions[asked]["moved"] is False
    assert_nothing_moved(hvsim_lab, before, result.stdout)


def test_the_role_refuses_empty_candidates_before_any_request(hvsim_lab, gate):
    before = placement(hvsim_lab)
    result, decisions = gate(hvsim_lab, migration_gate_vm="web01", migration_gate_candidates=[], migration_gate_mode="move")
    message = task_failure(result)
    assert message.startswith("migration_gate cannot gate web01:"), message
    assert re.search(r"\n  - migration_gate_candidates is an empty list: name at least one host, or leave it unset\.", message)
    assert decisions == {}
    assert hvsim_lab.request_count() == 0
    assert_nothing_moved(hvsim_lab, before, result.stdout)
