"""Fuzz the engine and the response parser for a while: the targets of tests/hostile/fuzz_targets.py, each for an
equal share of the time, with fresh random inputs. Prints the inputs tried and the failures found per target.

Run: ./dev fuzz [SECONDS]   (or .venv/bin/python benchmarks/fuzz.py [SECONDS]; default 60, shared by the targets)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "build" / "collections"), str(ROOT / "tests")]

# pylint: disable=wrong-import-position
from hypothesis import HealthCheck, settings

from hostile.fuzz_targets import TARGETS

BATCH = settings(max_examples=200, deadline=None, database=None, derandomize=False, print_blob=False,
                 suppress_health_check=list(HealthCheck))


def fuzz(target, seconds: float) -> tuple[int, list[str]]:
    """Run one target in batches of fresh examples until its time is up; (inputs tried, failures found)."""
    tried, failures = [0], []

    def count() -> None:
        tried[0] += 1

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            target.runner(BATCH, count)()
        except Exception as exc:  # pylint: disable=broad-exception-caught  # a failure found: record it, go on
            failures.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    return tried[0], failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seconds", nargs="?", type=float, default=60.0, help="total time, shared by the targets")
    seconds = parser.parse_args().seconds
    share = seconds / len(TARGETS)
    print(f"Fuzzing {len(TARGETS)} targets for {seconds:g} s ({share:.1f} s each)\n")
    print(f"{'target':<36} {'inputs tried':>12} {'per second':>10} {'failures':>8}")
    total_tried = total_failed = 0
    started = time.monotonic()
    for target in TARGETS:
        begun = time.monotonic()
        tried, failures = fuzz(target, share)
        elapsed = time.monotonic() - begun
        total_tried, total_failed = total_tried + tried, total_failed + len(failures)
        print(f"{target.name:<36} {tried:>12,} {tried / elapsed:>10,.0f} {len(failures):>8}", flush=True)
        for failure in failures:
            print(f"    {failure}")
    print(f"{'total':<36} {total_tried:>12,} {total_tried / (time.monotonic() - started):>10,.0f} {total_failed:>8}")
    return 1 if total_failed else 0


if __name__ == "__main__":
    sys.exit(main())
