"""A migration wave under load, shared by tests/integration/test_wave_load.py and benchmarks/load_wave.py.

load_lab() generates an hvsim lab: identical hosts with concurrency limits, VMs spread over them. run_wave() runs
playbooks/migrate.yml for a wave with ansible-playbook. audit() reads the hosts afterwards and checks what the play
may never break: no host ran more live migrations at once than its limit, no VM was migrated twice (every
MigrateVirtualSystemToHost per VM, by its job), and every VM is where the play's decision says it is.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import yaml

from hvsim import inventory
from hvsim.simulator import DEFAULT_PASSWORD, DEFAULT_USER, Simulator

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "playbooks" / "migrate.yml"
VECTORS = [{"id": 1, "op": 2, "value": 0xFFFF}, {"id": 3, "op": 0, "value": 64}]
VM_VECTORS = [{"id": 1, "op": 2, "value": 0xFF}, {"id": 3, "op": 0, "value": 64}]
COMPLETED, EXCEPTION = 7, 10


def load_lab(hosts: int, vms: int, limits: list[int]) -> dict:
    """hosts identical hosts HV01.., host i allowing limits[i % len(limits)] live migrations; vms VMs vm001.. spread
    over them in turn. Every VM is compatible with every host, so where it goes is the gate's choice."""
    names = [f"HV{index + 1:02d}" for index in range(hosts)]
    return {
        "name": f"wave-{hosts}x{vms}",
        "hosts": [{"name": name, "address": f"10.20.1.{index + 1}", "vectors": VECTORS,
                   "migration": {"listeners": [f"10.20.2.{index + 1}"], "max_vm": limits[index % len(limits)]}}
                  for index, name in enumerate(names)],
        "vms": [{"name": f"vm{index + 1:03d}", "host": names[index % hosts], "state": "running", "vectors": VM_VECTORS}
                for index in range(vms)],
    }


OLD_HOST = [{"id": 1, "op": 2, "value": 0xFF}, {"id": 3, "op": 0, "value": 64}]  # a host without the newer features
NEEDS_NEW = [{"id": 1, "op": 2, "value": 0xFFF}, {"id": 3, "op": 0, "value": 64}]  # a VM that fits newer hosts only


def uneven_lab(hosts: int, seed: int) -> dict:
    """hosts hosts with limits of 1 to 3 and 2 to 8 running VMs each; every third host older, and every third VM
    using features only the newer hosts have. Deterministic for a seed."""
    rng = random.Random(seed)
    names = [f"HV{index + 1:02d}" for index in range(hosts)]
    lab = {"name": f"uneven-{hosts}-{seed}", "hosts": [], "vms": []}
    for index, name in enumerate(names):
        lab["hosts"].append({"name": name, "address": f"10.20.1.{index + 1}",
                             "vectors": OLD_HOST if index % 3 == 2 else VECTORS,
                             "migration": {"listeners": [f"10.20.2.{index + 1}"], "max_vm": rng.randint(1, 3)}})
    number = 0
    for index, name in enumerate(names):
        older = index % 3 == 2
        for _vm in range(rng.randint(2, 8)):
            number += 1
            vectors = VM_VECTORS if older or number % 3 else NEEDS_NEW  # a VM on an older host fits it, so all
            lab["vms"].append({"name": f"vm{number:03d}", "host": name, "state": "running", "vectors": vectors})
    return lab


@dataclasses.dataclass
class Wave:
    result: subprocess.CompletedProcess
    decisions: dict
    seconds: float


def run_wave(sim: Simulator, vms: list[str], workdir: Path, *args: str, forks: int = 5) -> Wave:
    """Run migrate.yml for the wave (candidates: every other host), with forks VMs at a time."""
    hosts = {name: inventory.host_vars(handle.bind, handle.http_port, "http", "ntlm", DEFAULT_USER, DEFAULT_PASSWORD, None)
             for name, handle in sim.hosts.items()}
    (workdir / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {"hyperv": {"hosts": hosts}}}}))
    command = ["ansible-playbook", "-i", str(workdir / "hosts.yml"), "-f", str(forks),
               "-e", f"ansible_python_interpreter={sys.executable}", "-e", f"vms={','.join(vms)}", *args, str(PLAYBOOK)]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_SHOW_CUSTOM_STATS="1")
    started = time.monotonic()
    result = subprocess.run(command, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    seconds = time.monotonic() - started
    decisions = {}
    for line in result.stdout.splitlines():
        if line.strip().startswith("RUN: "):
            decisions = json.loads(line.split("RUN: ", 1)[1])["migration_gate_decisions"]
    return Wave(result, decisions, seconds)


@dataclasses.dataclass
class Audit:
    """What the hosts say after the wave, against the limits and the play's decisions."""

    limits: dict[str, int]
    peaks: dict[str, int]
    migrations: int  # jobs that ran (a refused request makes a job that ends as it starts)
    refusals: int  # requests refused because a host was at its limit
    moved: list[str]
    stayed: list[str]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def audit(sim: Simulator, lab: dict, vms: list[str], decisions: dict) -> Audit:
    """Check the invariants; every breach is a line in problems."""
    problems = []
    limits = {host["name"]: host["migration"]["max_vm"] for host in lab["hosts"]}
    peaks = sim.peak_migrations()
    problems += [f"{host} ran {peaks[host]} live migrations at once, over its limit of {limit}"
                 for host, limit in limits.items() if peaks[host] > limit]
    started_on = {vm["name"]: vm["host"] for vm in lab["vms"]}
    requests = sim.migration_requests()
    migrations = refusals = 0
    moved, stayed = [], []
    for name in vms:
        jobs = requests.get(sim.guid(name), [])
        ran = [job for job in jobs if not _refused(job)]
        migrations += len(ran)
        refusals += len(jobs) - len(ran)
        if len(ran) > 1:
            problems.append(f"{name} was migrated {len(ran)} times: {[(job['source'], job['destination']) for job in ran]}")
        decision = decisions.get(name)
        where = sim.where(name)
        if decision is None:
            problems.append(f"{name} has no decision in the run's stats (it is on {where})")
        elif decision.get("moved"):
            moved.append(name)
            if where != decision["destination"] or not ran or ran[-1]["state"] != COMPLETED:
                problems.append(f"{name} is reported moved to {decision['destination']} but is on {where}")
        else:
            stayed.append(name)
            if where != started_on[name] or any(job["state"] == COMPLETED for job in ran):
                problems.append(f"{name} is reported not moved ({decision.get('verdict')}) but is on {where}")
    return Audit(limits, peaks, migrations, refusals, moved, stayed, problems)


def _refused(job: dict) -> bool:
    """A request refused at submission for a host's limit: its job ended, at 0 %, as it started."""
    return job["state"] == EXCEPTION and job["percent"] == 0 and "migration limit" in (job["error"] or "") and job["elapsed_s"] == 0
