"""ansible-test units over tests/unit on a staged copy of the collection (tools/checks.py:units)."""

from __future__ import annotations

import re

import checks
import pytest
from tool_result import require_success


@pytest.mark.ecosystem
def test_ansible_test_units():
    """The unit tests pass under ansible-test's own pytest configuration and collection loader."""
    output = require_success('ansible-test units', checks.units(capture=True))
    passed = re.search(r'=+ (\d+) passed', output)
    assert passed and int(passed.group(1)) > 0, f'ansible-test units ran no test:\n{output}'
