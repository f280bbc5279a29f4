"""A gate-only wave of 400 VMs on 20 simulated hosts against one decision, through playbooks/migrate.yml.

The lab is tests/integration/wave_load.py's (identical hosts, every VM compatible with every host, so every other
host is a candidate). It prints the wall time of the wave (mode=gate: every VM decided, nothing moved), of one
decision in the same lab, the ratio (target: at most 10x) and the requests the hosts served. Figures, not a test.

Run: .venv/bin/python benchmarks/gate_wave.py [--vms N] [--hosts N]   (or ./dev bench gate_wave)
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
from integration.wave_load import load_lab, run_wave  # noqa: E402


def requests_served(sim: Simulator) -> int:
    return sum(count for host in sim.hosts for op, count in sim.counters(host).items() if ":" in op)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--vms", type=int, default=400)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3, help="runs of the one decision (the median is used)")
    args = parser.parse_args()
    checks.link_collection()
    os.environ.update(checks.environment())
    lab = load_lab(args.hosts, args.vms, [2])
    vms = [vm["name"] for vm in lab["vms"]]
    with Simulator.from_lab(lab) as sim, tempfile.TemporaryDirectory() as tmp:
        ones = []
        for _run in range(args.runs):  # one decision: the median of a few runs, as it is short and noisy
            sim.reset()
            ones.append(run_wave(sim, vms[:1], Path(tmp), "-e", "mode=gate"))
        one_requests = requests_served(sim)
        one = sorted(ones, key=lambda wave: wave.seconds)[len(ones) // 2]
        sim.reset()
        every = run_wave(sim, vms, Path(tmp), "-e", "mode=gate")
        every_requests = requests_served(sim)
    allowed = sum(1 for decision in every.decisions.values() if decision.get("allowed"))
    if len(every.decisions) != len(vms) or one.result.returncode or every.result.returncode:
        print(every.result.stdout[-3000:])
        print(f"the wave decided {len(every.decisions)} of {len(vms)} VMs (exit codes {one.result.returncode}, "
              f"{every.result.returncode})")
        return 1
    ratio = every.seconds / one.seconds
    print(f"gate-only wave: {len(vms)} VMs on {args.hosts} hosts, every other host a candidate")
    print(f"  one decision: {one.seconds:.1f} s (median of {len(ones)}), {one_requests} requests")
    print(f"  the wave:     {every.seconds:.1f} s, {every_requests} requests ({every_requests / len(vms):.1f} per VM); "
          f"{allowed} allowed")
    print(f"  wave / one decision: {ratio:.1f}x (target at most 10x: {'PASS' if ratio <= 10 else 'MISS'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
