"""Live migration turned off on a destination while a wave runs (Disable-VMMigration, or a host taken out for
maintenance), through playbooks/migrate.yml against hvsim: the queue reads it with the hosts' limits and sends nothing
more there. A VM with an equally good open destination goes there; one without is reported at once, saying why."""

from __future__ import annotations

import pytest

from hvsim.pytest_fixtures import hvsim_factory  # noqa: F401  pylint: disable=unused-import
from integration.ansible_output import task_failure
from integration.wave_load import VECTORS, VM_VECTORS, audit, run_wave

MIGRATE = "Invoke:MigrateVirtualSystemToHost"
POLL_JOB = "Get:Msvm_MigrationJob"
LIMITS = {"HV01": 1, "HV02": 1, "HV03": 1}  # one at a time: the first request is sent before it goes off
LAB = {
    "name": "live-migration-off",
    "hosts": [{"name": name, "address": f"10.30.1.{index}", "vectors": VECTORS,
               "migration": {"listeners": [f"10.30.2.{index}"], "max_vm": limit}}
              for index, (name, limit) in enumerate(LIMITS.items(), start=1)],
    "vms": [{"name": f"vm{index}", "host": "HV01", "state": "running", "vectors": VM_VECTORS} for index in range(1, 5)],
}
WAVE = ("-e", "limit_poll=0.2", "-e", "limit_wait=600", "-e", "move_timeout=120")  # a wait would show as a hang


@pytest.fixture
def lab(hvsim_factory):  # pylint: disable=redefined-outer-name
    return hvsim_factory(LAB, migration_duration_s=2.0)


def turn_off_live_migration_on(sim, host: str) -> None:
    """When the wave first polls a migration job (its request accepted, its job running), live migration goes off on
    `host`: the running job goes on, a new request there fails."""
    def turn_off():
        with sim.lab.lock:
            sim.lab.host(host).migration.enabled = False

    sim.inject("HV01", "call", op=POLL_JOB, times=1, action=turn_off)


def test_the_wave_sends_nothing_more_to_a_host_turned_off_and_uses_the_other(lab, tmp_path):
    turn_off_live_migration_on(lab, "HV02")
    wave = run_wave(lab, ["vm1", "vm2", "vm3"], tmp_path, "-e", "candidates=HV02,HV03", *WAVE)
    assert wave.result.returncode == 0, {name: (decision.get("move") or {}).get("msg") for name, decision in wave.decisions.items()}
    placed = {name: lab.where(name) for name in ("vm1", "vm2", "vm3")}
    assert list(placed.values()).count("HV02") <= 1 and list(placed.values()).count("HV03") >= 2, placed
    sent = lab.migration_requests()
    to_hv02 = [job for jobs in sent.values() for job in jobs if job["destination"] == "HV02"]
    assert all(job["state"] == 7 for job in to_hv02), to_hv02  # none refused: nothing sent after it closed
    assert audit(lab, LAB, list(placed), wave.decisions).problems == []


def test_a_vm_whose_only_destination_was_turned_off_is_reported_at_once(lab, tmp_path):
    turn_off_live_migration_on(lab, "HV02")
    wave = run_wave(lab, ["vm1", "vm2", "vm3"], tmp_path, "-e", "destination=HV02", *WAVE)
    message = task_failure(wave.result)
    assert message.startswith("2 of 3 VMs did not move."), message
    assert lab.where("vm1") == "HV02" and lab.where("vm2") == lab.where("vm3") == "HV01"
    for name in ("vm2", "vm3"):
        said = wave.decisions[name]["move"]["msg"]
        assert said == (f"live migration is turned off on HV02 now: the migration was not sent. Turn it on "
                        f"(Enable-VMMigration) and run the wave again. {name} is still on HV01."), said
    assert lab.counters("HV01")[MIGRATE] == 1  # nothing sent to be refused
    assert audit(lab, LAB, ["vm1", "vm2", "vm3"], wave.decisions).problems == []
