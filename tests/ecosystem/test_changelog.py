"""Changelog fragments and changelogs/changelog.yaml are valid (tools/checks.py:changelog)."""

from __future__ import annotations

import checks
import pytest
from tool_result import require_success


@pytest.mark.ecosystem
def test_antsibull_changelog_lint():
    """antsibull-changelog lint and lint-changelog-yaml pass."""
    require_success('antsibull-changelog', checks.changelog(capture=True))
