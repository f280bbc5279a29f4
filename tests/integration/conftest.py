"""Run playbooks with the real ansible-playbook against localhost (tests/conftest.py sets the env)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def run_playbook():
    """Run a playbook on localhost and return the CompletedProcess (stdout and stderr merged)."""

    def run(playbook: Path, *args: str) -> subprocess.CompletedProcess:
        cmd = [
            "ansible-playbook", "-i", "localhost,", "-c", "local",
            "-e", f"ansible_python_interpreter={sys.executable}",
            str(playbook), *args,
        ]
        env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
        return subprocess.run(
            cmd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False
        )

    return run
