"""ansible-test units over tests/unit on a staged copy of the collection (tools/checks.py:units)."""

from __future__ import annotations

import re

import checks
import pytest


@pytest.mark.ecosystem
def test_ansible_test_units():
    """The unit tests pass under ansible-test's own pytest configuration and collection loader."""
    result = checks.units(capture=True)
    if result.returncode:
        pytest.fail(f'ansible-test units failed (exit {result.returncode}):\n{result.stdout}', pytrace=False)
    passed = re.search(r'=+ (\d+) passed', result.stdout)
    assert passed and int(passed.group(1)) > 0, f'ansible-test units ran no test:\n{result.stdout}'
