"""Count the requests one gate decision costs, for one VM and one destination, by host and operation.

The decision is made by ansible-playbook against the simulated lab (hvsim) with the migration_gate
role in mode `gate` when it exists, else with the module sequence the role is built from:
compat_facts on the source (the VM, with its blob), compat_facts on the destination (the host),
and compat_check on the destination with the source's pre-check.

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

SOURCE, DESTINATION, VM = "HV-OLD-01", "HV-NEW-01", "web01"

MODULE_SEQUENCE = [
    {"name": "Source facts", "vmgate.hyperv.compat_facts": {"vms": [VM], "include_blob": True},
     "delegate_to": SOURCE, "delegate_facts": True},
    {"name": "Destination facts", "vmgate.hyperv.compat_facts": {}, "delegate_to": DESTINATION, "delegate_facts": True},
    {"name": "Hyper-V's checks", "vmgate.hyperv.compat_check": {
        "vm": f"{{{{ hostvars['{SOURCE}'].hyperv_compat.vms[0] }}}}", "source": SOURCE}, "delegate_to": DESTINATION},
]
ROLE = [{"name": "Gate", "ansible.builtin.include_role": {"name": "vmgate.hyperv.migration_gate"},
         "vars": {"migration_gate_vm": VM, "migration_gate_source": SOURCE,
                  "migration_gate_destination": DESTINATION, "migration_gate_mode": "gate"}}]


def main() -> int:
    use_role = (ROOT / "roles" / "migration_gate" / "tasks" / "main.yml").exists()
    with Simulator.from_lab(ROOT / "tests" / "hvsim" / "labs" / "demo.yml") as sim, tempfile.TemporaryDirectory() as tmp:
        hosts = {name: inventory.host_vars(h.bind, h.http_port, "http", "ntlm", DEFAULT_USER, DEFAULT_PASSWORD, None)
                 for name, h in sim.hosts.items()}
        inventory_file, playbook = Path(tmp, "inventory.yml"), Path(tmp, "gate.yml")
        inventory_file.write_text(yaml.safe_dump({"all": {"children": {"hyperv": {"hosts": hosts}}}}))
        playbook.write_text(yaml.safe_dump([{"name": "One gate decision", "hosts": "localhost", "gather_facts": False,
                                             "tasks": ROLE if use_role else MODULE_SEQUENCE}]))
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / "build" / "collections"), ANSIBLE_NOCOLOR="1")
        sim.reset_counters()
        start = time.perf_counter()
        run = subprocess.run(
            [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory_file), str(playbook),
             "-e", f"ansible_python_interpreter={sys.executable}"],
            env=env, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
        if run.returncode:
            print(run.stdout[-3000:], run.stderr[-2000:])
            return run.returncode
        print(f"one gate decision: {VM} from {SOURCE} to {DESTINATION} "
              f"({'the migration_gate role' if use_role else 'compat_facts x2 + compat_check'}), {elapsed:.1f} s with "
              "ansible-playbook start-up")
        total = 0
        for host in (SOURCE, DESTINATION):
            counters = sim.counters(host)
            total += sum(counters.values())
            print(f"  {host}: {sum(counters.values())} requests")
            for operation, count in sorted(counters.items()):
                print(f"    {count:3}  {operation}")
        others = sum(sum(sim.counters(h).values()) for h in sim.hosts if h not in (SOURCE, DESTINATION))
        print(f"total: {total} requests (target: at most 8); other hosts: {others}; "
              "authentication exchanges not counted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
