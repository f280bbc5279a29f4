"""What every ecosystem test does with a check's CompletedProcess (tools/checks.py)."""

from __future__ import annotations

import subprocess

import pytest


def require_success(tool: str, result: subprocess.CompletedProcess) -> str:
    """The check's captured output; the test fails with all of it when the check failed."""
    if result.returncode:
        pytest.fail(f'{tool} failed (exit {result.returncode}):\n{result.stdout}', pytrace=False)
    return result.stdout
