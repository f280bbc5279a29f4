"""ansible-test sanity over a staged copy of the collection (tools/checks.py:sanity)."""

from __future__ import annotations

import checks
import pytest
from tool_result import require_success


@pytest.mark.ecosystem
def test_ansible_test_sanity():
    """Every sanity test that runs without containers or PowerShell passes."""
    require_success('ansible-test sanity', checks.sanity(capture=True))
