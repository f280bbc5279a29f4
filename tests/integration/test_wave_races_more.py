"""Races and odd job endings in a wave through playbooks/migrate.yml against hvsim, each made deterministic with hvsim's
'call' faults: afterwards every VM is where the play says, no VM was sent twice, and the summary tells the truth."""

from __future__ import annotations

import pytest

from hvsim.pytest_fixtures import hvsim_factory  # noqa: F401  pylint: disable=unused-import
from integration.ansible_output import task_failure
from integration.wave_load import VECTORS, VM_VECTORS, audit, run_wave

MIGRATE = "Invoke:MigrateVirtualSystemToHost"
POLL_JOB = "Get:Msvm_MigrationJob"
LIMITS = {"HV01": 2, "HV02": 2, "HV03": 8}
LAB = {
    "name": "races",
    "hosts": [{"name": name, "address": f"10.20.1.{index}", "vectors": VECTORS,
               "migration": {"listeners": [f"10.20.2.{index}"], "max_vm": limit}}
              for index, (name, limit) in enumerate(LIMITS.items(), start=1)],
    # vm1's jobs are the only ones HV01 runs, so that its first job poll there is vm1's
    "vms": [{"name": name, "host": host, "state": "running", "vectors": VM_VECTORS}
            for name, host in (("vm1", "HV01"), ("vm2", "HV03"))],
}
TO_HV02 = ("-e", "destination=HV02", "-e", "limit_poll=0.2", "-e", "move_timeout=120")


@pytest.fixture
def lab(hvsim_factory):  # pylint: disable=redefined-outer-name
    return hvsim_factory(LAB, migration_duration_s=1.0)


def end_the_job_of(sim, vm: str, state: int, moved: bool) -> None:
    """On the first poll of vm's migration job, end it in `state` with an ErrorCode, the VM moved or not."""
    def end():
        with sim.lab.lock:
            job = next(job for job in sim.lab.jobs.values() if job.vm_guid == sim.guid(vm))
            if moved:  # as if its time had passed: the VM arrives
                job.started -= job.duration
                sim.lab.tick()
            job.state, job.error_code = state, 32768
            job.error_description = f"Injected: the job ended in state {state}."
            job.finished, job.finished_wall = sim.lab.clock(), sim.lab.wall()

    sim.inject("HV01", "call", op=POLL_JOB, times=1, action=end)


def test_a_vm_named_by_its_name_and_its_id_with_a_source_is_moved_once(lab, tmp_path):
    guid = lab.guid("vm1")
    wave = run_wave(lab, ["vm1", f"{{{guid.lower()}}}", "VM1", guid], tmp_path, "-e", "source=HV01", *TO_HV02)
    assert wave.result.returncode == 0, wave.result.stdout[-3000:]
    assert list(wave.decisions) == ["vm1"] and wave.decisions["vm1"]["moved"]
    assert len(lab.migration_requests()[guid]) == lab.counters("HV01")[MIGRATE] == 1
    assert audit(lab, LAB, ["vm1"], wave.decisions).problems == []


@pytest.mark.parametrize("state", [32768, 10], ids=["completed-with-warnings", "exception"])
def test_a_job_that_ends_with_an_error_code_after_the_vm_arrived_reports_it_moved_with_the_error(lab, tmp_path, state):
    end_the_job_of(lab, "vm1", state, moved=True)
    wave = run_wave(lab, ["vm1", "vm2"], tmp_path, *TO_HV02)
    assert wave.result.returncode == 0, wave.result.stdout[-3000:]
    assert lab.where("vm1") == lab.where("vm2") == "HV02"
    assert wave.decisions["vm1"]["moved"] and not wave.decisions["vm1"]["move"]["failed"]
    assert "ErrorCode 32768" in wave.decisions["vm1"]["move"]["msg"]
    assert f"the job ended in state {state}" in wave.decisions["vm1"]["move"]["msg"]
    assert "vm1: MOVED from HV01 to HV02" in wave.result.stdout and "vm2: MOVED from HV03 to HV02" in wave.result.stdout
    assert lab.counters("HV01")[MIGRATE] == 1


def test_a_killed_job_leaves_the_vm_on_its_source_and_says_so(lab, tmp_path):
    end_the_job_of(lab, "vm1", 9, moved=False)
    wave = run_wave(lab, ["vm1", "vm2"], tmp_path, *TO_HV02)
    message = task_failure(wave.result)
    assert message.startswith("1 of 2 VMs did not move.") and "ended Killed with ErrorCode 32768" in message
    assert "VM 'vm1'" in message and "is still on HV01" in message
    assert (lab.where("vm1"), lab.where("vm2")) == ("HV01", "HV02")
    assert "vm1: MOVE FAILED from HV01 to HV02" in wave.result.stdout and "vm2: MOVED from HV03 to HV02" in wave.result.stdout
    assert lab.counters("HV01")[MIGRATE] == 1  # not sent again


def test_a_job_that_vanishes_before_it_is_seen_to_end_fails_the_move_at_once_saying_where_the_vm_is(lab, tmp_path):
    def remove_the_job():  # WMI lost it while it ran: the VM stays on its source
        with lab.lab.lock:
            for job_id in [job.instance_id for job in lab.lab.jobs.values() if job.vm_guid == lab.guid("vm1")]:
                del lab.lab.jobs[job_id]

    lab.inject("HV01", "call", op=POLL_JOB, times=1, action=remove_the_job)
    wave = run_wave(lab, ["vm1", "vm2"], tmp_path, *TO_HV02)
    message = task_failure(wave.result)
    # Not "is not on HV02 after 120 s": the source's list of the VM's jobs says the job is gone
    assert "is no longer listed on HV01, so it ended, and it did not bring the VM to HV02" in message, message
    assert "VM 'vm1'" in message and "is still on HV01" in message and "after 120 s" not in message
    assert (lab.where("vm1"), lab.where("vm2")) == ("HV01", "HV02")
    assert lab.counters("HV01")[MIGRATE] == 1  # vm1's request was not sent again


def test_a_lost_reply_to_a_request_whose_job_failed_at_once_tells_that_job_and_is_not_sent_again(lab, tmp_path):
    lab.inject("HV01", "migration_fail", percent=0, message="Injected: the destination refused it.")
    lab.inject("HV01", "drop", op=MIGRATE, times=1, phase="after")  # the job is made, then the reply is lost
    wave = run_wave(lab, ["vm1", "vm2"], tmp_path, *TO_HV02)
    message = task_failure(wave.result)
    job = lab.migration_requests()[lab.guid("vm1")]
    assert len(job) == 1 and job[0]["state"] == 10  # sent once
    assert f"the latest migration job HV01 lists for it, {job[0]['id']}, ended Exception" in message, message
    assert "Injected: the destination refused it" in message and "did not take effect" not in message
    assert "it is not on HV02: it did not move. The migration was not sent again" in message
    assert (lab.where("vm1"), lab.where("vm2")) == ("HV01", "HV02")
