"""Two runs of playbooks/migrate.yml meet on one VM, against hvsim: the run that loses names the other run's migration
job and ends with where the VM is; a run killed mid-move and run again is told which job still moves the VM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hvsim.pytest_fixtures import hvsim_factory  # noqa: F401  pylint: disable=unused-import
from integration.ansible_output import task_failure
from integration.lab_inventory import write_inventory

PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "migrate.yml"
MIGRATE = "Invoke:MigrateVirtualSystemToHost"
PRECHECK = "Invoke:CheckVirtualSystemIsMigratableToHost"
SOURCE, DESTINATION = "HV-OLD-01", "HV-NEW-01"
MOVE_WEB01 = ("-e", "vm=web01", "-e", f"destination={DESTINATION}", "-e", "limit_poll=0.2")
pytestmark = pytest.mark.every_core  # each playbook test runs on ansible-core 2.19 and 2.16 (conftest.py)


def started_playbook(request, *args: str) -> subprocess.Popen:
    """migrate.yml started as conftest's run_playbook runs it (the same ansible-core), in a process group of its own
    so that the test can kill the whole run, its forked workers included."""
    core = getattr(getattr(request.node, "callspec", None), "params", {}).get("run_playbook")
    bin_dir, python = (core.bin, core.python) if core else (Path(sys.executable).parent, Path(sys.executable))
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    if bin_dir != Path(sys.executable).parent:
        env.update(PATH=os.pathsep.join([str(bin_dir), env.get("PATH", "")]), VIRTUAL_ENV=str(bin_dir.parent),
                   ANSIBLE_PYTHON_INTERPRETER=str(python))
    command = [str(bin_dir / "ansible-playbook"), "-i", "localhost,", "-c", "local",
               "-e", f"ansible_python_interpreter={python}", str(PLAYBOOK), *args]
    return subprocess.Popen(command, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_for_a_job(sim, timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = sim.jobs(SOURCE)
        if jobs:
            return jobs[0]
        time.sleep(0.05)
    raise AssertionError(f"no migration job started on {SOURCE} within {timeout:g} s")


def line_with(stdout: str, text: str) -> str:
    found = [line for line in stdout.splitlines() if text in line]
    assert found, stdout
    return found[-1].strip().rstrip('",')


def test_two_runs_for_one_vm_at_once_one_moves_it_and_the_other_names_that_job(hvsim_factory, run_playbook, tmp_path):  # noqa: F811
    sim = hvsim_factory(migration_duration_s=3.0)
    # Both gates allow the move (no job runs yet); their two requests then reach the source at the same moment.
    both_sent = threading.Barrier(2, timeout=120)

    def together():
        try:
            both_sent.wait()
        except threading.BrokenBarrierError:
            pass

    sim.inject(SOURCE, "call", op=MIGRATE, times=2, action=together)
    inventory = write_inventory(sim, tmp_path / "hosts.yml")
    results: dict[int, subprocess.CompletedProcess] = {}
    runs = [threading.Thread(target=lambda n=n: results.__setitem__(n, run_playbook(PLAYBOOK, "-i", inventory, *MOVE_WEB01)))
            for n in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(300)

    assert sim.counters(SOURCE)[MIGRATE] == 2, [result.stdout for result in results.values()]
    requests = sim.migration_requests()[sim.guid("web01")]
    assert len(requests) == 1 and requests[0]["state"] == 7  # one job ran, and no VM moved twice
    assert sim.where("web01") == DESTINATION
    job_id = requests[0]["id"]
    lost = [result for result in results.values() if "32774 (System is in use)" in result.stdout]
    won = [result for result in results.values() if "32774 (System is in use)" not in result.stdout]
    assert len(lost) == len(won) == 1, [result.stdout for result in results.values()]
    assert won[0].returncode == 0 and "MOVED: VM 'web01'" in won[0].stdout, won[0].stdout
    assert lost[0].returncode == 0, lost[0].stdout  # the VM is where this run wanted it: nothing left to do
    told = line_with(lost[0].stdout, "NOTHING TO MOVE: MigrateVirtualSystemToHost returned 32774")
    assert f"migration job {job_id} is moving VM 'web01'" in told and f"from {SOURCE} to {DESTINATION}" in told
    assert "Waiting for that job to end is the remedy" in told and "it completed after" in told
    assert "was not moved" not in told and "still on" not in told
    assert told.endswith(f"is on {DESTINATION} now, moved there by that job."), told


def test_a_run_killed_mid_move_then_run_again_is_told_which_job_still_moves_the_vm(hvsim_factory, run_playbook, request,  # noqa: F811
                                                                                   tmp_path):
    sim = hvsim_factory(migration_duration_s=8.0)
    inventory = write_inventory(sim, tmp_path / "hosts.yml")
    killed = started_playbook(request, "-i", inventory, *MOVE_WEB01)
    try:
        job = wait_for_a_job(sim)
    finally:
        os.killpg(killed.pid, signal.SIGKILL)  # kill -9: the run and its forked workers, mid-move
        killed.communicate(timeout=30)
    assert job["state"] == 4 and sim.where("web01") == SOURCE  # the job goes on without the run
    prechecks = sim.counters(SOURCE).get(PRECHECK, 0)

    rerun = run_playbook(PLAYBOOK, "-i", inventory, *MOVE_WEB01)
    message = task_failure(rerun)
    assert message.startswith(f"BLOCKED: web01 may not move from {SOURCE} to {DESTINATION} (1 reason)"), message
    assert f"[migration running] Migration job {job['id']} is moving web01 from {SOURCE} to {DESTINATION} (" in message
    assert "% complete), started by another run, a run that was stopped, or by hand." in message
    assert "Wait for it to end, then run again: the gate then sees where web01 is." in message
    assert "Invalid State" not in message and "live migration turned off" not in message
    # The source showed a live migration running, so the gate looked for the VM's job before asking Hyper-V.
    assert sim.counters(SOURCE).get(PRECHECK, 0) == prechecks
    assert sim.counters(SOURCE)[MIGRATE] == 1

    ended = sim.wait_for_job(job["id"], timeout=30)
    assert ended["state"] == 7 and sim.where("web01") == DESTINATION
    again = run_playbook(PLAYBOOK, "-i", inventory, *MOVE_WEB01)
    assert again.returncode == 0 and "ALREADY THERE" in again.stdout, again.stdout
    assert sim.counters(SOURCE)[MIGRATE] == 1  # never sent twice
