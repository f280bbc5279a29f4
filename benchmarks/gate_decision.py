"""What one gate decision through playbooks/migrate.yml costs: wall time, controller CPU time and requests.

The decision is `ansible-playbook playbooks/migrate.yml -e vm=web01 -e destination=HV-NEW-01 -e mode=gate` against
the demo lab (hvsim in this process, every host in group hyperv, no injected latency). It is timed against an empty
play: one play on localhost, gather_facts false, no tasks, with the same inventory and extra vars, so the ratio
decision / empty is what the gate adds to ansible-playbook's own start-up. Each run is timed as a whole (wall time of
the process, and its CPU time plus its workers' from getrusage(RUSAGE_CHILDREN); hvsim's threads are not counted).
Runs alternate empty, decision, decision with -e source=HV-OLD-01; one warm-up round comes first and is not counted.
The requests are the hosts' counters for one decision (authentication exchanges apart). Figures only, nothing fails
on time; the exit code is not 0 only when a run exits with an error.

Run: .venv/bin/python benchmarks/gate_decision.py [--runs N]   (or ./dev bench gate_decision)
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tools"))

# pylint: disable=wrong-import-position
import checks  # noqa: E402
from hvsim import inventory  # noqa: E402
from hvsim.simulator import DEFAULT_PASSWORD, DEFAULT_USER, Simulator  # noqa: E402

VM, SOURCE, DESTINATION = "web01", "HV-OLD-01", "HV-NEW-01"
TARGET_RATIO = 1.6  # decision wall time / empty play wall time, at most
CASES = [  # (name, playbook, extra vars, request target or None)
    ("empty play", "empty", [], None),
    ("decision", "migrate", [], 12),
    ("decision, source given", "migrate", ["-e", f"source={SOURCE}"], 8),
]
EMPTY_PLAY = [{"name": "Empty play", "hosts": "localhost", "gather_facts": False, "tasks": []}]


def run_once(sim: Simulator, tmp: Path, playbook: Path, extra: list[str]) -> tuple[float, float, dict]:
    """One ansible-playbook run on a fresh lab: (wall s, CPU s, {host: {operation: requests}})."""
    sim.reset()  # the lab as defined, counters at zero
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(checks.COLLECTIONS), ANSIBLE_NOCOLOR="1")
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(tmp / "inventory.yml"), str(playbook),
           "-e", f"vm={VM}", "-e", f"destination={DESTINATION}", "-e", "mode=gate",
           "-e", f"ansible_python_interpreter={sys.executable}", *extra]
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode:
        print(f"{' '.join(cmd)}\nexited {result.returncode}; the end of its output:")
        print(result.stdout[-3000:], result.stderr[-2000:])
        raise SystemExit(result.returncode)
    if sim.where(VM) != SOURCE:
        print(f"  note: {VM} moved to {sim.where(VM)} in mode=gate; the next run resets the lab")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, {host: sim.counters(host) for host in sim.hosts}


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def request_table(name: str, counters: dict, target: int, auth: int) -> None:
    hosts = list(counters)
    operations = sorted({op for ops in counters.values() for op in ops})
    width = max([len("operation"), len("total")] + [len(op) for op in operations])
    print(f"\n{name}: requests per host and operation")
    print(f"  {'operation':<{width}}" + "".join(f"{h:>11}" for h in hosts) + f"{'total':>8}")
    for op in operations:
        row = [counters[h].get(op, 0) for h in hosts]
        print(f"  {op:<{width}}" + "".join(f"{n or '.':>11}" for n in row) + f"{sum(row):>8}")
    per_host = [sum(counters[h].values()) for h in hosts]
    total = sum(per_host)
    print(f"  {'total':<{width}}" + "".join(f"{n:>11}" for n in per_host) + f"{total:>8}")
    print(f"  {total} requests, target at most {target}: {verdict(total <= target)}"
          f"  (authentication exchanges, not counted: {auth})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each case (after one warm-up round)")
    args = parser.parse_args()
    checks.link_collection()
    playbooks = {"migrate": ROOT / "playbooks" / "migrate.yml"}
    walls: dict[str, list[float]] = {case[0]: [] for case in CASES}
    cpus: dict[str, list[float]] = {case[0]: [] for case in CASES}
    requests: dict[str, list[dict]] = {case[0]: [] for case in CASES}
    auths: dict[str, int] = {}
    with Simulator.from_lab(ROOT / "tests" / "hvsim" / "labs" / "demo.yml") as sim, \
            tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        hosts = {name: inventory.host_vars(h.bind, h.http_port, "http", "ntlm", DEFAULT_USER, DEFAULT_PASSWORD, None)
                 for name, h in sim.hosts.items()}
        (tmp / "inventory.yml").write_text(yaml.safe_dump({"all": {"children": {"hyperv": {"hosts": hosts}}}}))
        playbooks["empty"] = tmp / "empty.yml"
        playbooks["empty"].write_text(yaml.safe_dump(EMPTY_PLAY))
        print(f"gate decision: {VM} to {DESTINATION}, mode=gate, demo lab ({len(hosts)} hosts in group hyperv), "
              f"{args.runs} runs of each case after one warm-up round, alternating")
        for round_number in range(args.runs + 1):
            for name, playbook, extra, _target in CASES:
                wall, cpu, counters = run_once(sim, tmp, playbooks[playbook], extra)
                if round_number == 0:
                    continue  # warm-up: caches, .pyc files
                walls[name].append(wall)
                cpus[name].append(cpu)
                requests[name].append(counters)
                auths[name] = sum(sum(sim.auth_counters(h).values()) for h in sim.hosts)
            if round_number:
                print(f"  run {round_number}: " + ", ".join(f"{case[0]} {walls[case[0]][-1]:.2f} s" for case in CASES))

    print(f"\n{'case':<24}{'wall median':>12}{'wall min':>10}{'CPU median':>12}{'CPU min':>9}{'requests':>10}")
    for name, *_rest in CASES:
        totals = sorted({sum(sum(ops.values()) for ops in run.values()) for run in requests[name]})
        print(f"{name:<24}{statistics.median(walls[name]):>11.2f}s{min(walls[name]):>9.2f}s"
              f"{statistics.median(cpus[name]):>11.2f}s{min(cpus[name]):>8.2f}s{'/'.join(map(str, totals)):>10}")
    empty = statistics.median(walls["empty play"])
    for name, *_rest in CASES[1:]:
        ratio = statistics.median(walls[name]) / empty
        print(f"{name} / empty play, wall medians: {ratio:.2f}x (target at most {TARGET_RATIO}x): "
              f"{verdict(ratio <= TARGET_RATIO)}; mins: {min(walls[name]) / min(walls['empty play']):.2f}x")
    for name, _playbook, _extra, target in CASES[1:]:
        request_table(name, requests[name][-1], target, auths[name])
    return 0


if __name__ == "__main__":
    sys.exit(main())
