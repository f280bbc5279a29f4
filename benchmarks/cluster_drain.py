"""A failover-cluster node drained through playbooks/migrate.yml (-e drain=NODE): its running VMs moved through the
cluster within the nodes' limits, then the node paused with drain. Figures, not a test.

The lab: a cluster of --nodes identical nodes, each allowing --limit live migrations at once, and --vms running
clustered VMs on the first node, every one compatible with every node; each migration job takes --duration seconds.
The bound is what the limits allow: the drained node sends at most --limit at once and the other nodes receive at
most (nodes - 1) x limit, so the bound is jobs x duration / min(limit, (nodes - 1) x limit). Target: at most 1.3x.

Run: .venv/bin/python benchmarks/cluster_drain.py [--vms 20] [--nodes 4] [--limit 2] [--duration 5]
     (or ./dev bench cluster_drain)
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
from integration.wave_load import VECTORS, VM_VECTORS, run_wave  # noqa: E402


def cluster_lab(nodes: int, vms: int, limit: int) -> dict:
    names = [f"HVC-N{index + 1}" for index in range(nodes)]
    return {
        "name": f"cluster-drain-{nodes}x{vms}",
        "clusters": [{"name": "HVC", "nodes": names}],
        "hosts": [{"name": name, "address": f"10.30.1.{index + 1}", "vectors": VECTORS,
                   "migration": {"listeners": [f"10.30.2.{index + 1}"], "max_vm": limit}}
                  for index, name in enumerate(names)],
        "vms": [{"name": f"role{index + 1:02d}", "host": names[0], "state": "running", "clustered": True,
                 "vectors": VM_VECTORS} for index in range(vms)],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--vms", type=int, default=20)
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--limit", type=int, default=2)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    checks.link_collection()
    os.environ.update(checks.environment())
    lab = cluster_lab(args.nodes, args.vms, args.limit)
    with Simulator.from_lab(lab, migration_duration_s=args.duration) as sim, tempfile.TemporaryDirectory() as tmp:
        wave = run_wave(sim, [], Path(tmp), "-e", "drain=HVC-N1", "-e", "limit_poll=1")
        moves = [move for move in sim.cluster_moves() if move["drain_of"] is None]
        where = {vm["name"]: sim.where(vm["name"]) for vm in lab["vms"]}
        peaks = sim.peak_migrations()
        node = sim.node_state("HVC-N1")
        violations = sim.cluster_violations()
    if wave.result.returncode:
        print(wave.result.stdout[-4000:])
    bound = args.vms * args.duration / min(args.limit, (args.nodes - 1) * args.limit)
    ratio = wave.seconds / bound
    left = [name for name, host in where.items() if host == "HVC-N1"]
    print(f"cluster drain: {args.vms} running roles on HVC-N1 of a {args.nodes}-node cluster, limit {args.limit} per node, "
          f"jobs of {args.duration:g} s")
    print(f"  {wave.seconds:.1f} s wall; bound {bound:.0f} s; wall / bound = {ratio:.2f} "
          f"(target at most 1.3: {'PASS' if ratio <= 1.3 else 'MISS'})")
    print(f"  moved through the cluster: {len(moves)} (completed {sum(move['state'] == 'completed' for move in moves)}); "
          f"left on HVC-N1: {len(left)}; MigrateVirtualSystemToHost on a role: {len(violations)}")
    print(f"  peak live migrations per node: {' '.join(f'{host}={peak}' for host, peak in sorted(peaks.items()))} "
          f"(limit {args.limit}); HVC-N1 {node['state']}, drain {node['drain_status']}")
    return 0 if not wave.result.returncode and not left and not violations else 1


if __name__ == "__main__":
    sys.exit(main())
