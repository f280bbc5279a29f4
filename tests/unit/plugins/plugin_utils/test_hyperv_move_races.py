"""When two moves of one VM meet: the refused one names the migration job that holds the VM, follows it to its end
and says where the VM is then (hvsim over real sockets, and the sentences on their own). And a job whose Get faults
is followed by a WQL query on its InstanceID, as libvirt polls jobs."""

from __future__ import annotations

import threading
import time

import pytest

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import HyperVHost
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.failures import StepFailed
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.move import (
    MoveFailed,
    MoveRequest,
    Mover,
    _JobReader,
    refusal_message,
    running_job_text,
    running_migration,
)
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.client import WSManClient
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.errors import TransportError, WSManFault
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.settings import WinRMSettings
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.soap import EndpointReference
from hvsim.pytest_fixtures import HVSIM_PASSWORD, HVSIM_USER, hvsim_factory  # noqa: F401  pylint: disable=unused-import

MIGRATE = "Invoke:MigrateVirtualSystemToHost"
REFUSAL = "MigrateVirtualSystemToHost returned 32774 (System is in use)"
JOB = {"InstanceID": "5E0C-JOB", "JobState": 4, "PercentComplete": 40, "DestinationHost": "HV-NEW-01"}
LABEL = "VM 'web01' (6C9A)"
HOST = {"vectors": [{"id": 1, "op": 2, "value": 255}], "migration": {"listeners": ["10.0.0.1"], "max_vm": 2}}
LAB = {
    "name": "races",
    "hosts": [{"name": "HV1", **HOST}, {"name": "HV2", **HOST}, {"name": "HV3", **HOST}],
    "vms": [{"name": "web01", "host": "HV1", "vectors": [{"id": 1, "op": 2, "value": 15}]}],
}


class Lab:
    """The simulator and WS-Management sessions to its hosts."""

    def __init__(self, sim):
        self.sim = sim

    def api(self, name: str) -> HyperVHost:
        handle = self.sim.hosts[name]
        settings = WinRMSettings(host=handle.bind, port=handle.http_port, scheme="http", username=HVSIM_USER,
                                 password=HVSIM_PASSWORD).check()
        return HyperVHost(WSManClient(settings))

    def sends(self) -> int:
        return self.sim.counters("HV1").get(MIGRATE, 0)


@pytest.fixture
def lab(hvsim_factory):  # noqa: F811  pylint: disable=redefined-outer-name
    return Lab(hvsim_factory(LAB, migration_duration_s=1.5))


def mover(lab, destination: str, said: list[str] | None = None) -> Mover:  # pylint: disable=redefined-outer-name
    return Mover(lab.api("HV1"), lab.api(destination), "HV1", destination,
                 say=(said.append if said is not None else lambda _text: None))


def request(**options) -> MoveRequest:
    return MoveRequest(vm="web01", poll_interval_s=0.05, timeout_s=30, **options)


def first_move_running(lab, destination: str) -> threading.Thread:  # pylint: disable=redefined-outer-name
    """Another run's move of web01, started and under way when this returns."""
    thread = threading.Thread(target=lambda: mover(lab, destination).move(request(), check_mode=False), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not lab.sim.jobs("HV1") and time.monotonic() < deadline:
        time.sleep(0.01)
    return thread


# The sentences

def test_a_running_job_is_named_with_its_destination_and_progress():
    assert running_job_text(JOB, LABEL, "HV-OLD-01") == (
        "migration job 5E0C-JOB is moving VM 'web01' (6C9A) from HV-OLD-01 to HV-NEW-01 (40% complete)")
    assert running_job_text({"InstanceID": "J", "PercentComplete": None}, LABEL, "HV1").endswith(
        "from HV1 to a destination the job does not name (progress unknown)")


@pytest.mark.parametrize("jobs, running", [
    ([], None),
    ([{"InstanceID": "A", "JobState": 7}], None),
    ([{"InstanceID": "A", "JobState": 10}, {"InstanceID": "B", "JobState": 4}], "B"),
    ([{"InstanceID": "A", "JobState": 3}, {"InstanceID": "B", "JobState": 7}], "A"),
])
def test_the_running_job_of_a_vm_is_the_one_in_a_running_state(jobs, running):
    found = running_migration(jobs)
    assert (found or {}).get("InstanceID") == running


def test_a_refusal_while_another_job_moved_the_vm_to_this_destination_ends_with_where_it_is():
    text = refusal_message(REFUSAL, LABEL, "HV-OLD-01", "HV-NEW-01", JOB, {**JOB, "JobState": 7, "PercentComplete": 100},
                           3.2, "HV-NEW-01")
    assert text.startswith(REFUSAL + ": migration job 5E0C-JOB is moving VM 'web01' (6C9A) from HV-OLD-01 to HV-NEW-01 "
                                     "(40% complete), started by another run or by hand;")
    assert "Waiting for that job to end is the remedy: it was followed, and it completed after 3.2 s." in text
    assert text.endswith("VM 'web01' (6C9A) is on HV-NEW-01 now, moved there by that job.")
    assert "not moved" not in text and "still on" not in text


def test_a_refusal_while_another_job_moved_the_vm_elsewhere_says_where_that_job_took_it():
    text = refusal_message(REFUSAL, LABEL, "HV-OLD-01", "HV-NEW-02", JOB, None, 2.0, None)
    assert "it was no longer listed on HV-OLD-01 after 2 s" in text
    assert text.endswith("is on neither HV-OLD-01 nor HV-NEW-02 now; that job moved it to HV-NEW-01.")


def test_a_refusal_whose_job_failed_says_the_vm_stayed():
    ended = {**JOB, "JobState": 10, "ErrorDescription": "The network connection was interrupted."}
    text = refusal_message(REFUSAL, LABEL, "HV-OLD-01", "HV-NEW-01", JOB, ended, 1.0, "HV-OLD-01")
    assert "it ended Exception (The network connection was interrupted) after 1 s. Run again to move it." in text
    assert text.endswith("VM 'web01' (6C9A) is still on HV-OLD-01.")


def test_a_refusal_without_a_job_says_so_and_where_the_vm_is():
    text = refusal_message("MigrateVirtualSystemToHost returned 32775 (Invalid state for this operation)", LABEL,
                           "HV-OLD-01", "HV-NEW-01", None, None, None, "HV-OLD-01")
    assert "no migration job runs for VM 'web01' (6C9A) on HV-OLD-01, and the request was not sent again." in text
    assert "that live migration is enabled on HV-OLD-01" in text and text.endswith("is still on HV-OLD-01.")
    moved = refusal_message(REFUSAL, LABEL, "HV-OLD-01", "HV-NEW-01", None, None, None, "HV-NEW-01")
    assert moved.endswith("is on HV-NEW-01 now, moved there by another migration.")


# Two moves of one VM against hvsim

def test_the_second_move_to_the_same_destination_names_the_first_job_and_reports_the_vm_there(lab):
    first = first_move_running(lab, "HV2")
    job_id = lab.sim.jobs("HV1")[0]["id"]
    said: list[str] = []
    report = mover(lab, "HV2", said).move(request(), check_mode=False)
    first.join(10)
    assert not report.changed and report.final["host"] == "HV2" and lab.sim.where("web01") == "HV2"
    assert f"migration job {job_id} is moving VM 'web01'" in report.msg and "to HV2" in report.msg
    assert report.msg.endswith("is on HV2 now, moved there by that job.")
    assert any("waiting for it to end" in line for line in said)
    assert lab.sends() == 2 and len(lab.sim.jobs("HV1")) == 1  # the second request made no job


def test_the_second_move_to_another_destination_fails_saying_where_the_first_took_the_vm(lab):
    first = first_move_running(lab, "HV2")
    with pytest.raises(MoveFailed) as failure:
        mover(lab, "HV3").move(request(), check_mode=False)
    first.join(10)
    message = str(failure.value)
    assert message.startswith(REFUSAL) and lab.sim.jobs("HV1")[0]["id"] in message
    assert message.endswith("is on neither HV1 nor HV3 now; that job moved it to HV2.")
    assert lab.sim.where("web01") == "HV2" and len(lab.sim.jobs("HV1")) == 1


def test_a_job_that_outlives_the_timeout_is_named_and_not_waited_for_longer(lab):
    first = first_move_running(lab, "HV2")
    with pytest.raises(MoveFailed, match=r"That job still runs after 0.3 s: wait for it to end, then check where "):
        mover(lab, "HV2").move(MoveRequest(vm="web01", poll_interval_s=0.05, timeout_s=0.3), check_mode=False)
    first.join(10)
    assert lab.sim.where("web01") == "HV2" and len(lab.sim.jobs("HV1")) == 1


def test_a_refusal_without_a_job_says_the_vm_is_still_on_its_source(lab):
    with lab.sim.lab.lock:
        lab.sim.lab.hosts["HV1"].migration.enabled = False  # hvsim refuses with 32775
    with pytest.raises(MoveFailed, match=r"returned 32775 .*: no migration job runs for VM 'web01' .* is still on HV1\.$"):
        mover(lab, "HV2").move(request(), check_mode=False)


# Following a job: Get, then a WQL query on its InstanceID

class FakeHost:
    """A source whose job Get and job query answer as told."""

    def __init__(self, get, query):
        self.get, self.query = list(get), list(query)
        self.calls: list[str] = []

    def job(self, _reference):
        self.calls.append("Get")
        return _answer(self.get.pop(0))

    def job_by_query(self, _reference):
        self.calls.append("WQL")
        return _answer(self.query.pop(0))


def _answer(value):
    if isinstance(value, Exception):
        raise value
    return value


REFERENCE = EndpointReference("http://schemas.microsoft.com/wbem/wsman/1/wmi/root/virtualization/v2/Msvm_MigrationJob",
                              {"InstanceID": "J1"})
PROVIDER_FAULT = WSManFault("Injected WMI failure", subcode="InternalError")
GONE = WSManFault("invalid selectors", subcode="InvalidSelectors")


def test_a_job_is_read_by_get_while_get_works():
    host = FakeHost([JOB, JOB], [])
    reader = _JobReader(host, REFERENCE, "following")
    assert reader.read() == JOB and reader.read() == JOB and host.calls == ["Get", "Get"]
    assert reader.get_failed is None


def test_after_a_get_faults_the_job_is_read_by_its_instance_id_from_then_on():
    host = FakeHost([PROVIDER_FAULT], [JOB, {**JOB, "JobState": 7}, None])
    reader = _JobReader(host, REFERENCE, "following")
    assert reader.read() == JOB and reader.read()["JobState"] == 7
    assert reader.read() is None  # listed before, gone now: removed after it ended
    assert host.calls == ["Get", "WQL", "WQL", "WQL"] and reader.get_failed.cause is PROVIDER_FAULT


def test_a_job_neither_form_finds_is_gone_only_when_the_get_said_so():
    assert _JobReader(FakeHost([GONE], [None]), REFERENCE, "following").read() is None
    with pytest.raises(StepFailed) as failure:
        _JobReader(FakeHost([PROVIDER_FAULT], [None]), REFERENCE, "following").read()
    assert failure.value.cause is PROVIDER_FAULT  # unknown: the caller watches where the VM is instead


def test_a_failing_query_after_a_failing_get_names_both():
    with pytest.raises(StepFailed, match=r"its Get failed \(Injected WMI failure\), and then its WQL query") as failure:
        _JobReader(FakeHost([PROVIDER_FAULT], [TransportError("connection dropped")]), REFERENCE, "following").read()
    assert isinstance(failure.value.cause, TransportError)


def test_a_dropped_connection_is_no_reason_to_change_the_form():
    host = FakeHost([TransportError("connection dropped")], [])
    with pytest.raises(StepFailed):
        _JobReader(host, REFERENCE, "following").read()
    assert host.calls == ["Get"]


def test_a_move_whose_job_get_faults_follows_it_by_the_query_on_hvsim(lab):
    lab.sim.inject("HV1", "wmi_fault", op="Get:Msvm_MigrationJob", code=2147749889, message="Injected Get failure.")
    report = mover(lab, "HV2").move(request(), check_mode=False)
    assert report.changed and report.final["host"] == "HV2" and lab.sim.where("web01") == "HV2"
    assert "a WQL query on its InstanceID followed it instead" in report.msg and "Injected Get failure" in report.msg
    assert [entry["percent"] for entry in report.progress][-1] == 100  # followed to its end, by the query
    assert lab.sim.counters("HV1").get("Get:Msvm_MigrationJob") == 1  # Get once, then the query only


def test_a_clean_move_follows_its_job_by_get_only(lab):
    mover(lab, "HV2").move(request(), check_mode=False)
    counters = lab.sim.counters("HV1")
    assert counters.get("Get:Msvm_MigrationJob", 0) >= 1
    assert not [key for key in counters if key.startswith("Enumerate:") and "MigrationJob" in key]
