"""Benchmark what gathering compat_facts costs: requests and time for 1, 10 and 100 requested VMs.

One simulated host (hvsim) with 100 VMs and 10 ms of injected latency per request, reached over
real sockets with NTLM and message encryption (and Basic over HTTPS). The client is driven the way
the compat_facts action drives it (hyperv_facts.gather), without ansible-playbook's start-up.

"overhead" is what each request costs beyond the injected latency: client and simulator together,
so it is an upper bound for the client's own share.

Run: .venv/bin/python benchmarks/compat_facts.py [--latency-ms 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "build" / "collections"), str(ROOT / "tests")]

# pylint: disable=wrong-import-position
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv import facts as hyperv_facts
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import HyperVHost
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.client import WSManClient
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.settings import WinRMSettings
from hvsim.simulator import DEFAULT_PASSWORD, DEFAULT_USER, Simulator

HOST = "HV-BENCH"
VECTORS = [{"id": 1, "op": 2, "value": 0xFFFFFFFFFF}, {"id": 2, "op": 2, "value": 231}, {"id": 3, "op": 0, "value": 64}]


def lab(vm_count: int) -> dict:
    return {
        "name": "bench",
        "hosts": [{"name": HOST, "vectors": VECTORS, "migration": {"listeners": ["10.0.0.1"]}}],
        "vms": [
            {"name": f"vm{index:03}", "guid": f"00000000-0000-4000-8000-{index:012X}", "host": HOST,
             "state": "running", "version": "10.0", "vectors": VECTORS}
            for index in range(vm_count)
        ],
    }


def settings(sim: Simulator, scheme: str) -> WinRMSettings:
    handle = sim.hosts[HOST]
    if scheme == "https":
        return WinRMSettings(host=handle.bind, port=handle.https_port, scheme="https", transport="basic",
                             username=DEFAULT_USER, password=DEFAULT_PASSWORD, ca_trust_path=handle.ca_file)
    return WinRMSettings(host=handle.bind, port=handle.http_port, scheme="http", transport="ntlm",
                         username=DEFAULT_USER, password=DEFAULT_PASSWORD, message_encryption="always")


def measure(sim: Simulator, scheme: str, vm_count: int, repeats: int) -> tuple[int, float]:
    """Best time of `repeats` gathers (a new client each: connection and authentication included)."""
    names = [f"vm{index:03}" for index in range(vm_count)]
    best, requests = float("inf"), 0
    for _run in range(repeats):
        sim.reset_counters()
        client = WSManClient(settings(sim, scheme))
        start = time.perf_counter()
        facts = hyperv_facts.gather(HyperVHost(client), names, include_blob=False, where=HOST)
        elapsed = time.perf_counter() - start
        client.close()
        if len(facts["vms"]) != vm_count:
            raise SystemExit(f"expected {vm_count} VMs, got {len(facts['vms'])}")
        best = min(best, elapsed)
        requests = sum(sim.counters(HOST).values())
    return requests, best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    latency = options.latency_ms / 1000
    with Simulator.from_lab(lab(100), https=True) as sim:
        sim.inject(HOST, "latency", op="*", ms=options.latency_ms)
        print(f"compat_facts gather, one host, {options.latency_ms:g} ms injected latency per request")
        print(f"{'transport':<22} {'VMs':>4} {'requests':>9} {'enumerations':>13} {'time ms':>9} {'overhead/request ms':>20}")
        for scheme, label in (("http", "NTLM+encryption/HTTP"), ("https", "Basic/HTTPS")):
            for vm_count in (1, 10, 100):
                requests, elapsed = measure(sim, scheme, vm_count, options.repeats)
                counters = sim.counters(HOST)
                enumerations = sum(n for op, n in counters.items() if op.startswith(("Enumerate:", "Pull")))
                overhead = (elapsed - requests * latency) / requests * 1000
                print(f"{label:<22} {vm_count:>4} {requests:>9} {enumerations:>13} {elapsed * 1000:>9.1f} {overhead:>20.2f}")
        print("requests = enumerations + one vector Invoke per system (the host and each VM); "
              "authentication exchanges are not counted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
