"""The fault table: runs the fault suite (tests/faults: playbooks/migrate.yml under every fault of its scenario
table, against hvsim), whose summary prints fault x outcome, then the time it took.

Run: ./dev bench fault_table   (or .venv/bin/python benchmarks/fault_table.py [pytest args], e.g. -n 2)
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    args = sys.argv[1:] or ["-n", "2"]
    started = time.monotonic()
    code = subprocess.run([sys.executable, "-m", "pytest", "tests/faults", "-q", "-p", "no:cacheprovider", *args],
                          cwd=ROOT, check=False).returncode
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"\nfault suite: {time.monotonic() - started:.0f} s wall, {usage.ru_utime + usage.ru_stime:.0f} s CPU "
          "(pytest, ansible-playbook and hvsim together)")
    return code


if __name__ == "__main__":
    sys.exit(main())
