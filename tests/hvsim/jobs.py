# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Migration jobs (Msvm_MigrationJob): progress is a function of the lab clock, so no thread is needed per job.

Lab.tick() advances every job: PercentComplete grows linearly over the job's duration; at 100 % the VM
moves to the destination (keeping its EnabledState) and JobState becomes 7; a failure injected at N %
stops it there with JobState 10, ErrorCode 32768 and Hyper-V-like error texts (32778 when the destination has no
room for the VM's memory: methods.py). While running a job
counts as an active live migration on both its source and its destination.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

JOB_RUNNING = 4
JOB_COMPLETED = 7
JOB_EXCEPTION = 10
JOB_FAILED_CODE = 32768
# Out of memory, a return code Msvm_VirtualSystemMigrationService documents; that Hyper-V sets it as the ErrorCode of a
# migration job that found no memory on its destination is this simulator's choice (unconfirmed, docs/wsman-wire.md).
JOB_OUT_OF_MEMORY_CODE = 32778
JOB_STATUS = {JOB_RUNNING: 'Job is running', JOB_COMPLETED: 'Job completed successfully', JOB_EXCEPTION: 'Job failed'}


@dataclass
class MigrationJob:
    """One migration on its source host, started by MigrateVirtualSystemToHost or by a cluster group move."""

    vm_guid: str
    vm_name: str
    source: str
    destination: str | None  # the resolved host name; None when DestinationHost matched nothing
    destination_text: str  # DestinationHost as the caller wrote it
    migration_type: int
    started: float  # lab clock
    submitted_wall: float  # wall clock, for the CIM datetimes
    duration: float
    fail_at: int | None = None
    fail_message: str | None = None
    origin: str = 'hyperv'  # 'cluster' for the live migration a cluster group move runs
    instance_id: str = field(default_factory=lambda: str(uuid.uuid4()).upper())
    state: int = JOB_RUNNING
    percent: int = 0
    error_code: int = 0
    error_summary: str | None = None
    error_description: str | None = None
    finished: float | None = None
    finished_wall: float | None = None

    @property
    def running(self) -> bool:
        """Still counting against the hosts' concurrent-migration limits."""
        return self.state == JOB_RUNNING

    def elapsed(self, now: float) -> float:
        """Seconds from start to finish (or to now)."""
        return max(0.0, (self.finished if self.finished is not None else now) - self.started)

    def fail(self, now: float, wall: float, description: str, side: str = 'source', code: int = JOB_FAILED_CODE) -> None:
        """End the job in JobState 10 with Hyper-V's error shape; the VM stays where it is."""
        host = self.source if side == 'source' else (self.destination or self.destination_text)
        self.state = JOB_EXCEPTION
        self.error_code = code
        self.error_summary = f"Virtual machine migration operation for '{self.vm_name}' failed at migration {side} '{host}'."
        self.error_description = f'{self.error_summary} (Virtual machine ID {self.vm_guid}) {description}'
        self.finished = now
        self.finished_wall = wall

    def advance(self, now: float, wall: float, move_vm) -> None:
        """Bring the job up to date with the clock; move_vm(guid, host) is called once on success."""
        if not self.running:
            return
        fraction = 1.0 if self.duration <= 0 else (now - self.started) / self.duration
        percent = max(0, min(100, int(fraction * 100)))
        if self.fail_at is not None and percent >= self.fail_at:
            self.percent = self.fail_at
            message = self.fail_message or (
                f'The migration was interrupted at {self.fail_at} percent: the connection to the destination '
                f"host '{self.destination}' was lost. The virtual machine keeps running on '{self.source}'."
            )
            self.fail(min(now, self.started + self.duration * self.fail_at / 100.0), wall, message, side='destination')
            return
        self.percent = percent
        if percent >= 100:
            move_vm(self.vm_guid, self.destination)
            self.state = JOB_COMPLETED
            self.finished = self.started + self.duration
            self.finished_wall = wall
