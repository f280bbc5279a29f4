"""Mover against hvsim over real sockets: a request refused for a host's migration limit is waited out and sent
again within limit_wait, nothing else is ever sent twice, and a host left idle through a long job is reached anew.

The clock is the real one plus the waits the Mover asked for: a wait for a slot advances it instead of sleeping,
and is where a test changes the lab (frees the slot, moves the VM away).
"""

from __future__ import annotations

import time

import pytest

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import HyperVHost
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.move import MoveFailed, MoveRequest, Mover, next_poll, refused_for_limit
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman import client as wsman_client
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.client import WSManClient
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.settings import WinRMSettings
from hvsim import server
from hvsim.pytest_fixtures import HVSIM_PASSWORD, HVSIM_USER, hvsim_factory  # noqa: F401  pylint: disable=unused-import

MIGRATE = "Invoke:MigrateVirtualSystemToHost"
POLL = 7.0  # limit_poll: the simulated waits; the job polls (poll_interval) are real and short
HOST = {"vectors": [{"id": 1, "op": 2, "value": 255}], "migration": {"listeners": ["10.0.0.1"], "max_vm": 1}}
LAB = {
    "name": "limit",
    "hosts": [{"name": "HV1", **HOST}, {"name": "HV2", **HOST}, {"name": "HV3", **HOST}],
    "vms": [{"name": "web01", "host": "HV1", "vectors": [{"id": 1, "op": 2, "value": 15}]}],
}


class Lab:
    """The simulator, a Mover from HV1 to HV2 over WS-Management, and the simulated waits."""

    def __init__(self, sim):
        self.sim = sim
        self.offset = 0.0
        self.waits: list[float] = []
        self.on_wait = lambda count: None

    def api(self, name: str) -> HyperVHost:
        handle = self.sim.hosts[name]
        settings = WinRMSettings(host=handle.bind, port=handle.http_port, scheme="http", username=HVSIM_USER,
                                 password=HVSIM_PASSWORD).check()
        return HyperVHost(WSManClient(settings))

    def clock(self) -> float:
        return time.monotonic() + self.offset

    def sleep(self, seconds: float) -> None:
        if seconds < 1:
            time.sleep(seconds)  # following the job
            return
        self.offset += seconds
        self.waits.append(seconds)
        self.on_wait(len(self.waits))

    def move(self, **options) -> tuple[Mover, object]:
        mover = Mover(self.api("HV1"), self.api("HV2"), "HV1", "HV2", clock=self.clock, sleep=self.sleep, jitter=lambda: 0.0)
        request = MoveRequest(vm="web01", poll_interval_s=0.05, timeout_s=30, limit_poll_s=POLL, **options)
        return mover, request

    def sends(self) -> int:
        return self.sim.counters("HV1").get(MIGRATE, 0)

    def job_states(self) -> list[int]:
        return [job["state"] for job in self.sim.jobs("HV1")]


@pytest.fixture
def lab(hvsim_factory):  # pylint: disable=redefined-outer-name
    return Lab(hvsim_factory(LAB, migration_duration_s=0.3))


def test_a_refusal_for_the_limit_is_waited_out_and_sent_again(lab):
    lab.sim.inject("HV2", "migration_limit")  # HV2 runs its one live migration (a phantom)
    lab.on_wait = lambda count: lab.sim.clear_faults("HV2") if count == 2 else None
    mover, request = lab.move(limit_wait_s=60)
    report = mover.move(request, check_mode=False)
    assert report.changed and report.final["host"] == "HV2" and lab.sim.where("web01") == "HV2"
    assert report.limit_refusals == 2 and report.limit_waited == pytest.approx(2 * POLL, abs=1)
    assert lab.sends() == 3 and lab.job_states() == [10, 10, 7]  # two refused jobs, one migration
    assert report.progress[-1]["percent"] == 100 and report.progress[0]["job_state"] != "Exception"


def test_the_source_at_its_limit_is_waited_out_too(lab):
    lab.sim.inject("HV1", "migration_limit")
    lab.on_wait = lambda count: lab.sim.clear_faults("HV1")
    mover, request = lab.move(limit_wait_s=60)
    assert mover.move(request, check_mode=False).limit_refusals == 1
    assert lab.sim.where("web01") == "HV2" and lab.job_states() == [10, 7]


def test_the_wait_is_bounded_and_the_failure_says_how_it_went(lab):
    lab.sim.inject("HV2", "migration_limit")
    mover, request = lab.move(limit_wait_s=20)
    with pytest.raises(MoveFailed) as failure:
        mover.move(request, check_mode=False)
    message = str(failure.value)
    # Sent at 0, 7, 14 and at 20 s, the end of the wait: the last pause is what was left of it.
    assert lab.waits == [POLL, POLL, pytest.approx(20 - 2 * POLL, abs=1)] and lab.sends() == 4
    assert "The migration limit of 1 was reached on 'HV2'" in message and "is still on HV1" in message
    assert "refused the request 4 times for a host's migration limit within limit_wait (20 s); nothing was moved" in message
    assert lab.sim.where("web01") == "HV1" and set(lab.job_states()) == {10}


def test_without_limit_wait_the_first_refusal_fails_with_the_way_out(lab):
    lab.sim.inject("HV2", "migration_limit")
    mover, request = lab.move()
    with pytest.raises(MoveFailed, match=r"is still on HV1\. Nothing was moved\. .*let vm_move wait for a slot \(limit_wait\)"):
        mover.move(request, check_mode=False)
    assert lab.sends() == 1 and lab.waits == []


@pytest.mark.parametrize("faults, failure", [
    # another failure of the job
    ([("HV1", "migration_fail", {"percent": 0, "message": "The destination refused the connection."})],
     "The destination refused the connection"),
    # a refusal whose reply was lost: nobody can tell it was one
    ([("HV2", "migration_limit", {}), ("HV1", "drop", {"op": MIGRATE, "times": 1, "phase": "after"})],
     "was not sent again"),
])
def test_nothing_else_is_ever_sent_again(lab, faults, failure):
    for host, kind, params in faults:
        lab.sim.inject(host, kind, **params)
    mover, request = lab.move(limit_wait_s=60)
    with pytest.raises(MoveFailed, match=failure):
        mover.move(request, check_mode=False)
    assert lab.sends() == 1 and lab.waits == [] and lab.sim.where("web01") == "HV1"


def test_a_vm_that_left_its_source_during_the_wait_is_not_sent_again(lab):
    lab.sim.inject("HV2", "migration_limit")

    def someone_moves_it(_count):
        with lab.sim.lab.lock:
            lab.sim.lab.vm("web01").host = "HV3"

    lab.on_wait = someone_moves_it
    mover, request = lab.move(limit_wait_s=60)
    with pytest.raises(MoveFailed, match="while it waited it left HV1; someone else is moving it"):
        mover.move(request, check_mode=False)
    assert lab.sends() == 1 and lab.sim.where("web01") == "HV3"


@pytest.mark.parametrize("job, refused", [
    ({"JobState": 10, "PercentComplete": 0, "ErrorDescription": "The migration limit of 2 was reached on 'HV2'."}, True),
    ({"JobState": 10, "PercentComplete": None, "ErrorSummaryDescription": "Migration limit 4 has been reached"}, True),
    ({"JobState": 10, "PercentComplete": 40, "ErrorDescription": "The migration limit of 2 was reached"}, False),
    ({"JobState": 4, "PercentComplete": 0, "ErrorDescription": "The migration limit of 2 was reached"}, False),
    ({"JobState": 7, "PercentComplete": 0, "ErrorDescription": "The migration limit of 2 was reached"}, False),
    ({"JobState": 10, "PercentComplete": 0, "ErrorDescription": "The network connection was interrupted."}, False),
    ({"JobState": 10, "PercentComplete": 0}, False),
])
def test_what_counts_as_a_refusal_for_the_limit(job, refused):
    assert refused_for_limit(job) is refused


def test_a_destination_idle_through_a_long_job_is_reached_anew(hvsim_factory, monkeypatch):  # pylint: disable=redefined-outer-name
    # Scaled down: the server drops connections idle for 0.3 s, the job takes 1 s, the client counts 0.2 s as idle.
    # Without a new session the confirmation, encrypted for the dropped one, is refused with HTTP 400.
    monkeypatch.setattr(server.WsmanHandler, "timeout", 0.3)
    monkeypatch.setattr(wsman_client, "IDLE_SESSION_S", 0.2)
    lab = Lab(hvsim_factory(LAB, migration_duration_s=1.0))
    mover, request = lab.move()
    assert mover.move(request, check_mode=False).final["host"] == "HV2"
    assert lab.sim.where("web01") == "HV2" and lab.sends() == 1


def wmi_fault(lab, host: str, op: str) -> str:
    message = f"Injected failure of {op} on {host}."
    lab.sim.inject(host, "wmi_fault", op=op, code=2147749889, message=message)
    return message


def test_a_job_that_cannot_be_read_is_followed_by_where_the_vm_is(lab):
    cause = wmi_fault(lab, "HV1", "Get:Msvm_MigrationJob")
    mover, request = lab.move()
    report = mover.move(request, check_mode=False)
    assert report.final["host"] == "HV2" and lab.sim.where("web01") == "HV2" and lab.sends() == 1
    assert "moved from HV1 to HV2" in report.msg and "could not be followed" in report.msg and cause in report.msg


def test_a_job_that_cannot_be_read_and_fails_is_reported_from_the_source_s_list_of_jobs(lab):
    wmi_fault(lab, "HV1", "Get:Msvm_MigrationJob")
    lab.sim.inject("HV1", "migration_fail", percent=50, message="The network connection was interrupted.")
    mover, request = lab.move()
    with pytest.raises(MoveFailed, match=r"The network connection was interrupted.*is still on HV1\."):
        mover.move(request, check_mode=False)
    assert lab.sim.where("web01") == "HV1" and lab.sends() == 1


def test_a_destination_that_cannot_be_read_after_the_move_is_reported_with_where_the_vm_most_likely_is(lab):
    cause = wmi_fault(lab, "HV2", "Enumerate:Msvm_ComputerSystem")
    mover, request = lab.move()
    with pytest.raises(MoveFailed) as failure:
        mover.move(request, check_mode=False)
    message = str(failure.value)
    assert "confirming that VM 'web01'" in message and cause in message
    assert "no longer on HV1, so most likely on HV2. Check where it is (Get-VM)" in message
    assert lab.sim.where("web01") == "HV2" and lab.sends() == 1


@pytest.mark.parametrize("elapsed, percent, interval, pause", [
    (1.0, 10, 1.0, 1.0),  # 9 s left by its pace: the interval
    (4.0, 80, 1.0, 1.0),  # 1 s left: the interval still
    (4.5, 90, 1.0, 0.5),  # 0.5 s left: polled when it should end
    (4.95, 99, 1.0, 0.05),  # about to end: no more often than every 0.05 s
    (30.0, 50, 5.0, 5.0),
    (2.0, 0, 1.0, 1.0),  # no progress yet: nothing to go by
    (2.0, None, 1.0, 1.0),
    (2.0, "50", 1.0, 1.0),  # not a number as Hyper-V sends it: nothing to go by
    (2.0, True, 1.0, 1.0),
    (0.0, 50, 1.0, 1.0),
    (4.9, 98, 0.03, 0.03),  # an interval shorter than the floor is kept
])
def test_a_job_is_polled_sooner_as_its_progress_says_it_ends(elapsed, percent, interval, pause):
    assert next_poll(elapsed, percent, interval) == pytest.approx(pause)
