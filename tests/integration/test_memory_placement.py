"""Placement that fits, through playbooks/migrate.yml against hvsim's memory lab (tests/hvsim/labs/memory.yml): two
favourite hosts (the VMs' exact processor) nearly full, two with room, a wave that only fits spread over those, and a
VM that fits nowhere. Every VM lands where it fits, no migration job fails for memory, and a VM that fits nowhere is
named with each host's figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hvsim.pytest_fixtures import hvsim_factory  # noqa: F401  pylint: disable=unused-import
from integration.ansible_output import task_failure
from integration.lab_inventory import write_inventory

ROOT = Path(__file__).resolve().parents[2]
MEMORY_LAB = ROOT / "tests" / "hvsim" / "labs" / "memory.yml"
WAVE = [f"wave0{number}" for number in range(1, 9)]
FAVOURITES, ROOMY = ("HV-MEM-01", "HV-MEM-02"), ("HV-MEM-03", "HV-MEM-04")
pytestmark = pytest.mark.every_core  # each playbook test runs on ansible-core 2.19 and 2.16 (conftest.py)


@pytest.fixture
def memory_lab(hvsim_factory):  # pylint: disable=redefined-outer-name
    return hvsim_factory(MEMORY_LAB, migration_duration_s=1.0)


@pytest.fixture
def migrate(run_playbook, tmp_path, monkeypatch):
    monkeypatch.setenv("ANSIBLE_SHOW_CUSTOM_STATS", "1")

    def run(sim, *extra: str):
        args = [arg for item in extra for arg in ((item,) if item.startswith("-") else ("-e", item))]
        return run_playbook(ROOT / "playbooks" / "migrate.yml", "-i", write_inventory(sim, tmp_path / "hosts.yml"),
                            "-e", "limit_poll=0.3", *args)

    return run


def decisions(result) -> dict:
    line = next(line for line in result.stdout.splitlines() if line.strip().startswith("RUN: "))
    return json.loads(line.split("RUN: ", 1)[1])["migration_gate_decisions"]


def test_a_wave_naive_placement_would_overfill_lands_where_it_fits(memory_lab, migrate):
    result = migrate(memory_lab, f"vms={','.join([*WAVE, 'big01'])}")
    message = task_failure(result)
    assert message.startswith("1 of 9 VMs did not move.")
    assert all(memory_lab.where(vm) in ROOMY for vm in WAVE), {vm: memory_lab.where(vm) for vm in WAVE}
    assert {memory_lab.where(vm) for vm in WAVE} == set(ROOMY)  # spread: neither alone holds the wave
    failed = [job for job in memory_lab.jobs() if job["state"] != 7]  # 7: Completed
    assert failed == [], failed  # no migration job failed for memory (or for anything)
    # big01 fits nowhere, and says so with each host's figures
    assert memory_lab.where("big01") == "HV-MEM-SRC"
    for host in (*FAVOURITES, *ROOMY):
        assert f"[memory] {host} has no room for big01: it needs 63488 MB, and {host} has " in message
    decision = decisions(result)["wave01"]
    assert decision["checks"]["memory"]["HV-MEM-01"]["after_mb"] < 0 and decision["checks"]["memory"]["HV-MEM-04"]["after_mb"] > 0


def test_a_destination_without_room_blocks_with_the_figures(memory_lab, migrate):
    message = task_failure(migrate(memory_lab, "vm=wave01", "destination=HV-MEM-01", "mode=gate"))
    assert message.startswith("BLOCKED: wave01 may not move from HV-MEM-SRC to HV-MEM-01")
    assert ("[memory] HV-MEM-01 has no room for wave01: it needs 8192 MB, and HV-MEM-01 has 6144 MB free, less its "
            "reserve of 2048 MB, 4096 MB for VMs.") in message


def test_the_reserve_is_the_users_to_set(memory_lab, migrate):
    # with no reserve, HV-MEM-01's 6 GiB free still cannot hold 8 GiB; with 45 GiB kept, HV-MEM-03 (44 GiB free) cannot
    message = task_failure(migrate(memory_lab, "vm=wave01", "destination=HV-MEM-03", "mode=gate", "memory_reserve_mb=45056"))
    assert "less its reserve of 45056 MB" in message
    result = migrate(memory_lab, "vm=wave01", "destination=HV-MEM-03", "mode=gate", "memory_reserve_mb=0")
    assert result.returncode == 0, result.stdout
    assert decisions(result)["wave01"]["checks"]["memory"]["HV-MEM-03"]["reserve_mb"] == 0


def test_among_candidates_the_vm_goes_where_it_fits_not_to_the_closest_fit_without_room(memory_lab, migrate):
    result = migrate(memory_lab, "vm=wave01", "mode=gate")
    assert result.returncode == 0, result.stdout
    decision = decisions(result)["wave01"]
    assert decision["destination"] == "HV-MEM-04"  # of equal fit with HV-MEM-03, the one with the most memory left
    why = {item["host"]: item["why"] for item in decision["selection"]}
    assert why["HV-MEM-01"].startswith("compatible by its vectors (0 surplus feature bits) but left out: HV-MEM-01 has no room")


def test_a_drain_plan_says_whether_the_other_hosts_can_hold_its_vms(memory_lab, migrate):
    result = migrate(memory_lab, "drain=HV-MEM-SRC", "--check")
    assert "big01" in task_failure(result)  # a VM that can go nowhere fails the run, after the plan
    assert "Drain HV-MEM-SRC: 9 running VMs; 8 can move, 1 can go nowhere." in result.stdout
    assert "  big01: can go nowhere" in result.stdout
    assert ("  Room (memory for VMs, less each host's reserve), before -> after the drain: the other hosts can hold "
            "every VM that can move.") in result.stdout
    assert "    HV-MEM-01: 4096 MB -> 4096 MB" in result.stdout  # nothing placed where nothing fits
    assert all(memory_lab.where(vm) == "HV-MEM-SRC" for vm in WAVE)  # check mode: the plan is all it does


def test_a_gate_only_wave_plans_no_host_past_its_room(memory_lab, migrate):
    # decided side by side, every VM would pick HV-MEM-04 (the most memory left); together they are placed where
    # each fits, and off01 (32 GiB when it starts), left without room once the others were placed, is decided again
    result = migrate(memory_lab, f"vms={','.join([*WAVE, 'off01'])}", "mode=gate")
    task_failure(result)  # off01 is blocked
    planned: dict[str, int] = {}
    for name, decision in decisions(result).items():
        if decision["allowed"]:
            figures = decision["checks"]["memory"][decision["destination"]]
            planned[decision["destination"]] = planned.get(decision["destination"], 0) + figures["needed_mb"]
    room = {"HV-MEM-03": 45056 - 2048, "HV-MEM-04": 61440 - 2048}
    assert set(planned) == set(ROOMY) and all(planned[host] <= room[host] for host in planned), planned
    off01 = decisions(result)["off01"]
    assert off01["verdict"] == "blocked" and "off01: no room left where the gate chose" in result.stdout
    held = [item["host"] for item in off01["reasons"] if "MB for the VMs this wave is moving there" in item["message"]]
    assert sorted(held) == list(ROOMY)  # blocked by what the wave placed there, with the figures
