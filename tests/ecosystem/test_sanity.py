"""ansible-test sanity over a staged copy of the collection (tools/checks.py:sanity)."""

from __future__ import annotations

import checks
import pytest


@pytest.mark.ecosystem
def test_ansible_test_sanity():
    """Every sanity test that runs without containers or PowerShell passes."""
    result = checks.sanity(capture=True)
    if result.returncode:
        pytest.fail(f'ansible-test sanity failed (exit {result.returncode}):\n{result.stdout}', pytrace=False)
