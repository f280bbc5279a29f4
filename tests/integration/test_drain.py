"""playbooks/drain.yml (migrate.yml with drain=HOST) run by ansible-playbook against hvsim: the plan first, then every
running VM moved within the limits; check mode plans only; a VM that can go nowhere is named with its reasons."""

from __future__ import annotations

from pathlib import Path

import pytest

from hvsim.pytest_fixtures import hvsim_factory, hvsim_lab, hvsim_session  # noqa: F401  pylint: disable=unused-import
from integration.ansible_output import task_failure
from integration.lab_inventory import write_inventory

PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "drain.yml"
MIGRATE = "Invoke:MigrateVirtualSystemToHost"
pytestmark = pytest.mark.every_core  # each playbook test runs on ansible-core 2.19 and 2.16 (conftest.py)


@pytest.fixture
def drain(run_playbook, tmp_path):
    def run(sim, *args: str):
        return run_playbook(PLAYBOOK, "-i", write_inventory(sim, tmp_path / "hosts.yml"), "-e", "limit_poll=0.2", *args)

    return run


def test_every_running_vm_leaves_and_the_plan_comes_first(hvsim_lab, drain):
    result = drain(hvsim_lab, "-e", "host=HV-NEW-02")
    assert result.returncode == 0, result.stdout
    plan = result.stdout.index("Drain HV-NEW-02: 1 running VM; 1 can move, 0 can go nowhere.")
    assert "  analytics01 -> HV-NEW-01" in result.stdout
    assert "  Not running, left on HV-NEW-02: app01 (Saved)" in result.stdout
    assert plan < result.stdout.index("analytics01: moving from HV-NEW-02 to HV-NEW-01")
    assert hvsim_lab.where("analytics01") == "HV-NEW-01"
    assert [vm.host for vm in hvsim_lab.lab.find_vms("app01") if vm.state != 2] == ["HV-NEW-02"]


def test_check_mode_plans_and_moves_nothing(hvsim_lab, drain):
    result = drain(hvsim_lab, "-e", "host=HV-NEW-02", "--check")
    assert result.returncode == 0, result.stdout
    assert "Drain HV-NEW-02: 1 running VM; 1 can move" in result.stdout
    assert hvsim_lab.where("analytics01") == "HV-NEW-02" and MIGRATE not in hvsim_lab.counters("HV-NEW-02")


def test_a_vm_that_can_go_nowhere_is_named_with_its_reasons(hvsim_lab, drain):
    result = drain(hvsim_lab, "-e", "host=HV-OLD-02")
    message = task_failure(result)
    assert "legacy01: can go nowhere" in result.stdout
    assert message.startswith("BLOCKED: no candidate can take legacy01 from HV-OLD-02")
    assert "Live migration is turned off on the source HV-OLD-02" in message
    assert hvsim_lab.where("legacy01") == "HV-OLD-02"


def test_a_drain_names_its_host_and_nothing_else(hvsim_lab, drain):
    message = task_failure(drain(hvsim_lab, "-e", "host=HV-OLD-01", "-e", "vm=web01"))
    assert "drain moves every running VM of its host: give drain alone, without vm." in message
    assert "drain must be the inventory name" in task_failure(drain(hvsim_lab, "-e", "host=nowhere"))
    assert hvsim_lab.request_count() == 0
