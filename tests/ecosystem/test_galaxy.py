"""The collection artifact: ansible-galaxy collection build, then galaxy-importer on the tarball (tools/checks.py:galaxy)."""

from __future__ import annotations

import checks
import pytest
from tool_result import require_success


@pytest.mark.ecosystem
def test_galaxy_importer_accepts_the_built_tarball():
    """The tarball built from this working tree (with its .venv, build/ and caches) carries no debris, and
    galaxy-importer, running ansible-doc and ansible-lint as Galaxy does, reports no warning or error."""
    assert (checks.ROOT / '.venv').is_dir() and (checks.ROOT / 'build').is_dir(), 'the tree to build from lacks the usual debris'
    output = require_success('galaxy check', checks.galaxy(capture=True))
    assert 'Importer processing completed successfully' in output, output
    assert 'Linting collection via ansible-lint' in output, output
    members = checks.tarball_members(checks.DIST / checks.artifact_name())
    for shipped in ('meta/runtime.yml', 'meta/execution-environment.yml', 'bindep.txt', 'requirements.txt', 'plugins/modules/vm_move.py',
                    'plugins/plugin_utils/report/templates/fleet_report.html.j2', 'plugins/plugin_utils/report/templates/fleet_report.md.j2'):
        assert shipped in members, f'{shipped} is missing from the tarball'


@pytest.mark.ecosystem
def test_debris_detection_names_every_kind_of_development_state():
    """The member filter the galaxy check relies on flags each kind of debris, at any depth, and nothing else."""
    debris = [
        '.venv/bin/python', 'build/dist/x.tar.gz', 'plugins/filter/__pycache__/compat.cpython-311.pyc', '.pytest_cache/v/x',
        'tests/.hypothesis/examples/x', 'tests/output/junit/x.xml', 'tests/ecosystem/test_galaxy.py', 'benchmarks/gate_cost.py',
        'tools/checks.py', 'dev', 'requirements-dev.txt', 'vmgate-hyperv-0.0.1.tar.gz', 'plugins/x.pyo', '.git/HEAD',
    ]
    content = ['plugins/modules/vm_move.py', 'tests/unit/plugins/plugin_utils/test_compat.py', 'roles/migration_gate/tasks/main.yml',
               'docs/execution-environment.md', 'meta/execution-environment.yml', 'requirements.txt', '.ansible-lint']
    assert checks.debris(debris + content) == debris
