"""Plugin and role documentation: antsibull-docs and ansible-doc (tools/checks.py:docs_lint, ansible_doc)."""

from __future__ import annotations

import checks
import pytest
from tool_result import require_success


@pytest.mark.ecosystem
def test_antsibull_docs_lint():
    """antsibull-docs lint-collection-docs --plugin-docs finds nothing."""
    require_success('antsibull-docs', checks.docs_lint(capture=True))


@pytest.mark.ecosystem
def test_ansible_doc_renders_every_plugin_and_the_role():
    """Every module, filter and test ansible-doc lists for the collection, and the role's argument spec, render
    with their short descriptions and examples."""
    for plugin_type in (*checks.PLUGIN_DOC_TYPES, 'role'):
        assert checks.listed(plugin_type), f'ansible-doc lists no {plugin_type} of vmgate.hyperv'
    require_success('ansible-doc check', checks.ansible_doc(capture=True))
