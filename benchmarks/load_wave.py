"""A wave of 50 VMs across 10 simulated hosts that allow 2 live migrations each, through playbooks/migrate.yml.

Every migration job takes a known time (hvsim's migration_duration_s). The wave runs with the gate picking each VM's
host among the other nine (the default candidates); the hosts' limits set its pace (forks play no part since the
wave is one task; --forks is kept to show it). Afterwards the
hosts are read: no host may have run more live migrations at once than its limit (hvsim's exact peak, from the jobs'
start and end times), no VM may have been migrated twice (its MigrateVirtualSystemToHost requests, by their jobs), and
every VM must be where the play's decision says it is. It prints those, and the wall time against the sum of the
injected job durations, and against the bound the limits set (all job-seconds / the most migrations the limits allow
at once, each taking a slot on both ends): target at most 1.3x.

With --uneven SEED ...: hosts with limits of 1 to 3 and 2 to 8 VMs each, some VMs fitting only the newer hosts
(tests/integration/wave_load.py:uneven_lab); the bound is then the larger of the busiest source's sends x job time /
its limit and all jobs / the most migrations the limits allow at once; target at most 1.5x.

Run: .venv/bin/python benchmarks/load_wave.py [--forks N ...] [--vms N] [--hosts N] [--limit N] [--duration S] [--uneven SEED ...]
     (or ./dev bench load_wave)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tools"))

# pylint: disable=wrong-import-position
import checks  # noqa: E402
from hvsim.simulator import Simulator  # noqa: E402
from integration.wave_load import audit, load_lab, run_wave, uneven_lab  # noqa: E402


def uneven_wave(args: argparse.Namespace, seed: int) -> bool:
    """An uneven wave: its wall time against the bound its limits and its busiest source set."""
    lab = uneven_lab(args.hosts, seed)
    vms = [vm["name"] for vm in lab["vms"]]
    limits = {host["name"]: host["migration"]["max_vm"] for host in lab["hosts"]}
    with Simulator.from_lab(lab, migration_duration_s=args.duration) as sim, tempfile.TemporaryDirectory() as tmp:
        wave = run_wave(sim, vms, Path(tmp), "-e", f"limit_poll={args.poll}")
        found = audit(sim, lab, vms, wave.decisions) if wave.decisions else None
    if found is None:
        print(wave.result.stdout[-4000:])
        print(f"uneven wave {seed}: the play published no decisions (exit code {wave.result.returncode})")
        return False
    sends = {}
    for vm in lab["vms"]:
        if vm["name"] in found.moved:
            sends[vm["host"]] = sends.get(vm["host"], 0) + 1
    busiest = max((count * args.duration / limits[host] for host, count in sends.items()), default=0)
    bound = max(busiest, found.migrations * args.duration / max(1, sum(limits.values()) // 2))
    ratio = wave.seconds / bound if bound else 0
    print(f"uneven wave {seed}: {len(vms)} VMs on {args.hosts} hosts (limits {sorted(limits.values())}), "
          f"{found.migrations} migrations of {args.duration:g} s in {wave.seconds:.1f} s; bound {bound:.1f} s, "
          f"wall / bound = {ratio:.2f} (target at most 1.5: {'PASS' if ratio <= 1.5 else 'MISS'})")
    print(f"  moved {len(found.moved)}, not moved {len(found.stayed)}; refused at a limit and sent again: "
          f"{found.refusals}; no limit exceeded: {all(found.peaks[h] <= found.limits[h] for h in found.limits)}; "
          f"problems: {len(found.problems)}")
    for problem in found.problems:
        print(f"  PROBLEM: {problem}")
    return found.ok


def one_wave(args: argparse.Namespace, forks: int) -> bool:
    lab = load_lab(args.hosts, args.vms, [args.limit])
    vms = [vm["name"] for vm in lab["vms"]]
    with Simulator.from_lab(lab, migration_duration_s=args.duration) as sim, tempfile.TemporaryDirectory() as tmp:
        wave = run_wave(sim, vms, Path(tmp), "-e", f"limit_poll={args.poll}", forks=forks)
        if not wave.decisions:
            print(wave.result.stdout[-4000:])
            print(f"forks {forks}: the play published no decisions (exit code {wave.result.returncode})")
            return False
        found = audit(sim, lab, vms, wave.decisions)
    busy = sum(found.peaks.values())
    blocked: dict[str, int] = {}  # why the VMs that did not move stayed: the checks their reasons name
    for name in found.stayed:
        why = ", ".join(sorted({f"{reason.get('check', '?')} ({reason.get('role', '?')})"
                                for reason in wave.decisions[name].get("reasons") or []}))
        blocked[why or wave.decisions[name].get("verdict", "?")] = blocked.get(why or wave.decisions[name].get("verdict", "?"), 0) + 1
    job_seconds = found.migrations * args.duration
    bound = job_seconds / max(1, args.limit * args.hosts // 2)
    print(f"forks {forks}: {wave.seconds:.1f} s wall for {len(vms)} VMs; {found.migrations} migrations of {args.duration:g} s "
          f"= {job_seconds:.0f} s of jobs; wall / sum of jobs = {wave.seconds / job_seconds:.2f}; bound {bound:.0f} s, "
          f"wall / bound = {wave.seconds / bound:.2f} (target at most 1.3: "
          f"{'PASS' if wave.seconds <= 1.3 * bound else 'MISS'})" if job_seconds else
          f"forks {forks}: {wave.seconds:.1f} s wall, no migration ran")
    print(f"  moved {len(found.moved)}, not moved {len(found.stayed)}"
          + (f" (blocked by: {'; '.join(f'{count} x {why}' for why, count in sorted(blocked.items()))})" if blocked else "")
          + f"; requests refused at a host's limit and sent again: {found.refusals}")
    print(f"  peak live migrations per host (limit {args.limit}): "
          + " ".join(f"{host}={peak}" for host, peak in sorted(found.peaks.items()))
          + f"; summed peaks {busy} of {args.limit * args.hosts} slots")
    print(f"  no limit exceeded: {all(found.peaks[h] <= found.limits[h] for h in found.limits)}; "
          f"no VM migrated twice: {not any('migrated' in p for p in found.problems)}; "
          f"every VM where the play says: {not any('reported' in p or 'no decision' in p for p in found.problems)}")
    for problem in found.problems:
        print(f"  PROBLEM: {problem}")
    return found.ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--forks", type=int, nargs="+", default=[5], help="ansible-playbook -f (no part in the pace)")
    parser.add_argument("--vms", type=int, default=50)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--limit", type=int, default=2, help="each host's MaximumActiveVirtualSystemMigration")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds every migration job takes")
    parser.add_argument("--poll", type=float, default=1.0, help="limit_poll: seconds between looks for a free slot")
    parser.add_argument("--uneven", type=int, nargs="*", default=[], help="seeds of uneven waves to run instead")
    args = parser.parse_args()
    checks.link_collection()
    os.environ.update(checks.environment())
    print(f"wave: {args.vms} VMs on {args.hosts} hosts, each allowing {args.limit} live migrations at once "
          f"(counted on source and destination), jobs of {args.duration:g} s, limit_poll {args.poll:g} s")
    if args.uneven:
        uneven = [uneven_wave(args, seed) for seed in args.uneven]  # every seed runs, whatever the first gave
        return 0 if all(uneven) else 1
    results = [one_wave(args, forks) for forks in args.forks]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
