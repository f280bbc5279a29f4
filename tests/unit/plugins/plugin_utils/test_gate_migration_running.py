"""A migration job already moving the VM is the gate's reason ([migration running]): its id, its destination, how far it
got, and that waiting is the remedy. Looked for only when the source shows live migrations running, or when Hyper-V's
pre-check refuses: an allowed decision costs no request more."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions import hyperv_verdict
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.gate_reads import Failed
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.gate_run import Gate
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import decision
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate.decision import Sighting
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate.request import Request

VM_ID = "6C9A2A5F-7F1B-4D4B-9C1E-0F0E1D2C3B4A"
VM = {"id": VM_ID, "name": "web01", "state": 2, "state_name": "Running", "configuration_version": "10.0",
      "vectors": [{"vector_id": 1, "compare_operation": 2, "compatibility_info": 3}],
      "compatibility_info": "AAEC", "compatibility_info_encoding": "uint8"}
JOB = {"InstanceID": "B2F1-JOB", "JobState": 4, "PercentComplete": 35, "DestinationHost": "HV-NEW-01",
       "VirtualSystemName": VM_ID}
READY = {"enabled_state": 2, "live_migration_enabled": True, "listener_addresses": ["10.0.0.9"],
         "active_vm_migrations": 0, "max_vm_migrations": 2}
REASON = ("Migration job B2F1-JOB is moving web01 from HV-OLD-01 to HV-NEW-01 (35% complete), started by another run, "
          "a run that was stopped, or by hand. Wait for it to end, then run again: the gate then sees where web01 is.")


def test_the_reason_names_the_job_its_destination_its_progress_and_the_remedy():
    assert decision.migration_running("HV-OLD-01", "web01", JOB) == {
        "host": "HV-OLD-01", "role": "source", "check": "migration running", "message": REASON}


def test_a_decision_with_a_running_job_is_blocked_with_that_reason_first():
    request = Request(vm="web01", source="HV-OLD-01", destination="HV-NEW-01", candidates=None, search_hosts=())
    location = decision.locate(request, [Sighting("HV-OLD-01", {k: VM[k] for k in ("id", "name", "state", "state_name")})],
                               {}, ["HV-OLD-01"])
    hosts = {"HV-NEW-01": {"name": "HV-NEW-01", "vectors": VM["vectors"], "migration_service": READY}}
    assessment = decision.assess(request, "HV-OLD-01", VM["vectors"], hosts, {})
    decided = decision.decide(request, location, vm=VM, source_service={**READY, "active_vm_migrations": 1},
                              assessment=assessment, verdicts={}, hosts=hosts, decided_at="now",
                              source_problems=[decision.migration_running("HV-OLD-01", "web01", JOB)])
    assert decided["verdict"] == "blocked" and [item["check"] for item in decided["reasons"]] == ["migration running"]
    assert decided["message"].splitlines()[0] == (
        "BLOCKED: web01 may not move from HV-OLD-01 to HV-NEW-01 (1 reason). Nothing was moved.")
    assert f"    - [migration running] {REASON}" in decided["message"].splitlines()


# The gate: looked for only when the source's migration service shows live migrations running

class Reads:
    """GateReads' running_migration, answering as told and counting the requests."""

    def __init__(self, answer):
        self.answer = answer
        self.asked: list[tuple[str, str]] = []

    def running_migration(self, host, vm_id):
        self.asked.append((host, vm_id))
        return self.answer


def gate(reads) -> Gate:
    request = Request(vm="web01", source="HV-OLD-01", destination="HV-NEW-01", candidates=None, search_hosts=())
    return Gate(request, reads, check_mode=False, say=lambda _text: None)


def test_a_source_without_live_migrations_running_is_not_asked_for_jobs():
    reads = Reads(JOB)
    assert gate(reads)._migration_running("HV-OLD-01", VM, READY) == [] and reads.asked == []


def test_a_source_with_live_migrations_running_is_asked_for_the_vm_s_job():
    reads = Reads(JOB)
    found = gate(reads)._migration_running("HV-OLD-01", VM, {**READY, "active_vm_migrations": 2})
    assert found == [decision.migration_running("HV-OLD-01", "web01", JOB)] and reads.asked == [("HV-OLD-01", VM_ID)]


def test_no_job_of_the_vm_or_an_unreadable_list_leaves_the_decision_to_hyper_v():
    busy = {**READY, "active_vm_migrations": 1}
    assert gate(Reads(None))._migration_running("HV-OLD-01", VM, busy) == []
    assert gate(Reads(Failed("HV-OLD-01: unreadable")))._migration_running("HV-OLD-01", VM, busy) == []


# Hyper-V's pre-check refused: the job, when one runs, is the reason

class Api:
    def __init__(self, jobs):
        self.jobs = jobs

    def migration_jobs(self, vm_id):
        assert vm_id == VM_ID
        if isinstance(self.jobs, Exception):
            raise self.jobs
        return self.jobs


class Session:
    """A HostSession's run() over a fake api: a failure becomes AnsibleActionFail, as HostSession.run makes it."""

    def __init__(self, label, jobs):
        self.label, self.api = label, Api(jobs)

    def run(self, work):
        try:
            return work(self.api)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            raise AnsibleActionFail(f"{self.label}: {exc}") from None


def test_a_refused_pre_check_names_the_running_job_instead_of_guessing():
    found = hyperv_verdict._explain_refusal(Session("HV-OLD-01", [{**JOB, "JobState": 7, "InstanceID": "OLD"}, JOB]),
                                            Session("HV-NEW-01", []), VM)
    assert found == [decision.migration_running("HV-OLD-01", "web01", JOB)]


def test_without_a_running_job_the_refusal_is_explained_as_before():
    assert hyperv_verdict._running_job_reason(Session("HV-OLD-01", [{**JOB, "JobState": 10}]), VM) == []
    assert hyperv_verdict._running_job_reason(Session("HV-OLD-01", RuntimeError("dropped")), VM) == []
