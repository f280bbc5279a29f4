# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Move a VM: MigrateVirtualSystemToHost on its source, then follow the job to its end.

The request is sent once. After any failure that leaves its fate unknown (a dropped connection, a
job that vanished, a job or a destination that cannot be read), the hosts are asked what happened:
which job runs for the VM, and where the VM is. The answer is what gets reported; nothing is re-sent.

One refusal is retried, within `limit_wait`: Hyper-V answered the request with a job that ended at
0 % because a host was at its limit of concurrent live migrations ("The migration limit of N was
reached"). Parallel gates can both see a free slot and race for it; the loser gets that refusal.
It is provably not a started migration: the reply arrived, the job is over, and before sending
again the source is asked whether the VM is still there with no migration job running for it.
"""

from __future__ import annotations

import dataclasses
import random
import re
import time
import typing as t

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.failures import StepFailed, step
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import (
    JOB_STARTED,
    VM_STATES,
    HyperVError,
    HyperVHost,
    MethodFailed,
    return_code_name,
)
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.checks import migration_setting_data
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.errors import (
    ResponseError,
    TransportError,
    WSManError,
    WSManFault,
)
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.soap import CimXml, EndpointReference, class_uri

# CIM_ConcreteJob.JobState
JOB_STATES = {2: "New", 3: "Starting", 4: "Running", 5: "Suspended", 6: "Shutting Down", 7: "Completed",
              8: "Terminated", 9: "Killed", 10: "Exception", 32768: "Completed with warnings"}
RUNNING_JOB_STATES = frozenset((2, 3, 4, 5, 6))
SUCCEEDED = frozenset((7, 32768))
# The error text of a migration refused because the source or the destination runs as many live migrations as
# MaximumActiveVirtualSystemMigration allows ("The migration limit of 2 was reached on 'HV02' ...").
LIMIT_REACHED = re.compile(r"\bmigration limit (?:of )?\d+ (?:was|has been) reached\b", re.IGNORECASE)


SOONEST_POLL = 0.2  # seconds: how often a job is polled at most, as it nears its end


def next_poll(elapsed: float, percent: t.Any, interval: float) -> float:
    """Seconds until the job is polled again: the poll interval, or less when the job's progress so far says it
    ends sooner (so that a wave's next migration starts when this one ends, not up to an interval later)."""
    if not isinstance(percent, int) or isinstance(percent, bool) or not 0 < percent < 100 or elapsed <= 0:
        return interval
    left = elapsed * (100 - percent) / percent
    return max(min(SOONEST_POLL, interval), min(interval, left))


class MoveFailed(HyperVError):
    """The move did not happen, or not as asked; the message says where the VM is."""


@dataclasses.dataclass
class MoveRequest:
    vm: str
    destination_host: str | None = None
    migration_type: str = "live"
    destination_path: str | None = None
    timeout_s: float = 600.0
    poll_interval_s: float = 1.0
    expected_state: int | None = None
    limit_wait_s: float = 0.0  # after a refusal for a host's migration limit, send again for up to this long
    limit_poll_s: float = 5.0  # waiting this long (plus up to a quarter, so waiting gates do not race in step)
    vm_name: str | None = None  # the VM's name, for the messages of a VM asked for by its id


@dataclasses.dataclass
class MoveReport:
    changed: bool = False
    job_id: str | None = None
    duration: float = 0.0
    progress: list[dict[str, t.Any]] = dataclasses.field(default_factory=list)
    vm: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    final: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    msg: str = ""
    limit_refusals: int = 0  # requests Hyper-V refused because a host was at its migration limit
    limit_waited: float = 0.0  # seconds from the first such refusal to the request that was accepted


def state_name(state: t.Any) -> str | None:
    return VM_STATES.get(state, "Unknown") if state is not None else None


class Mover:
    """One move of one VM from `source` to `destination` (both HyperVHost, one per host)."""

    def __init__(self, source: HyperVHost, destination: HyperVHost, source_name: str, destination_name: str,
                 *, say: t.Callable[[str], None] = lambda _text: None, clock: t.Callable[[], float] = time.monotonic,
                 sleep: t.Callable[[float], None] = time.sleep, jitter: t.Callable[[], float] = random.random):
        self.source, self.destination = source, destination
        self.source_name, self.destination_name = source_name, destination_name
        self.say, self.clock, self.sleep, self.jitter = say, clock, sleep, jitter

    def move(self, request: MoveRequest, check_mode: bool) -> MoveReport:
        report = MoveReport()
        with step(f"looking for VM {request.vm!r} on the source"):
            vm = self.source.find_vm(request.vm)
        if vm is None:
            return self._not_on_source(request, report)
        report.vm = {"id": vm["Name"], "name": vm.get("ElementName")}
        label = f"VM {vm.get('ElementName')!r} ({vm['Name']})"
        state = vm.get("EnabledState")
        if request.expected_state is not None and state != request.expected_state:
            raise MoveFailed(
                f"{label} is {state_name(state)} ({state}) on {self.source_name}, not {state_name(request.expected_state)} "
                f"({request.expected_state}) as when the decision was made; nothing was moved. Gate it again."
            )
        with step("reading the destination's migration service", self.destination_name):
            service = self.destination.migration_service()
        destination_host = request.destination_host or str(service.get("SystemName") or self.destination_name)
        listeners = service.get("MigrationServiceListenerIPAddressList") or []
        if check_mode:
            report.changed = True
            report.msg = f"{label} would move from {self.source_name} to {self.destination_name} ({destination_host})."
            report.final = {"host": self.source_name, "state": state, "state_name": state_name(state)}
            return report
        first_refusal = None
        while True:
            started = self.clock()
            job_ref = self._start(vm, request, destination_host, listeners, label)
            report.changed = True
            if job_ref is None:
                break
            report.job_id = job_ref.selectors.get("InstanceID")
            report.progress, report.msg = [], ""
            failed = self._follow(job_ref, vm, request, report, label, started)
            if failed is None:
                break
            first_refusal = started if first_refusal is None else first_refusal
            if not self._send_again(failed, vm, request, report, label, first_refusal):
                raise MoveFailed(f"{self._job_failure(failed, label)}. {self._whereabouts(vm, label)}"
                                 f"{self._limit_advice(failed, request, report)}")
        report.limit_waited = round(started - first_refusal, 3) if first_refusal is not None else 0.0
        report.duration = round(self.clock() - started, 3)
        self._confirm(vm, state, report, label)
        return report

    def _not_on_source(self, request: MoveRequest, report: MoveReport) -> MoveReport:
        with step(f"looking for VM {request.vm!r} on the destination", self.destination_name):
            there = self.destination.find_vm(request.vm)
        if there is None:
            raise MoveFailed(
                f"VM {request.vm!r} is on neither {self.source_name} nor {self.destination_name}; it may have moved "
                "elsewhere since the facts were gathered. Find it (Get-VM on the cluster) and gate it again."
            )
        report.vm = {"id": there["Name"], "name": there.get("ElementName")}
        report.final = {"host": self.destination_name, "state": there.get("EnabledState"),
                        "state_name": state_name(there.get("EnabledState"))}
        report.msg = f"VM {there.get('ElementName')!r} is already on {self.destination_name}; nothing to do."
        return report

    def _start(self, vm: dict[str, t.Any], request: MoveRequest, destination_host: str, listeners: list[str],
               label: str) -> EndpointReference | None:
        parameters: dict[str, t.Any] = {
            "ComputerSystem": self.source.system_reference(vm),
            "DestinationHost": destination_host,
            "MigrationSettingData": migration_setting_data(request.migration_type, listeners),
        }
        if request.destination_path:
            parameters["NewSystemSettingData"] = CimXml("Msvm_VirtualSystemSettingData", {
                name: ("string", request.destination_path)
                for name in ("ConfigurationDataRoot", "SnapshotDataRoot", "SwapFileDataRoot")
            })
        try:
            output = self.source.call("MigrateVirtualSystemToHost", parameters, read_only=False)
        except (TransportError, ResponseError) as exc:
            # The request may or may not have arrived: ask the source, do not send it again.
            self.say(f"{label}: the migration request's reply was lost ({exc}); asking {self.source_name} what happened")
            return self._adopt_job(vm, label, exc)
        except (WSManError, HyperVError) as exc:
            raise StepFailed(f"requesting the migration of {label} (MigrateVirtualSystemToHost)", exc) from exc
        code = output["ReturnValue"]
        if code == 0:
            return None  # completed synchronously
        if code != JOB_STARTED:
            raise MethodFailed("MigrateVirtualSystemToHost", code, f"{label} was not moved and is still on {self.source_name}")
        reference = output.get("Job")
        if not isinstance(reference, EndpointReference):
            raise MoveFailed(f"MigrateVirtualSystemToHost started a job for {label} but returned no job reference")
        return reference

    def _adopt_job(self, vm: dict[str, t.Any], label: str, cause: Exception) -> EndpointReference | None:
        with step(f"asking {self.source_name} for the migration job of {label}"):
            jobs = self.source.migration_jobs(vm["Name"])
        running = [job for job in jobs if job.get("JobState") in RUNNING_JOB_STATES]
        if running:
            job = running[-1]
            reference = EndpointReference(class_uri(self.source.namespace, "Msvm_MigrationJob"),
                                          {"InstanceID": str(job.get("InstanceID"))})
            self.say(f"{label}: following job {job.get('InstanceID')}, which the lost request started")
            return reference
        with step(f"looking for {label} on the destination", self.destination_name):
            moved = self.destination.find_vm(vm["Name"])
        if moved is not None:
            return None  # it already completed
        raise MoveFailed(
            f"the connection to {self.source_name} failed while requesting the migration of {label} ({cause}); "
            f"{self.source_name} runs no migration job for it and it is not on {self.destination_name}, so the "
            "request did not take effect. The migration was not sent again; run the task again when the host is reachable."
        )

    def _follow(self, reference: EndpointReference, vm: dict[str, t.Any], request: MoveRequest, report: MoveReport,
                label: str, started: float) -> dict[str, t.Any] | None:
        """Poll the job until it ends or the timeout passes; record progress. Returns the job when it failed."""
        last_percent = None
        while True:
            try:
                with step(f"following migration job {report.job_id} of {label}"):
                    job = self.source.job(reference)
            except StepFailed as exc:
                if _job_gone(exc.cause):
                    return None  # deleted on completion: where the VM is tells the outcome (_confirm)
                return self._follow_the_vm(vm, request, report, label, started, exc)
            percent, job_state = job.get("PercentComplete"), job.get("JobState")
            elapsed = round(self.clock() - started, 3)
            if percent != last_percent:
                report.progress.append({"elapsed": elapsed, "percent": percent, "job_state": JOB_STATES.get(job_state)})
                self.say(f"{label}: migration to {self.destination_name} {percent}% ({JOB_STATES.get(job_state, job_state)})")
                last_percent = percent
            if job_state in SUCCEEDED and not job.get("ErrorCode"):
                return None
            if job_state not in RUNNING_JOB_STATES:
                return job
            if elapsed >= request.timeout_s:
                raise MoveFailed(
                    f"migration job {report.job_id} of {label} still runs after {request.timeout_s:g} s "
                    f"({percent}% complete). It was not cancelled; follow it on {self.source_name} "
                    "(Get-VM / the job) and check where the VM is before trying again."
                )
            self.sleep(next_poll(elapsed, percent, request.poll_interval_s))

    def _follow_the_vm(self, vm: dict[str, t.Any], request: MoveRequest, report: MoveReport, label: str,
                       started: float, cause: StepFailed) -> dict[str, t.Any] | None:
        """The job cannot be read, though it runs: watch where the VM is, and the source's list of its jobs, instead.

        Returns None once the VM is on the destination or its job succeeded (then _confirm checks), the job when the
        list shows it failed; fails when neither is known by the timeout.
        """
        self.say(f"{label}: {cause}; watching where the VM is instead")
        report.msg = f" Its migration job could not be followed ({cause}); where the VM is told the outcome."
        while True:
            try:
                if self.destination.find_vm(vm["Name"]) is not None:
                    return None
                jobs = [job for job in self.source.migration_jobs(vm["Name"]) if job.get("InstanceID") == report.job_id]
            except (WSManError, HyperVError):
                jobs = []  # unreadable for now: look again until the timeout
            if jobs and jobs[-1].get("JobState") not in RUNNING_JOB_STATES:
                return None if jobs[-1].get("JobState") in SUCCEEDED and not jobs[-1].get("ErrorCode") else jobs[-1]
            if self.clock() - started >= request.timeout_s:
                raise MoveFailed(
                    f"{cause}. {label} is not on {self.destination_name} after {request.timeout_s:g} s and what became of "
                    f"its migration job is unknown: it was not cancelled. Check where the VM is (Get-VM) and the job on "
                    f"{self.source_name} before trying again."
                )
            self.sleep(request.poll_interval_s)

    def _send_again(self, job: dict[str, t.Any], vm: dict[str, t.Any], request: MoveRequest, report: MoveReport,
                    label: str, first_refusal: float) -> bool:
        """After a refusal for a host's migration limit: wait, and say whether the request may be sent again.

        Only when the time left in limit_wait allows, and when the source still holds the VM with no migration
        job running for it: then the refused request provably moved nothing, and a new one cannot make a second.
        """
        if not refused_for_limit(job):
            return False
        left = first_refusal + request.limit_wait_s - self.clock()
        if left <= 0:
            return False
        pause = min(left, request.limit_poll_s * (1 + self.jitter() / 4))
        report.limit_refusals += 1
        self.say(f"{label}: {_error_text(job)}; sending the request again in {pause:.1f} s "
                 f"(refusal {report.limit_refusals}, limit_wait {request.limit_wait_s:g} s)")
        self.sleep(pause)
        with step(f"checking that {label} is still on the source before sending its migration again"):
            still_here = self.source.find_vm(vm["Name"])
            running = [one for one in self.source.migration_jobs(vm["Name"]) if one.get("JobState") in RUNNING_JOB_STATES]
        if still_here is None or running:
            raise MoveFailed(
                f"{label} was refused a migration slot, and while it waited "
                + (f"a migration job ({running[-1].get('InstanceID')}) started for it on {self.source_name}" if running
                   else f"it left {self.source_name}")
                + "; someone else is moving it, so the gate does not send its request again. Check where it is and gate it again."
            )
        return True

    @staticmethod
    def _limit_advice(job: dict[str, t.Any], request: MoveRequest, report: MoveReport) -> str:
        """What to do about a migration still refused for a host's limit."""
        if not refused_for_limit(job):
            return ""
        if request.limit_wait_s <= 0:
            return (" Nothing was moved. Run again when a slot is free, raise the limit (Set-VMHost "
                    "-MaximumVirtualMachineMigrations), or let vm_move wait for a slot (limit_wait).")
        return (f" Hyper-V refused the request {report.limit_refusals + 1} times for a host's migration limit within "
                f"limit_wait ({request.limit_wait_s:g} s); nothing was moved. Run again when a slot is free, or raise the "
                "limit (Set-VMHost -MaximumVirtualMachineMigrations).")

    @staticmethod
    def _job_failure(job: dict[str, t.Any], label: str) -> str:
        code = job.get("ErrorCode")
        description = _error_text(job)
        return (
            f"the migration job of {label} ended {JOB_STATES.get(job.get('JobState'), job.get('JobState'))} with "
            f"ErrorCode {code} ({return_code_name(code) if code is not None else 'none'}): {description}"
        )

    def _whereabouts(self, vm: dict[str, t.Any], label: str) -> str:
        """Where the VM is after a failed job, as the hosts tell it."""
        with step(f"looking for {label} after the failed migration"):
            if self.source.find_vm(vm["Name"]) is not None:
                return f"{label} is still on {self.source_name}."
        with step(f"looking for {label} after the failed migration", self.destination_name):
            if self.destination.find_vm(vm["Name"]) is not None:
                return f"{label} is on {self.destination_name} nevertheless."
        return f"{label} is on neither {self.source_name} nor {self.destination_name}: check the cluster."

    def _confirm(self, vm: dict[str, t.Any], state_before: t.Any, report: MoveReport, label: str) -> None:
        """The VM must now run on the destination, in the state it had, and be gone from the source."""
        try:
            with step(f"confirming that {label} arrived", self.destination_name):
                there = self.destination.find_vm(vm["Name"])
        except StepFailed as exc:
            with step(f"confirming that {label} left"):
                still_here = self.source.find_vm(vm["Name"])
            where = (f"it is still on {self.source_name}" if still_here else
                     f"it is no longer on {self.source_name}, so most likely on {self.destination_name}")
            raise MoveFailed(f"the migration of {label} ended, but {exc} ({self.destination_name}): {where}. Check where it "
                             "is (Get-VM) before doing anything else with it.") from None
        with step(f"confirming that {label} left"):
            still_here = self.source.find_vm(vm["Name"]) if there is None else None
        if there is None:
            where = f"still on {self.source_name}" if still_here else f"on neither {self.source_name} nor {self.destination_name}"
            raise MoveFailed(f"the migration of {label} reported success, but the VM is {where}")
        state = there.get("EnabledState")
        report.final = {"host": self.destination_name, "state": state, "state_name": state_name(state)}
        if state != state_before:
            raise MoveFailed(
                f"{label} is on {self.destination_name} but {state_name(state)} ({state}); it was "
                f"{state_name(state_before)} ({state_before}) before the move. Check it there."
            )
        report.msg = f"{label} moved from {self.source_name} to {self.destination_name} in {report.duration:g} s.{report.msg}"


def _error_text(job: dict[str, t.Any]) -> str:
    return str(job.get("ErrorDescription") or job.get("ErrorSummaryDescription") or "no description").rstrip(". ")


def refused_for_limit(job: dict[str, t.Any]) -> bool:
    """A job that ended, at 0 %, because a host was at its concurrent live-migration limit: nothing was transferred."""
    return (job.get("JobState") not in RUNNING_JOB_STATES and job.get("JobState") not in SUCCEEDED
            and not job.get("PercentComplete") and bool(LIMIT_REACHED.search(_error_text(job))))


def _job_gone(exc: Exception) -> bool:
    """A job Get that finds no job: WMI removed it after it ended (DeleteOnCompletion)."""
    return isinstance(exc, WSManFault) and exc.subcode == "InvalidSelectors"
