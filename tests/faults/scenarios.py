"""The fault table: each row breaks one thing while playbooks/migrate.yml moves web01 from HV-OLD-01 to HV-NEW-01,
and says what must follow. The tests (test_migrate_under_faults.py) and the printed table (conftest.py) read it.

A row's `prepare(sim, workdir)` injects the fault into the running simulator and returns keyword arguments for
harness.run_migrate (another password, another CA). What must follow: the outcome the play reports, the words its
message must contain (the cause, as a person reads it), where the VM is afterwards (None: nowhere, it was deleted),
and how many MigrateVirtualSystemToHost requests the hosts served.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from hvsim.compat import Vector
from hvsim.simulator import Simulator

from faults.harness import DESTINATION, SOURCE, VM_ID, foreign_ca, on_request

OTHER_HOST = "HV-NEW-02"


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: str
    prepare: Callable[[Simulator, Path], dict]
    outcome: str
    cause: tuple[str, ...]
    host_after: str | None
    migrations: int
    args: tuple[str, ...] = ()
    xfail: str | None = None  # a known bug in a file of another owner: the row documents it until it is fixed


def inject(host: str, kind: str, **params) -> Callable[[Simulator, Path], dict]:
    def prepare(sim: Simulator, _workdir: Path) -> dict:
        sim.inject(host, kind, **params)
        return {}

    return prepare


def between_facts_and_move(change: Callable[[Simulator], None]) -> Callable[[Simulator, Path], dict]:
    """change(sim) while vm_move looks for the VM on the source: its second Msvm_ComputerSystem enumeration there
    (the first is the gate's own read, which the decision rests on)."""

    def prepare(sim: Simulator, _workdir: Path) -> dict:
        on_request(sim, SOURCE, "Enumerate:Msvm_ComputerSystem", 2, lambda: change(sim))
        return {}

    return prepare


def _relocate(host: str) -> Callable[[Simulator], None]:
    def change(sim: Simulator) -> None:
        with sim.lab.lock:
            sim.lab.vm(VM_ID).host = host

    return change


def _rename(sim: Simulator) -> None:
    with sim.lab.lock:
        sim.lab.vm(VM_ID).name = "web01-renamed"


def _delete(sim: Simulator) -> None:
    with sim.lab.lock:
        del sim.lab.vms[VM_ID]


def _older_destination(sim: Simulator) -> None:
    """The destination's processor features shrink to an older generation's (a host swapped in the cluster)."""
    with sim.lab.lock:
        sim.lab.host(DESTINATION).vectors = [Vector(1, 2, 0xFFFFF), Vector(2, 2, 3), Vector(3, 0, 64)]


def _vm_needs_more(sim: Simulator) -> None:
    """The VM restarted on newer processor features than any host of the lab has: bit 44 of ProcessorFeatures."""
    with sim.lab.lock:
        sim.lab.vm(VM_ID).vectors = [Vector(1, 2, 0x1FFFFFFFFFFF), Vector(2, 2, 7), Vector(3, 0, 64)]


def _frees_during_the_wait(sim: Simulator, _workdir: Path) -> dict:
    sim.inject(DESTINATION, "migration_limit")
    # The slot frees when the gate reads the destination's migration service a second time (its first poll).
    on_request(sim, DESTINATION, "Enumerate:Msvm_VirtualSystemMigrationService", 2, lambda: sim.clear_faults(DESTINATION))
    return {}


def _password(_sim: Simulator, _workdir: Path) -> dict:
    return {"password": "Wrong-Passw0rd!"}


def _foreign_ca(_sim: Simulator, workdir: Path) -> dict:
    return {"ca_file": foreign_ca(workdir / "foreign-ca")}


# Known bugs in files of other owners (see the report in docs/reliability.md).
NOTHING_MOVED = "Nothing was moved"

BASE = [
    Scenario("wrong-password", "wrong password (HTTP 401 on every host)", _password, "blocked",
             ("rejected the credentials", "HTTP 401", NOTHING_MOVED), SOURCE, 0),
    Scenario("certificate-mismatch", "HTTPS, certificates from a CA the controller does not trust", _foreign_ca, "blocked",
             ("TLS certificate", "was rejected", NOTHING_MOVED), SOURCE, 0),
    Scenario("timeout-always", "WinRM w:TimedOut on every request to the source", inject(SOURCE, "timeout"), "blocked",
             ("w:TimedOut", NOTHING_MOVED), SOURCE, 0),
    Scenario("timeout-once", "WinRM w:TimedOut once, on the first read of the source", inject(SOURCE, "timeout", times=1),
             "moved", ("MOVED",), DESTINATION, 1),
    Scenario("drop-first-read", "connection dropped once, on the first read of the source", inject(SOURCE, "drop", times=1),
             "moved", ("MOVED",), DESTINATION, 1),
    Scenario("drop-before-migrate", "connection dropped on MigrateVirtualSystemToHost, before the host acts",
             inject(SOURCE, "drop", op="Invoke:MigrateVirtualSystemToHost", times=1, phase="before"), "move failed",
             ("was not sent again", "did not take effect"), SOURCE, 1),
    Scenario("drop-after-migrate", "connection dropped on MigrateVirtualSystemToHost, after the job started",
             inject(SOURCE, "drop", op="Invoke:MigrateVirtualSystemToHost", times=1, phase="after"), "moved",
             ("MOVED",), DESTINATION, 1),
    Scenario("drop-polling-once", "connection dropped once while polling the migration job",
             inject(SOURCE, "drop", op="Get:Msvm_MigrationJob", times=1), "moved", ("MOVED",), DESTINATION, 1),
    Scenario("drop-polling-always", "connection dropped on every poll of the migration job",
             inject(SOURCE, "drop", op="Get:Msvm_MigrationJob"), "moved",
             ("MOVED", "could not be followed"), DESTINATION, 1),
    Scenario("job-fails-midway", "the migration job fails at 50 %",
             inject(SOURCE, "migration_fail", percent=50, message="The network connection was interrupted."), "move failed",
             ("The network connection was interrupted", "still on HV-OLD-01"), SOURCE, 1),
    Scenario("limit-no-wait", "destination at its live-migration limit, no wait", inject(DESTINATION, "migration_limit"),
             "blocked", ("at its limit of 2 simultaneous live migrations", NOTHING_MOVED), SOURCE, 0),
    Scenario("limit-wait-expires", "destination at its limit, still full after a 1 s wait",
             inject(DESTINATION, "migration_limit"), "blocked", ("still after waiting 1.0 s", NOTHING_MOVED), SOURCE, 0,
             args=("-e", "limit_wait=1")),
    Scenario("limit-wait-frees", "destination at its limit, a slot frees during a 10 s wait", _frees_during_the_wait,
             "moved", ("MOVED",), DESTINATION, 1, args=("-e", "limit_wait=10")),
    Scenario("vm-moved-to-destination", "VM moved to the destination by someone else between facts and move",
             between_facts_and_move(_relocate(DESTINATION)), "nothing to move", ("already on HV-NEW-01",), DESTINATION, 0),
    Scenario("vm-moved-elsewhere", "VM moved to a third host between facts and move",
             between_facts_and_move(_relocate(OTHER_HOST)), "move failed", ("on neither HV-OLD-01 nor HV-NEW-01",),
             OTHER_HOST, 0),
    Scenario("vm-renamed", "VM renamed between facts and move (the move goes by its id)", between_facts_and_move(_rename),
             "moved", ("MOVED",), DESTINATION, 1),
    Scenario("vm-switched-off", "VM switched off between facts and move",
             between_facts_and_move(lambda sim: sim.set_vm_state(VM_ID, "off")), "move failed",
             ("is Off (3) on HV-OLD-01, not Running (2)", "nothing was moved"), SOURCE, 0),
    Scenario("vm-deleted", "VM deleted between facts and move", between_facts_and_move(_delete), "move failed",
             ("on neither HV-OLD-01 nor HV-NEW-01",), None, 0),
    Scenario("stale-host-vectors", "stale facts: the destination's vectors shrank between facts and move",
             between_facts_and_move(_older_destination), "move failed", ("processor", "still on HV-OLD-01"), SOURCE, 1),
    Scenario("stale-vm-vectors", "stale facts: the VM's vectors grew between facts and move",
             between_facts_and_move(_vm_needs_more), "move failed", ("processor", "still on HV-OLD-01"), SOURCE, 1),
]

# A WMI provider failure (w:InternalError + MSFT_WmiError) on every request of one operation on one host, for every
# (host, operation) a clean run uses: test_every_operation_of_a_clean_run_has_a_row checks this list against the
# counters of a clean run. Columns: host, operation, the outcome, the step the message must name, where the VM ends,
# MigrateVirtualSystemToHost requests, and a known bug.
WMI_FAULTS = [
    (SOURCE, "Enumerate:Msvm_ComputerSystem", "blocked", "finding the VM", SOURCE, 0, None),
    (SOURCE, "Enumerate:Msvm_VirtualSystemMigrationService", "blocked", "[reading the VM]", SOURCE, 0, None),
    (SOURCE, "Invoke:GetSystemCompatibilityVectors", "blocked", "[reading the VM]", SOURCE, 0, None),
    (SOURCE, "Invoke:GetSystemCompatibilityInfo", "blocked", "[reading the VM]", SOURCE, 0, None),
    (SOURCE, "Enumerate:Msvm_Memory", "blocked", "[reading the VM]", SOURCE, 0, None),  # its memory demand
    (SOURCE, "Invoke:CheckVirtualSystemIsMigratableToHost", "blocked", "CheckVirtualSystemIsMigratableToHost", SOURCE, 0,
     None),
    # the gate cannot tell whether the VM is a cluster role: it fails closed (the move asks again before sending)
    (SOURCE, "Enumerate:MSCluster_Resource", "blocked", "reading the failover cluster", SOURCE, 0, None),
    (SOURCE, "Invoke:MigrateVirtualSystemToHost", "move failed", "requesting the migration", SOURCE, 1, None),
    (SOURCE, "Get:Msvm_MigrationJob", "moved", "could not be followed", DESTINATION, 1, None),
    (DESTINATION, "Enumerate:Msvm_ComputerSystem", "move failed", "confirming that", DESTINATION, 1, None),
    (DESTINATION, "Enumerate:Msvm_VirtualSystemMigrationService", "blocked", "[reading the host]", SOURCE, 0, None),
    (DESTINATION, "Invoke:GetSystemCompatibilityVectors", "blocked", "[reading the host]", SOURCE, 0, None),
    (DESTINATION, "Enumerate:Win32_OperatingSystem", "blocked", "[reading the host]", SOURCE, 0, None),  # its free memory
    (DESTINATION, "Invoke:CheckSystemCompatibilityInfo", "blocked", "CheckSystemCompatibilityInfo", SOURCE, 0, None),
]


def wmi_fault_message(host: str, op: str) -> str:
    return f"Injected WMI provider failure on {host} ({op.split(':', 1)[1]})."


def _wmi_scenario(host: str, op: str, outcome: str, step: str, host_after: str, migrations: int, xfail: str | None) -> Scenario:
    message = wmi_fault_message(host, op)
    role = "source" if host == SOURCE else "destination"
    return Scenario(f"wmi-{role}-{op.replace(':', '-')}", f"WMI fault on {op} ({role})",
                    inject(host, "wmi_fault", op=op, code=2147749889, message=message),
                    outcome, (message, step), host_after, migrations, xfail=xfail)


SCENARIOS = BASE + [_wmi_scenario(*row) for row in WMI_FAULTS]
BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}
