"""Benchmark compat_matrix on a 5,000-VM x 200-host fleet against a naive per-pair evaluation.

Two fleets:
- realistic: VMs and hosts drawn from a few dozen vector profiles (templates, hardware batches),
  each with the three known vectors and a few more;
- all distinct: every VM and every host has vectors of its own, so nothing can be shared.

"naive" parses each vector list once, then evaluates every (VM, host) pair and sorts each VM's
ranking: the obvious implementation without profile sharing. Both produce the same matrix; the
script checks that before it prints any figure.

Run: .venv/bin/python benchmarks/compat_matrix.py [--vms 5000] [--hosts 200] [--seed 7]
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "build" / "collections"))

# pylint: disable=wrong-import-position
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine import compat
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine import ranking
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine import vectors

SUBSET, EQUAL, LESS_EQUAL, GREATER_EQUAL = 2, 0, 7, 5


def host_profile(rng: random.Random) -> list[dict]:
    """A host: its processor generation's feature masks plus a few other vectors."""
    generation = rng.randrange(6)  # each generation adds features to the one before
    features = (1 << (36 + 2 * generation)) - 1
    if rng.random() < 0.3:  # a batch with a feature turned off in firmware
        features &= ~(1 << rng.randrange(36))
    return [
        {"vector_id": 1, "compare_operation": SUBSET, "compatibility_info": features},
        {"vector_id": 2, "compare_operation": SUBSET, "compatibility_info": (3, 7, 7, 231, 231, 231)[generation]},
        {"vector_id": 3, "compare_operation": EQUAL, "compatibility_info": 128 if rng.random() < 0.1 else 64},
        {"vector_id": 10, "compare_operation": LESS_EQUAL, "compatibility_info": rng.randrange(8, 13)},
        {"vector_id": 11, "compare_operation": GREATER_EQUAL, "compatibility_info": rng.randrange(0, 4)},
    ]


def vm_profile(rng: random.Random, host: list[dict]) -> list[dict]:
    """A VM that started on `host`: a subset of its features, sometimes with compatibility mode."""
    vm = [dict(vector) for vector in host[:5]]
    if rng.random() < 0.3:  # processor compatibility mode: a small common feature set
        vm[0]["compatibility_info"] &= 0xFFFFFF
        vm[1]["compatibility_info"] &= 3
    else:
        vm[0]["compatibility_info"] &= ~rng.getrandbits(8)
    vm[3]["compatibility_info"] = rng.randrange(8, 13)
    vm[4]["compatibility_info"] = rng.randrange(0, 4)
    return vm


def realistic_fleet(rng, vm_count, host_count, profiles=36):
    host_profiles = [host_profile(rng) for _profile in range(profiles)]
    vm_profiles = [vm_profile(rng, rng.choice(host_profiles)) for _profile in range(profiles)]
    hosts = {f"hv{i:03}": rng.choice(host_profiles) for i in range(host_count)}
    vms = {f"vm{i:05}": rng.choice(vm_profiles) for i in range(vm_count)}
    return vms, hosts


def distinct_fleet(rng, vm_count, host_count):
    hosts = {}
    for i in range(host_count):
        unique = {"vector_id": 20, "compare_operation": EQUAL, "compatibility_info": i}
        hosts[f"hv{i:03}"] = host_profile(rng) + [unique]
    host_list = list(hosts.values())
    vms = {}
    for i in range(vm_count):
        # A vector of its own makes every VM distinct without changing its compatibility.
        unique = {"vector_id": 20, "compare_operation": GREATER_EQUAL, "compatibility_info": 1000 + i}
        vms[f"vm{i:05}"] = vm_profile(rng, rng.choice(host_list)) + [unique]
    return vms, hosts


def naive_matrix(vms: dict, hosts: dict) -> dict:
    """Parse every list once, then evaluate every pair: no sharing of identical profiles."""
    host_tables = {
        name: compat.host_values(vectors.parse_profile(vecs, name)) for name, vecs in hosts.items()
    }
    matrix = {}
    for vm_name, vm_vectors in vms.items():
        vm = vectors.parse_profile(vm_vectors, vm_name)
        entries = []
        for host_name, table in host_tables.items():
            reasons = compat.check(vm, table)
            entries.append(
                {
                    "host": host_name,
                    "compatible": not reasons,
                    "reasons": reasons,
                    "surplus_bits": ranking.surplus_bits(vm, table),
                }
            )
        entries.sort(key=ranking.ranking_order)
        matrix[vm_name] = entries
    return matrix


def best_of(repeats: int, func, *args):
    """Best wall time of `repeats` cold runs; like timeit, with the garbage collector paused so
    a run does not pay for collecting the results the runs before it left alive."""
    timings, result = [], None
    for _run in range(repeats):
        compat._explain_cached.cache_clear()  # pylint: disable=protected-access
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            result = func(*args)
            timings.append(time.perf_counter() - start)
        finally:
            gc.enable()
    return min(timings), result


def measure(label: str, vms: dict, hosts: dict, repeats: int) -> float:
    engine_s, engine = best_of(repeats, ranking.compat_matrix, vms, hosts)
    naive_s, naive = best_of(1, naive_matrix, vms, hosts)
    assert engine == naive, f"{label}: compat_matrix and the naive evaluation disagree"
    vm_profiles = len({tuple(map(tuple, (v.values() for v in vecs))) for vecs in vms.values()})
    host_profiles = len({tuple(map(tuple, (v.values() for v in vecs))) for vecs in hosts.values()})
    compatible = sum(entry["compatible"] for ranking_ in engine.values() for entry in ranking_)
    print(
        f"{label:<13} {len(vms)} VMs x {len(hosts)} hosts ({vm_profiles} VM profiles, "
        f"{host_profiles} host profiles, {compatible} compatible pairs)\n"
        f"{'':<13} engine {engine_s * 1000:9.1f} ms   naive {naive_s * 1000:9.1f} ms   "
        f"naive/engine {naive_s / engine_s:7.1f}x   engine/naive {engine_s / naive_s:5.2f}x"
    )
    return naive_s / engine_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vms", type=int, default=5000)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3, help="engine runs; the best is kept")
    options = parser.parse_args()
    rng = random.Random(options.seed)
    print(f"compat_matrix benchmark (Python {sys.version.split()[0]}, seed {options.seed})")
    realistic = measure("realistic", *realistic_fleet(rng, options.vms, options.hosts), options.repeats)
    distinct = measure("all distinct", *distinct_fleet(rng, options.vms, options.hosts), options.repeats)
    print(
        f"targets: realistic >= 20x faster than naive: {'met' if realistic >= 20 else 'MISSED'} "
        f"({realistic:.1f}x); all distinct <= 1.5x naive: "
        f"{'met' if 1 / distinct <= 1.5 else 'MISSED'} ({1 / distinct:.2f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
