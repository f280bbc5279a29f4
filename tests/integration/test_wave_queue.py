"""The wave's queue through playbooks/migrate.yml against hvsim: a migration that would exceed a limit waits instead of
being refused, and a VM that changed while it waited is decided again before anything is sent for it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from hvsim.pytest_fixtures import hvsim_factory, hvsim_lab, hvsim_session  # noqa: F401  pylint: disable=unused-import
from integration.ansible_output import task_failure
from integration.lab_inventory import write_inventory

PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "migrate.yml"
RUNNING_APP01 = "1F3B5D7A-2C4E-4A6B-8D0F-1A2B3C4D5E05"
MIGRATE = "Invoke:MigrateVirtualSystemToHost"
pytestmark = pytest.mark.every_core  # each playbook test runs on ansible-core 2.19 and 2.16 (conftest.py)


@pytest.fixture
def migrate(run_playbook, tmp_path, monkeypatch):
    monkeypatch.setenv("ANSIBLE_SHOW_CUSTOM_STATS", "1")

    def run(sim, *args: str):
        return run_playbook(PLAYBOOK, "-i", write_inventory(sim, tmp_path / "hosts.yml"), "-e", "limit_poll=0.2", *args)

    return run


def test_a_migration_over_a_limit_waits_in_the_queue_and_is_never_refused(hvsim_lab, migrate):
    # HV-NEW-02 takes one live migration at a time: the second VM waits for the first to end.
    result = migrate(hvsim_lab, "-e", f"vms=web01,{RUNNING_APP01}", "-e", "destination=HV-NEW-02")
    assert result.returncode == 0, result.stdout
    assert hvsim_lab.peak_migrations()["HV-NEW-02"] == 1
    requests = hvsim_lab.migration_requests()
    assert [len(requests[guid]) for guid in (hvsim_lab.guid("web01"), RUNNING_APP01)] == [1, 1]  # none refused
    assert hvsim_lab.where("web01") == hvsim_lab.where(RUNNING_APP01) == "HV-NEW-02"


def test_a_vm_that_changed_while_it_waited_is_decided_again_and_not_moved(hvsim_lab, migrate):
    # When the first migration to HV-NEW-02 starts, the VM still waiting for its slot is saved.
    def save_the_waiting_vm():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            jobs = hvsim_lab.jobs("HV-OLD-01")
            if jobs:
                moving = {job["vm"] for job in jobs}
                waiting = next(guid for guid in (hvsim_lab.guid("web01"), RUNNING_APP01) if guid not in moving)
                hvsim_lab.set_vm_state(waiting, "saved")
                return waiting
            time.sleep(0.01)
        return None

    found = {}
    thread = threading.Thread(target=lambda: found.update(vm=save_the_waiting_vm()), daemon=True)
    thread.start()
    result = migrate(hvsim_lab, "-e", f"vms=web01,{RUNNING_APP01}", "-e", "destination=HV-NEW-02")
    thread.join(30)
    waiting = found["vm"]
    assert "changed since its decision (Saved); deciding again" in result.stdout
    message = task_failure(result)
    assert "1 of 2 VMs did not move." in message and "is Saved" in message
    assert len(hvsim_lab.migration_requests().get(waiting, [])) == 0  # nothing was sent for it
    assert hvsim_lab.where(waiting) == "HV-OLD-01"
