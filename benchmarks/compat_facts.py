"""Benchmark what gathering compat_facts costs: requests and time for 1, 10 and 100 requested VMs.

One simulated host (hvsim) with 100 VMs and 10 ms of injected latency per request, reached over
real sockets with NTLM and message encryption (and Basic over HTTPS). The client is driven the way
the compat_facts action drives it (hyperv_facts.gather), without ansible-playbook's start-up.

"overhead" is what each request costs beyond the injected latency: client and simulator together,
so it is an upper bound for the client's own share.

Then every VM of a 1,000-VM host (vms: all, 1,058 requests) over 1 connection, over compat_facts'
default number of connections and over its maximum, against the serial floor: the requests x the
latency, 10.6 s at 10 ms. Target (issue 11): the default at most 0.3x the floor; the line says PASS or
MISS. Here the simulator runs in a process of its own, as a Hyper-V host would: in this process its
threads would compete with the client's for the interpreter lock, which no real host does. "controller
CPU" is this process's CPU time during the gather (the client's threads), "hvsim CPU" the simulator's.

Figures on the development VM (2 vCPUs), 10 ms, 2026-11-30, quiet:
  transport              connections   time s   x floor  controller CPU s
  NTLM+encryption/HTTP   1             13.2     1.25     1.6
  NTLM+encryption/HTTP   8 (default)   3.0      0.28     1.7   PASS
  NTLM+encryption/HTTP   16            2.7      0.25     1.8
  Basic/HTTPS            8 (default)   2.8      0.27     1.5   PASS
With 8 connections the time follows the controller's CPU time (about 1.6 ms a request, most of it in pywinrm,
requests and urllib3), not the latency (1,058 / 8 x 10 ms = 1.3 s). The client's sessions no longer let requests
scan the environment for proxies on every request (trust_env off once pywinrm has read it): before, the default
measured 3.2 s (0.30x) with 1.95 s of controller CPU. When other processes hold a core, it is slower.

Run: .venv/bin/python benchmarks/compat_facts.py [--latency-ms 10] [--repeats 3] [--large-vms 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "build" / "collections"), str(ROOT / "tests")]

# pylint: disable=wrong-import-position
from ansible_collections.vmgate.hyperv.plugins.action.compat_facts import ARGUMENT_SPEC, MAX_CONNECTIONS
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv import facts as hyperv_facts
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import HyperVHost
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.client import WSManClient
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.settings import WinRMSettings
from hvsim.simulator import DEFAULT_PASSWORD, DEFAULT_USER, Simulator

HOST = "HV-BENCH"
DEFAULT_CONNECTIONS = ARGUMENT_SPEC["connections"]["default"]
TARGET = 0.3  # of the serial floor, with the default number of connections
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


class OwnProcessLab:
    """hvsim in a process of its own (python -m hvsim --https), steered through its loopback control endpoint."""

    def __init__(self, definition: dict, workdir: Path):
        lab_file, described_file = workdir / "lab.yml", workdir / "hvsim.json"
        lab_file.write_text(yaml.safe_dump(definition), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])}
        start = time.perf_counter()
        self._log = (workdir / "hvsim.log").open("w", encoding="utf-8")
        self.process = subprocess.Popen(  # pylint: disable=consider-using-with  # stopped in close()
            [sys.executable, "-m", "hvsim", "--lab", str(lab_file), "--https", "--state-dir", str(workdir / "state"),
             "--json", str(described_file)],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while not described_file.exists() or not described_file.read_text(encoding="utf-8").strip():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise SystemExit(f"hvsim did not start; see {workdir / 'hvsim.log'}")
            time.sleep(0.05)
        self.started_s = time.perf_counter() - start
        described = json.loads(described_file.read_text(encoding="utf-8"))
        self.ca_file = described["ca_file"]
        self.endpoints = {scheme: urllib.parse.urlsplit(described["hosts"][HOST][scheme])
                          for scheme in ("http", "https")}
        self.control = described["hosts"][HOST]["control"]

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(self.control + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:  # loopback only
            return json.loads(response.read().decode("utf-8"))

    def inject(self, kind: str, **params) -> None:
        self._call("POST", "faults", {"kind": kind, **params})

    def reset_counters(self) -> None:
        self._call("POST", "reset", {"counters": True})

    def requests(self) -> int:
        return sum(self._call("GET", "counters")["operations"].values())

    def cpu_s(self) -> float:
        """The simulator's CPU time so far (Linux /proc; NaN elsewhere)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def settings(self, scheme: str) -> WinRMSettings:
        endpoint = self.endpoints[scheme]
        if scheme == "https":
            return WinRMSettings(host=endpoint.hostname, port=endpoint.port, scheme="https", transport="basic",
                                 username=DEFAULT_USER, password=DEFAULT_PASSWORD, ca_trust_path=self.ca_file)
        return WinRMSettings(host=endpoint.hostname, port=endpoint.port, scheme="http", transport="ntlm",
                             username=DEFAULT_USER, password=DEFAULT_PASSWORD, message_encryption="always")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def measure_connections(sim: OwnProcessLab, scheme: str, connections: int,
                        vm_count: int) -> tuple[int, float, float, float]:
    """Every VM over `connections` connections, as the action opens them (a new client each: connection and
    authentication included): requests, wall seconds, controller CPU seconds, simulator CPU seconds."""
    sim.reset_counters()
    clients = [WSManClient(sim.settings(scheme)) for _connection in range(connections)]
    start, cpu, sim_cpu = time.perf_counter(), time.process_time(), sim.cpu_s()
    facts = hyperv_facts.gather(HyperVHost(clients[0]), "all", include_blob=False, where=HOST,
                                more_clients=clients[1:])
    elapsed, cpu, sim_cpu = time.perf_counter() - start, time.process_time() - cpu, sim.cpu_s() - sim_cpu
    for client in clients:
        client.close()
    names = [vm["name"] for vm in facts["vms"]]
    if names != [f"vm{index:03}" for index in range(vm_count)] or not all(vm["vectors"] for vm in facts["vms"]):
        raise SystemExit(f"{connections} connections: the VMs' facts are not all there, in order")
    return sim.requests(), elapsed, cpu, sim_cpu


def large_host(vm_count: int, latency_ms: float, repeats: int) -> bool:
    """Every VM of one host over 1, the default and the most connections (the best of `repeats` runs; one run over
    1 connection, which takes long and varies little); True when the default meets the target over NTLM with
    encryption (what the tests and the demo use)."""
    print(f"\ncompat_facts vms=all, one host with {vm_count} VMs (hvsim in its own process), "
          f"{latency_ms:g} ms injected latency per request")
    met = True
    with tempfile.TemporaryDirectory(prefix="bench-compat-facts-") as workdir:
        sim = OwnProcessLab(lab(vm_count), Path(workdir))
        try:
            print(f"the {vm_count}-VM lab took {sim.started_s:.1f} s to generate and start")
            sim.inject("latency", op="*", ms=latency_ms)
            print(f"{'transport':<22} {'connections':>11} {'requests':>9} {'time s':>7} {'floor s':>8} "
                  f"{'x floor':>8} {'controller CPU s':>17} {'hvsim CPU s':>12}")
            for scheme, label in (("http", "NTLM+encryption/HTTP"), ("https", "Basic/HTTPS")):
                for connections in dict.fromkeys([1, DEFAULT_CONNECTIONS, MAX_CONNECTIONS]):
                    runs = [measure_connections(sim, scheme, connections, vm_count)
                            for _run in range(1 if connections == 1 else repeats)]
                    requests, elapsed, cpu, sim_cpu = min(runs, key=lambda run: run[1])
                    floor = requests * latency_ms / 1000
                    verdict = ""
                    if connections == DEFAULT_CONNECTIONS:
                        passed = elapsed <= TARGET * floor
                        met = met and (passed or scheme != "http")
                        verdict = f"  default: {'PASS' if passed else 'MISS'} (target <= {TARGET}x)"
                    print(f"{label:<22} {connections:>11} {requests:>9} {elapsed:>7.2f} {floor:>8.2f} "
                          f"{elapsed / floor:>8.2f} {cpu:>17.2f} {sim_cpu:>12.2f}{verdict}")
        finally:
            sim.close()
    print("floor = requests x the injected latency: one request after another, at no cost of their own.\n"
          "With several connections the time is bounded below by the controller's CPU time (one interpreter lock),\n"
          "and, where the simulator shares the machine's cores, by the CPU time of both.")
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--large-vms", type=int, default=1000, help="VMs of the host read over several connections")
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
    large_host(options.large_vms, options.latency_ms, options.repeats)  # PASS/MISS is a figure, not a failure
    return 0


if __name__ == "__main__":
    sys.exit(main())
