"""Count the requests one gate decision costs, for one VM and one destination, by host and operation.

The decision is made by ansible-playbook against the simulated lab (hvsim) with the migration_gate
role in mode `gate`. Two decisions are counted: an allowed one (the target: at most 8 requests), and
one that Hyper-V's pre-check refuses, where compat_check reads both migration services to say why.

Run: .venv/bin/python benchmarks/gate_cost.py (or ./dev bench gate_cost)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

# pylint: disable=wrong-import-position
from hvsim import inventory
from hvsim.simulator import DEFAULT_PASSWORD, DEFAULT_USER, Simulator

TARGET = 8
ANSWERS = {  # what each operation of a decision asks (docs/gate-performance.md says why no other read answers it)
    "Enumerate:MSCluster_Resource": "is the VM a clustered role?",
    "Enumerate:Msvm_ComputerSystem": "which VM: its id and state",
    "Enumerate:Msvm_Memory": "the memory the running VM holds",
    "Enumerate:Msvm_MemorySettingData": "the startup memory of a VM that is off",
    "Enumerate:Msvm_VirtualSystemMigrationService": "the service's keys and running migrations",
    "Enumerate:Msvm_VirtualSystemMigrationServiceSettingData": "live migration on? the limit",
    "Enumerate:Msvm_MigrationJob": "a migration already running for the VM?",
    "Enumerate:Win32_OperatingSystem": "the host's free memory",
    "Invoke:GetSystemCompatibilityVectors": "the vectors (the VM's on its source, the host's own)",
    "Invoke:GetSystemCompatibilityInfo": "the VM's blob",
    "Invoke:CheckSystemCompatibilityInfo": "Hyper-V's blob check",
    "Invoke:CheckVirtualSystemIsMigratableToHost": "Hyper-V's pre-check",
}
DECISIONS = [  # (what, VM, source, destination): the demo lab's hosts
    ("allowed", "web01", "HV-OLD-01", "HV-NEW-01"),
    ("refused by the pre-check: live migration is off on the source", "legacy01", "HV-OLD-02", "HV-OLD-01"),
]


def gate_play(vm: str, source: str, destination: str) -> list[dict]:
    return [{"name": "One gate decision", "hosts": "localhost", "gather_facts": False, "tasks": [{
        "name": "Gate", "ansible.builtin.include_role": {"name": "vmgate.hyperv.migration_gate"},
        "vars": {"migration_gate_vm": vm, "migration_gate_source": source, "migration_gate_destination": destination,
                 "migration_gate_mode": "gate", "migration_gate_fail": False}}]}]


def count(sim: Simulator, tmp: str, what: str, vm: str, source: str, destination: str) -> int:
    """Run one decision and print its requests per host and operation; returns the total."""
    inventory_file, playbook = Path(tmp, "inventory.yml"), Path(tmp, "gate.yml")
    playbook.write_text(yaml.safe_dump(gate_play(vm, source, destination)))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / "build" / "collections"), ANSIBLE_NOCOLOR="1")
    sim.reset()
    start = time.perf_counter()
    run = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory_file), str(playbook),
         "-e", f"ansible_python_interpreter={sys.executable}"],
        env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if run.returncode:
        print(run.stdout[-3000:], run.stderr[-2000:])
        raise SystemExit(run.returncode)
    print(f"{what}: {vm} from {source} to {destination}, {elapsed:.1f} s with ansible-playbook start-up")
    total = 0
    for host in (source, destination):
        counters = sim.counters(host)
        total += sum(counters.values())
        print(f"  {host}: {sum(counters.values())} requests")
        for operation, number in sorted(counters.items()):
            print(f"    {number:3}  {operation:58} {ANSWERS.get(operation, '')}")
    others = sum(sum(sim.counters(h).values()) for h in sim.hosts if h not in (source, destination))
    print(f"  total: {total} requests; other hosts: {others}; authentication exchanges not counted")
    return total


def main() -> int:
    with Simulator.from_lab(ROOT / "tests" / "hvsim" / "labs" / "demo.yml") as sim, tempfile.TemporaryDirectory() as tmp:
        hosts = {name: inventory.host_vars(h.bind, h.http_port, "http", "ntlm", DEFAULT_USER, DEFAULT_PASSWORD, None)
                 for name, h in sim.hosts.items()}
        Path(tmp, "inventory.yml").write_text(yaml.safe_dump({"all": {"children": {"hyperv": {"hosts": hosts}}}}))
        totals = [count(sim, tmp, *decision) for decision in DECISIONS]
    print(f"one allowed gate decision: {totals[0]} requests (target: at most {TARGET}); "
          f"a refusal explained: {totals[1]} ({totals[1] - totals[0]:+d})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
