"""Run playbooks with the real ansible-playbook against localhost (tests/conftest.py sets the env).

A test module marked `every_core` (pytestmark) runs each of its tests that runs a playbook once per ansible-core:
[core2.19] with .venv's (the one running pytest) and [core2.16] with .venv-core216's (requirements-core216.txt),
the oldest meta/runtime.yml accepts. `pytest --every-core` does so for every such test; `-k core2.16` picks the
2.16 runs. Without .venv-core216 (./dev setup could not reach PyPI) the 2.16 runs are skipped, saying why.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from ansible.release import __version__ as ansible_version

try:
    import checks  # tools/, put on sys.path by tests/conftest.py
except ImportError:  # a built collection artifact has no tools/
    checks = None

# The Kerberos fixtures are defined here, once for the directory: a session fixture imported into several test
# modules is a fixture of each, and two KDCs would each point the process's KRB5_CONFIG and KRB5CCNAME at their own
# realm, so that one module's kinit filled a cache the next test in another module did not read.
from kdc.pytest_fixtures import (  # noqa: E402,F401  pylint: disable=unused-import,wrong-import-position
    kdc,
    kdc_factory,
    kdc_faketime,
    kdc_lab,
    kdc_lab_session,
    kdc_session,
)


@dataclass(frozen=True)
class Core:
    """An ansible-core to run playbooks with: its ansible-playbook, and its python (the interpreter for localhost)."""

    version: str
    bin: Path
    python: Path


MAIN = Core(".".join(ansible_version.split(".")[:2]), Path(sys.executable).parent, Path(sys.executable))
CORE216_VENV = Path(__file__).resolve().parents[2] / ".venv-core216"
CORE216 = Core("2.16", CORE216_VENV / "bin", CORE216_VENV / "bin" / "python")
CORES = (MAIN, CORE216)


def pytest_generate_tests(metafunc):
    """[core2.19] and [core2.16] for each test of a module marked every_core (or all, with --every-core) that runs
    a playbook: run_playbook's own parameter, so a test's other parameters stay as they are."""
    if "run_playbook" in metafunc.fixturenames and (
        metafunc.definition.get_closest_marker("every_core") or metafunc.config.getoption("every_core")
    ):
        metafunc.parametrize("run_playbook", CORES, indirect=True, ids=lambda core: f"core{core.version}")


@functools.lru_cache(maxsize=None)
def core216_problem() -> str | None:
    return checks.core216_problem() if checks else "tools/checks.py, which knows .venv-core216, is not here"


def pytest_runtest_setup(item):
    """Skip the 2.16 runs when .venv-core216 cannot run them. Skipped here, not in a fixture, so that -ra folds them
    into one line (a fixture's skip would be reported at each test's own line)."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("run_playbook") is CORE216 and core216_problem():
        pytest.skip(f"ansible-core 2.16 runs skipped: {core216_problem()}")


@pytest.fixture
def run_playbook(request):
    """Run a playbook on localhost and return the CompletedProcess (stdout and stderr merged), with .venv's
    ansible-core unless the test is parametrized with another (pytest_generate_tests)."""
    ansible_core = getattr(request, "param", MAIN)
    if ansible_core is MAIN:  # as before: .venv's, or whichever is first on PATH for a pytest from elsewhere
        executable = shutil.which("ansible-playbook", path=str(MAIN.bin)) or "ansible-playbook"
    else:
        executable = str(ansible_core.bin / "ansible-playbook")
    python = ansible_core.python

    def run(playbook: Path, *args: str) -> subprocess.CompletedProcess:
        cmd = [
            executable, "-i", "localhost,", "-c", "local",
            "-e", f"ansible_python_interpreter={python}",
            str(playbook), *args,
        ]
        env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
        if ansible_core is not MAIN:  # its bin first on PATH; ANSIBLE_COLLECTIONS_PATH stays build/collections
            env.update(PATH=os.pathsep.join([str(ansible_core.bin), env.get("PATH", "")]),
                       VIRTUAL_ENV=str(ansible_core.bin.parent), ANSIBLE_PYTHON_INTERPRETER=str(python))
        return subprocess.run(
            cmd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False
        )

    return run
