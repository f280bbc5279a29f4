"""Run playbooks/migrate.yml against hvsim under one fault and record what the play said and what the hosts say.

Used by the fault suite's tests and by its table (conftest.py); a Scenario (scenarios.py) says what to break.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from hvsim import inventory
from hvsim.simulator import Simulator
from hvsim.tls import CertificateAuthority

PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "migrate.yml"
MIGRATE = "Invoke:MigrateVirtualSystemToHost"
# The VM every scenario moves, and where: web01 fits HV-NEW-01 by its vectors and by Hyper-V's checks.
VM, VM_ID, SOURCE, DESTINATION = "web01", "6C9A2A5F-7F1B-4D4B-9C1E-0F0E1D2C3B4A", "HV-OLD-01", "HV-NEW-01"
# How a migration job of the demo lab may end (CIM_ConcreteJob.JobState).
JOB_COMPLETED = 7


@dataclass
class Observation:
    """One run: what the play reported, and what the simulated hosts say afterwards."""

    returncode: int
    stdout: str
    reported: str  # moved | blocked | stopped | move failed | nothing to move | already there | no decision
    message: str  # the text a person reads: the run's failure message, or the decision's own message
    reported_host: str | None  # where the play says the VM is now (None: it does not say)
    decision: dict = field(default_factory=dict)
    migrations: int = 0  # MigrateVirtualSystemToHost requests the hosts served
    completed_jobs: int = 0
    copies: int = 0  # how many VMs with the VM's id exist across the hosts
    host_after: str | None = None


def write_inventory(sim: Simulator, path: Path, *, password: str | None = None, ca_file: str | None = None) -> Path:
    """Every simulated host in group hyperv: HTTP with NTLM and message encryption, or HTTPS with this CA."""
    user, real_password = sim.users[0]
    hosts = {}
    for name, handle in sim.hosts.items():
        scheme, port = ("https", handle.https_port) if ca_file else ("http", handle.http_port)
        hosts[name] = inventory.host_vars(handle.bind, port, scheme, "ntlm", user, password or real_password, ca_file)
    path.write_text(yaml.safe_dump({"all": {"children": {"hyperv": {"hosts": hosts}}}}))
    return path


def foreign_ca(directory: Path) -> str:
    """The CA file of another authority: the hosts' certificates do not chain to it."""
    directory.mkdir(parents=True, exist_ok=True)
    return CertificateAuthority(str(directory)).ca_file


def on_request(sim: Simulator, host: str, op: str, nth: int, action) -> None:
    """Run action() when `host` receives its nth `op` request, before serving it (hvsim's `call` fault)."""
    sim.inject(host, "call", op=op, nth=nth, times=1, action=action)


def run_migrate(sim: Simulator, workdir: Path, *extra: str, password: str | None = None,
                ca_file: str | None = None) -> subprocess.CompletedProcess:
    """ansible-playbook playbooks/migrate.yml for web01 from HV-OLD-01 to HV-NEW-01 (stdout and stderr merged)."""
    hosts = write_inventory(sim, workdir / "hosts.yml", password=password, ca_file=ca_file)
    cmd = ["ansible-playbook", "-i", str(hosts), "-e", f"ansible_python_interpreter={sys.executable}",
           "-e", f"vm={VM}", "-e", f"source={SOURCE}", "-e", f"destination={DESTINATION}",
           "-e", "limit_poll=0.2", "-e", "limit_wait=0", *extra, str(PLAYBOOK)]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_SHOW_CUSTOM_STATS="1")
    return subprocess.run(cmd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)


def failure_message(stdout: str) -> str:
    """The message of the task that failed the run (fatal results that were not ignored), or ''."""
    lines = stdout.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("fatal:") and not (index + 1 < len(lines) and lines[index + 1] == "...ignoring"):
            return json.loads(line.split("=>", 1)[1]).get("msg", "")
    return ""


def decisions(stdout: str) -> dict:
    """migration_gate_decisions from the run's custom stats (set_stats), as AWX would receive them."""
    found = {}
    for line in stdout.splitlines():
        if line.strip().startswith("RUN: "):
            found = json.loads(line.split("RUN: ", 1)[1]).get("migration_gate_decisions", {})
    return found


# How vm_move says where a VM is after a failed move, or that it stayed where it was.
_NOT_MOVED = ("nothing was moved", "did not take effect")
_WHERE_AFTER_FAILURE = (re.compile(r"is still on ([\w.-]+?)[.,;]"), re.compile(r"is on ([\w.-]+?) nevertheless"))


def reported_outcome(decision: dict) -> tuple[str, str | None]:
    """What the play says happened, and where it says the VM is (None when it does not say)."""
    if not decision:
        return "no decision", None
    if decision.get("verdict") == "error":  # the gate itself stopped at a step
        return "stopped", None
    move = decision.get("move")
    if move and move.get("failed"):
        text = move.get("msg", "")
        for pattern in _WHERE_AFTER_FAILURE:
            match = pattern.search(text)
            if match:
                return "move failed", match.group(1)
        if any(words in text for words in _NOT_MOVED):
            return "move failed", decision.get("source")
        return "move failed", None
    if decision.get("moved"):
        return "moved", (move.get("final") or {}).get("host")
    if move and not move.get("changed"):
        return "nothing to move", (move.get("final") or {}).get("host")
    if decision.get("verdict") == "already_there":
        return "already there", decision.get("destination")
    if not decision.get("allowed"):
        # "Nothing was moved": the VM stays where the gate found it.
        return "blocked", decision.get("source") or None
    return "allowed", decision.get("source")


def observe(sim: Simulator, result: subprocess.CompletedProcess) -> Observation:
    """The run's report next to the hosts' own account: requests served, jobs, where the VM is."""
    for job in sim.jobs():  # a job the play stopped following still runs: let it end first
        sim.wait_for_job(job["id"])
    decision = decisions(result.stdout).get(VM, {})
    reported, reported_host = reported_outcome(decision)
    found = sim.lab.find_vms(VM_ID)
    return Observation(
        returncode=result.returncode,
        stdout=result.stdout,
        reported=reported,
        message=failure_message(result.stdout) or decision.get("message", ""),
        reported_host=reported_host,
        decision=decision,
        migrations=sum(sim.counters(name).get(MIGRATE, 0) for name in sim.hosts),
        completed_jobs=sum(1 for job in sim.jobs() if job["vm"] == VM_ID and job["state"] == JOB_COMPLETED),
        copies=len(found),
        host_after=found[0].host if len(found) == 1 else None,
    )
