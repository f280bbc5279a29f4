"""ansible-test sanity over a staged copy of the collection (tools/checks.py:sanity), with .venv's ansible-test and
with the newest core's (SANITY_CORE), whose new checks are those Galaxy and Automation Hub apply first."""

from __future__ import annotations

import checks
import pytest
from tool_result import require_success


@pytest.mark.ecosystem
@pytest.mark.parametrize("venv", [checks.VENV, checks.SANITY_CORE.venv], ids=lambda venv: venv.name)
def test_ansible_test_sanity(venv):
    """Every sanity test that runs without containers or PowerShell passes."""
    if venv != checks.VENV and checks.core_problem(checks.SANITY_CORE):
        pytest.skip(f"ansible-test {checks.SANITY_CORE.version} sanity skipped: {checks.core_problem(checks.SANITY_CORE)}")
    require_success(f'ansible-test sanity ({venv.name})', checks.sanity(capture=True, venv=venv))
