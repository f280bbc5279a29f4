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

Two runs for one VM meet here too: Hyper-V refuses the second request (32774 System is in use) while the first
one's job moves the VM. Then the job is named (its id, its destination, how far it got), followed to its end
within the move's timeout, and the VM is reported where it is then: never as "not moved" when it moved.
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
# MigrateVirtualSystemToHost's refusals that another migration of the VM causes: 32774 System is in use, 32775 Invalid
# state for this operation (Hyper-V's words for a VM already on the move differ between versions).
REFUSED_WHILE_BUSY = frozenset((32774, 32775))
# The error text of a migration refused because the source or the destination runs as many live migrations as
# MaximumActiveVirtualSystemMigration allows ("The migration limit of 2 was reached on 'HV02' ...").
LIMIT_REACHED = re.compile(r"\bmigration limit (?:of )?\d+ (?:was|has been) reached\b", re.IGNORECASE)


SOONEST_POLL = 0.05  # seconds: how often a job is polled at most, as it nears its end


def next_poll(elapsed: float, percent: t.Any, interval: float) -> float:
    """Seconds until the job is polled again: the poll interval, or less when the job's progress so far says it
    ends sooner (so that a wave's next migration starts when this one ends, not up to an interval later)."""
    if not isinstance(percent, int) or isinstance(percent, bool) or not 0 < percent < 100 or elapsed <= 0:
        return interval
    left = elapsed * (100 - percent) / percent
    return max(min(SOONEST_POLL, interval), min(interval, left))


class MoveFailed(HyperVError):
    """The move did not happen, or not as asked; the message says where the VM is."""


class _Refused(Exception):
    """MigrateVirtualSystemToHost answered with one of REFUSED_WHILE_BUSY: nothing was started by this request."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


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
            try:
                job_ref = self._start(vm, request, destination_host, listeners, label)
            except _Refused as refused:
                return self._after_refusal(refused.code, vm, request, report, label)
            report.changed = True
            if job_ref is None:
                break
            report.job_id = job_ref.selectors.get("InstanceID")
            report.progress, report.msg = [], ""
            failed = self._follow(job_ref, vm, request, report, label, started)
            if failed is None:
                break
            first_refusal = started if first_refusal is None else first_refusal
            if self._send_again(failed, vm, request, report, label, first_refusal):
                continue
            where = self._where_now(vm, label)[0]
            if where == self.destination_name and not refused_for_limit(failed):
                # A job may end in error (or Completed with warnings and an ErrorCode) after the VM moved: where the
                # VM is tells the outcome, the job's error is told with it (_confirm then checks the VM there).
                report.msg += f" But {self._job_failure(failed, label)}."
                break
            raise MoveFailed(f"{self._job_failure(failed, label)}. {self._where_text(where, label)}"
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
        if code in REFUSED_WHILE_BUSY:
            raise _Refused(code)
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
            moved = self.destination.vm_by_id(vm["Name"])
        if moved is not None:
            return None  # it already completed
        ended = [job for job in jobs if job.get("JobState") not in RUNNING_JOB_STATES]
        # A job that ended at once (a host condition) may be this request's: its error is told, not hidden
        outcome = (f"the latest migration job {self.source_name} lists for it, {ended[-1].get('InstanceID')}, ended "
                   f"{JOB_STATES.get(ended[-1].get('JobState'), ended[-1].get('JobState'))} ({_error_text(ended[-1])}), "
                   f"none runs, and it is not on {self.destination_name}: it did not move" if ended else
                   f"{self.source_name} runs no migration job for it and it is not on {self.destination_name}, so the "
                   "request did not take effect")
        raise MoveFailed(
            f"the connection to {self.source_name} failed while requesting the migration of {label} ({cause}); "
            f"{outcome}. The migration was not sent again; run the task again when the host is reachable."
        )

    def _follow(self, reference: EndpointReference, vm: dict[str, t.Any], request: MoveRequest, report: MoveReport,
                label: str, started: float) -> dict[str, t.Any] | None:
        """Poll the job until it ends or the timeout passes; record progress. Returns the job when it failed."""
        last_percent = None
        reader = _JobReader(self.source, reference, f"following migration job {report.job_id} of {label}")
        while True:
            try:
                job = reader.read()
            except StepFailed as exc:
                return self._follow_the_vm(vm, request, report, label, started, exc)
            if job is None:
                return None  # deleted on completion: where the VM is tells the outcome (_confirm)
            if reader.get_failed is not None and not report.msg:
                report.msg = (f" Its migration job could not be followed by a Get ({reader.get_failed.cause}); a WQL "
                              "query on its InstanceID followed it instead.")
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
                if self.destination.vm_by_id(vm["Name"]) is not None:
                    return None
                jobs: list[dict[str, t.Any]] | None = [
                    job for job in self.source.migration_jobs(vm["Name"]) if job.get("InstanceID") == report.job_id]
            except (WSManError, HyperVError):
                jobs = None  # unreadable for now: look again until the timeout
            if jobs == []:  # the source no longer lists the job: it ended, and where the VM is now tells how
                return self._after_vanished_job(vm, report, label, cause)
            if jobs and jobs[-1].get("JobState") not in RUNNING_JOB_STATES:
                return None if jobs[-1].get("JobState") in SUCCEEDED and not jobs[-1].get("ErrorCode") else jobs[-1]
            if self.clock() - started >= request.timeout_s:
                raise MoveFailed(
                    f"{cause}. {label} is not on {self.destination_name} after {request.timeout_s:g} s and what became of "
                    f"its migration job is unknown: it was not cancelled. Check where the VM is (Get-VM) and the job on "
                    f"{self.source_name} before trying again."
                )
            self.sleep(request.poll_interval_s)

    def _after_vanished_job(self, vm: dict[str, t.Any], report: MoveReport, label: str, cause: StepFailed) -> None:
        """None when the VM is on the destination (_confirm checks it there); else the move failed, saying where it is."""
        where = self._where_now(vm, label)[0]
        if where == self.destination_name:
            return None
        raise MoveFailed(
            f"{cause}. Migration job {report.job_id} of {label} is no longer listed on {self.source_name}, so it ended, "
            f"and it did not bring the VM to {self.destination_name}: {self._where_text(where, label)} It was not sent "
            "again: check the VM and the host's event log (Hyper-V-VMMS) before trying again."
        )

    def _after_refusal(self, code: int, vm: dict[str, t.Any], request: MoveRequest, report: MoveReport,
                       label: str) -> MoveReport:
        """Hyper-V refused the request because the VM is in use or in a state it cannot migrate from: most often
        another migration of it runs (another run's, one of a run that was killed, one started by hand). Name that
        job, wait for it to end (within the move's timeout), then say where the VM is. Nothing is sent again."""
        refusal = f"MigrateVirtualSystemToHost returned {code} ({return_code_name(code)})"
        with step(f"asking {self.source_name} for a migration job of {label} already running"):
            other = running_migration(self.source.migration_jobs(vm["Name"]))
        ended, seconds = None, None
        if other is not None:
            self.say(f"{label}: {refusal}: {running_job_text(other, label, self.source_name)}; waiting for it to end")
            ended, seconds = self._wait_for_other_job(other, vm, request, refusal, label)
        where, there = self._where_now(vm, label)
        text = refusal_message(refusal, label, self.source_name, self.destination_name, other, ended, seconds, where)
        if where != self.destination_name:
            raise MoveFailed(text)
        report.changed = False  # the VM is where it was to go, moved there by the other migration, not by this run
        report.job_id = None
        report.final = {"host": self.destination_name, "state": there.get("EnabledState"),
                        "state_name": state_name(there.get("EnabledState"))}
        report.msg = text
        return report

    def _wait_for_other_job(self, other: dict[str, t.Any], vm: dict[str, t.Any], request: MoveRequest, refusal: str,
                            label: str) -> tuple[dict[str, t.Any] | None, float]:
        """Follow another run's migration job of the VM, by the source's list of the VM's jobs, until it ends.
        Returns the job as it ended (None when it is no longer listed) and the seconds waited; fails at the timeout."""
        started, job = self.clock(), other
        while True:
            waited = self.clock() - started
            if waited >= request.timeout_s:
                raise MoveFailed(
                    f"{refusal}: {running_job_text(job, label, self.source_name)}; this request was refused and not sent "
                    f"again. That job still runs after {request.timeout_s:g} s: wait for it to end, then check where "
                    f"{label} is (Get-VM) and run again. {label} is still on {self.source_name} while it moves."
                )
            self.sleep(request.poll_interval_s)
            try:
                listed = [one for one in self.source.migration_jobs(vm["Name"])
                          if one.get("InstanceID") == other.get("InstanceID")]
            except (WSManError, HyperVError):
                continue  # unreadable for now: look again until the timeout
            if not listed:
                return None, round(self.clock() - started, 1)
            job = listed[-1]
            if job.get("JobState") not in RUNNING_JOB_STATES:
                return job, round(self.clock() - started, 1)

    def _where_now(self, vm: dict[str, t.Any], label: str) -> tuple[str | None, dict[str, t.Any] | None]:
        """The host the VM is on now (the source, the destination, or None for neither) and its instance there."""
        with step(f"looking for {label} on the source"):
            here = self.source.vm_by_id(vm["Name"])
        if here is not None:
            return self.source_name, here
        with step(f"looking for {label} on the destination", self.destination_name):
            there = self.destination.vm_by_id(vm["Name"])
        return (self.destination_name, there) if there is not None else (None, None)

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
            still_here = self.source.vm_by_id(vm["Name"])
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

    def _where_text(self, where: str | None, label: str) -> str:
        if where == self.source_name:
            return f"{label} is still on {self.source_name}."
        if where == self.destination_name:
            return f"{label} is on {self.destination_name} nevertheless."
        return f"{label} is on neither {self.source_name} nor {self.destination_name}: check the cluster."

    def _confirm(self, vm: dict[str, t.Any], state_before: t.Any, report: MoveReport, label: str) -> None:
        """The VM must now run on the destination, in the state it had, and be gone from the source."""
        try:
            with step(f"confirming that {label} arrived", self.destination_name):
                there = self.destination.vm_by_id(vm["Name"])
        except StepFailed as exc:
            with step(f"confirming that {label} left"):
                still_here = self.source.vm_by_id(vm["Name"])
            where = (f"it is still on {self.source_name}" if still_here else
                     f"it is no longer on {self.source_name}, so most likely on {self.destination_name}")
            raise MoveFailed(f"the migration of {label} ended, but {exc} ({self.destination_name}): {where}. Check where it "
                             "is (Get-VM) before doing anything else with it.") from None
        with step(f"confirming that {label} left"):
            still_here = self.source.vm_by_id(vm["Name"]) if there is None else None
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


class _JobReader:
    """Reads one job: by Get on the reference the method returned; once a Get faults, by a WQL query on its
    InstanceID from then on (libvirt polls jobs that way; a Get by the job's reference is unconfirmed on real hosts).
    A dropped connection or a timeout is no reason to change the form: it is raised as it is."""

    def __init__(self, host: HyperVHost, reference: EndpointReference, doing: str):
        self.host, self.reference, self.doing = host, reference, doing
        self.get_failed: StepFailed | None = None
        self.seen_by_query = False

    def read(self) -> dict[str, t.Any] | None:
        """The job now, or None when it is gone (WMI removed it after it ended)."""
        if self.get_failed is None:
            try:
                with step(self.doing):
                    return self.host.job(self.reference)
            except StepFailed as exc:
                if not isinstance(exc.cause, WSManFault):
                    raise
                self.get_failed = exc
        try:
            with step(f"{self.doing} by a WQL query on its InstanceID"):
                job = self.host.job_by_query(self.reference)
        except StepFailed as exc:
            raise StepFailed(f"{self.doing}: its Get failed ({self.get_failed.cause}), and then its WQL query on "
                             "InstanceID", exc.cause) from exc
        if job is not None:
            self.seen_by_query = True
            return job
        if self.seen_by_query or _job_gone(self.get_failed.cause):
            return None
        raise self.get_failed


def running_migration(jobs: list[dict[str, t.Any]]) -> dict[str, t.Any] | None:
    """The migration job still running among a VM's jobs (the newest when, oddly, several are), or None."""
    running = [job for job in jobs if job.get("JobState") in RUNNING_JOB_STATES]
    return running[-1] if running else None


def job_destination(job: t.Mapping[str, t.Any]) -> str:
    """Msvm_MigrationJob.DestinationHost: the destination's host name as the job's request gave it (a name, an FQDN
    or an address); empty for a storage migration, and for a host that leaves it out."""
    return str(job.get("DestinationHost") or "").strip()


def running_job_text(job: t.Mapping[str, t.Any], label: str, source: str) -> str:
    """'migration job <id> is moving VM 'web01' from HV01 to HV02 (40% complete)', from Msvm_MigrationJob."""
    destination = job_destination(job)
    percent = job.get("PercentComplete")
    progress = f"{percent}% complete" if isinstance(percent, int) and not isinstance(percent, bool) else "progress unknown"
    return (f"migration job {job.get('InstanceID') or '(no id)'} is moving {label} from {source} to "
            f"{destination or 'a destination the job does not name'} ({progress})")


def refusal_message(refusal: str, label: str, source: str, destination: str, other: t.Mapping[str, t.Any] | None,
                    ended: t.Mapping[str, t.Any] | None, seconds: float | None, where: str | None) -> str:
    """What a request refused while the VM was in use says: the migration job that held it (or that none did), how
    that job ended, and, last, where the VM is now (`where`: the host it is on, None for neither source nor
    destination)."""
    if other is None:
        text = f"{refusal}: no migration job runs for {label} on {source}, and the request was not sent again. "
    else:
        text = (f"{refusal}: {running_job_text(other, label, source)}, started by another run or by hand; this request "
                f"was refused and not sent again. Waiting for that job to end is the remedy: it was followed, and "
                f"{_how_it_ended(ended, source)} after {seconds:g} s. ")
    by = "that job" if other is not None else "another migration"
    if where == source:
        remedy = ("Run again to move it." if other is not None else
                  f"Check its state (Get-VM) and that live migration is enabled on {source}, then run again.")
        return text + f"{remedy} {label} is still on {source}."
    if where == destination:
        return text + f"Nothing was left for this run to move: {label} is on {destination} now, moved there by {by}."
    heading = job_destination(other) if other is not None else ""
    return text + (f"Check where it is (Get-VM) and gate it again if it should move: {label} is on neither {source} "
                   f"nor {destination} now; {by} moved it" + (f" to {heading}." if heading else "."))


def _how_it_ended(ended: t.Mapping[str, t.Any] | None, source: str) -> str:
    if ended is None:
        return f"it was no longer listed on {source}"
    state = ended.get("JobState")
    if state in SUCCEEDED and not ended.get("ErrorCode"):
        return "it completed"
    return f"it ended {JOB_STATES.get(state, state)} ({_error_text(ended)})"


def _error_text(job: dict[str, t.Any]) -> str:
    return str(job.get("ErrorDescription") or job.get("ErrorSummaryDescription") or "no description").rstrip(". ")


def refused_for_limit(job: dict[str, t.Any]) -> bool:
    """A job that ended, at 0 %, because a host was at its concurrent live-migration limit: nothing was transferred."""
    return (job.get("JobState") not in RUNNING_JOB_STATES and job.get("JobState") not in SUCCEEDED
            and not job.get("PercentComplete") and bool(LIMIT_REACHED.search(_error_text(job))))


def _job_gone(exc: Exception) -> bool:
    """A job Get that finds no job: WMI removed it after it ended (DeleteOnCompletion)."""
    return isinstance(exc, WSManFault) and exc.subcode == "InvalidSelectors"
