"""Run playbooks with the real ansible-playbook against localhost (tests/conftest.py sets the env).

A test module marked `every_core` (pytestmark) runs each of its tests that runs a playbook once per ansible-core:
[core2.19] with .venv's (the one running pytest), [core2.16] with .venv-core216's, the oldest meta/runtime.yml
accepts, and [core2.21] with .venv-core221's, the newest (tools/checks.py:OTHER_CORES). `pytest --every-core` does so
for every such test; `-k core2.16` picks the 2.16 runs. A core whose venv ./dev setup could not make (no PyPI, no
Python it runs on) has its runs skipped, saying why.
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
OTHERS = {Core(core.version, core.venv / "bin", core.venv / "bin" / "python"): core
          for core in (checks.OTHER_CORES if checks else ())}
CORES = (MAIN, *OTHERS)


def pytest_generate_tests(metafunc):
    """[core2.19], [core2.16] and [core2.21] for each test of a module marked every_core (or all, with
    --every-core) that runs a playbook: run_playbook's own parameter, so a test's other parameters stay as they are."""
    if "run_playbook" in metafunc.fixturenames and (
        metafunc.definition.get_closest_marker("every_core") or metafunc.config.getoption("every_core")
    ):
        metafunc.parametrize("run_playbook", CORES, indirect=True, ids=lambda core: f"core{core.version}")


@functools.lru_cache(maxsize=None)
def core_problem(core: Core) -> str | None:
    return checks.core_problem(OTHERS[core]) if core in OTHERS else None


def skip_without_its_venv(item) -> None:
    """Skip a run on another ansible-core when its venv cannot run it, saying why."""
    callspec = getattr(item, "callspec", None)
    core = callspec.params.get("run_playbook") if callspec is not None else None
    if core is not None and core_problem(core):
        pytest.skip(f"ansible-core {core.version} runs skipped: {core_problem(core)}")


def pytest_runtest_setup(item):
    """Skipped here, not in a fixture, so that -ra folds a core's skips into one line (a fixture's skip would be
    reported at each test's own line)."""
    skip_without_its_venv(item)


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
