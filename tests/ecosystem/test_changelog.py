"""Changelog fragments and changelogs/changelog.yaml are valid (tools/checks.py:changelog)."""

from __future__ import annotations

import checks
import pytest


@pytest.mark.ecosystem
def test_antsibull_changelog_lint():
    """antsibull-changelog lint and lint-changelog-yaml pass."""
    result = checks.changelog(capture=True)
    if result.returncode:
        pytest.fail(f'antsibull-changelog failed (exit {result.returncode}):\n{result.stdout}', pytrace=False)
