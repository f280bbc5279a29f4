"""The CPU the fleet report costs: ansible-playbook playbooks/fleet_report.yml for 1,000 VMs x 32 hosts against an
empty play.

Offline, from a generated facts file in the format a run saves (fleet-facts.json: hosts with their vectors and
migration service, VMs with their host, state and vectors): four host profiles (processor generations, one batch
with a feature off in firmware), VMs drawn from a dozen profiles (some in processor compatibility mode), one host
with live migration off. The CPU is user + system of ansible-playbook and every process it starts (its workers),
the best of --repeats runs each. The target (issue 11): the report at most 3x the empty play.

Run: .venv/bin/python benchmarks/fleet_report.py [--vms 1000] [--hosts 32] [--repeats 3] [--keep DIR]
(or ./dev bench fleet_report)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLAYBOOK = ROOT / "playbooks" / "fleet_report.yml"
TARGET = 3.0
SUBSET, EQUAL = 2, 0
EMPTY_PLAY = "- name: An empty play\n  hosts: localhost\n  gather_facts: false\n  tasks: []\n"


def host_profiles() -> list[list[dict]]:
    """Four processor generations; each adds features and XSave state to the one before."""
    profiles = []
    for generation in range(4):
        features = (1 << (36 + 2 * generation)) - 1
        profiles.append([
            {"vector_id": 1, "compare_operation": SUBSET, "compatibility_info": features},
            {"vector_id": 2, "compare_operation": SUBSET, "compatibility_info": (3, 7, 7, 231)[generation]},
            {"vector_id": 3, "compare_operation": EQUAL, "compatibility_info": 64},
        ])
    profiles[1][0]["compatibility_info"] &= ~(1 << 12)  # a batch with a feature turned off in firmware
    return profiles


def facts(rng: random.Random, vm_count: int, host_count: int) -> dict:
    """{hosts, vms} as fleet-facts.json holds them."""
    profiles = host_profiles()
    hosts = {}
    for index in range(host_count):
        enabled = index != host_count - 1  # the last host has live migration off
        hosts[f"HV{index:02}"] = {
            "vectors": profiles[index % len(profiles)],
            "migration": {"live_migration_enabled": enabled, "networks": 1 if enabled else 0,
                          "active_vm_migrations": rng.randrange(3), "max_vm_migrations": 2},
        }
    vm_profiles = []
    for _profile in range(12):
        vectors = [dict(vector) for vector in rng.choice(profiles)]
        if rng.random() < 0.3:  # processor compatibility mode: a small common feature set
            vectors[0]["compatibility_info"] &= 0xFFFFFF
            vectors[1]["compatibility_info"] &= 3
        else:
            vectors[0]["compatibility_info"] &= ~rng.getrandbits(8)
        vm_profiles.append(vectors)
    names = sorted(hosts)
    vms = {}
    for index in range(vm_count):
        name = f"vm{index:04}"
        vms[name] = {"name": name, "id": f"00000000-0000-4000-8000-{index:012X}", "host": rng.choice(names),
                     "state": rng.choice(("Running", "Running", "Running", "Off", "Saved")),
                     "vectors": rng.choice(vm_profiles)}
    return {"hosts": hosts, "vms": vms}


def cpu_of(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(CPU seconds of cmd and its descendants, wall seconds, stdout); exits when cmd fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if run.returncode:
        print(run.stdout[-3000:], run.stderr[-2000:])
        raise SystemExit(run.returncode)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, wall, run.stdout


def best(repeats: int, cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    runs = [cpu_of(cmd, env) for _run in range(repeats)]
    return min(runs, key=lambda run: run[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vms", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=32)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each play; the least CPU is kept")
    parser.add_argument("--keep", type=Path, help="write the facts file and the report here, and keep them")
    options = parser.parse_args()

    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / "build" / "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    playbook_bin = str(Path(sys.executable).parent / "ansible-playbook")
    base = [playbook_bin, "-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}"]
    with tempfile.TemporaryDirectory(prefix="fleet-report-bench-") as tmp:
        work = options.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        facts_file, report_dir, empty = work / "fleet-facts.json", work / "report", work / "empty.yml"
        facts_file.write_text(json.dumps(facts(random.Random(options.seed), options.vms, options.hosts)) + "\n")
        empty.write_text(EMPTY_PLAY)
        print(f"fleet report benchmark: {options.vms} VMs x {options.hosts} hosts, offline from a facts file "
              f"({facts_file.stat().st_size / 1e6:.1f} MB), {os.cpu_count()} CPUs, best of {options.repeats}")
        empty_cpu, empty_wall, _out = best(options.repeats, [*base, str(empty)], env)
        report_cpu, report_wall, out = best(
            options.repeats, [*base, str(PLAYBOOK), "-e", f"facts_file={facts_file}", "-e", f"report_dir={report_dir}"], env)
        pairs = next((line.strip().strip('",') for line in out.splitlines() if " VMs x " in line), "?")
        sizes = ", ".join(f"{path.name} {path.stat().st_size / 1e6:.2f} MB" for path in sorted(report_dir.iterdir()))
        print(f"  {pairs}\n  {sizes}")
        print(f"empty play        CPU {empty_cpu:6.2f} s   wall {empty_wall:6.2f} s")
        print(f"fleet_report.yml  CPU {report_cpu:6.2f} s   wall {report_wall:6.2f} s")
        ratio = report_cpu / empty_cpu
        print(f"target: the report at most {TARGET:g}x the empty play's CPU: {'PASS' if ratio <= TARGET else 'MISS'} "
              f"({ratio:.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
