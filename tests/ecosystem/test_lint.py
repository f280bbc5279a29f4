"""ansible-lint, production profile, offline (.ansible-lint; tools/checks.py:lint)."""

from __future__ import annotations

import checks
import pytest
from tool_result import require_success


@pytest.mark.ecosystem
def test_ansible_lint():
    """ansible-lint reports no violations."""
    require_success('ansible-lint', checks.lint(capture=True))


@pytest.mark.ecosystem
def test_shellcheck():
    """The bash scripts ansible-test does not select (no .sh suffix) pass shellcheck."""
    assert checks.bash_scripts(), 'expected at least .ci/run'
    require_success('shellcheck', checks.shellcheck(capture=True))
