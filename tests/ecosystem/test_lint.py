"""ansible-lint, production profile, offline (.ansible-lint; tools/checks.py:lint)."""

from __future__ import annotations

import checks
import pytest


@pytest.mark.ecosystem
def test_ansible_lint():
    """ansible-lint reports no violations."""
    result = checks.lint(capture=True)
    if result.returncode:
        pytest.fail(f'ansible-lint failed (exit {result.returncode}):\n{result.stdout}', pytrace=False)


@pytest.mark.ecosystem
def test_shellcheck():
    """The bash scripts ansible-test does not select (no .sh suffix) pass shellcheck."""
    assert checks.bash_scripts(), 'expected at least .ci/run'
    result = checks.shellcheck(capture=True)
    if result.returncode:
        pytest.fail(f'shellcheck failed (exit {result.returncode}):\n{result.stdout}', pytrace=False)
