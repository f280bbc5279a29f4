"""Shared pytest setup: the same environment `./dev test` provides, so a bare `pytest` behaves alike.

- tools/ on sys.path, for tests/ecosystem (checks.py);
- venv first on PATH and ANSIBLE_* pointing at build/collections and the venv python;
- Ansible's collection loader installed, so `ansible_collections.vmgate.hyperv...` imports the checkout
  the way ansible-test units and ansible itself do;
- sanity (the slowest test) first and the other ecosystem checks last: `--dist worksteal` hands
  each xdist worker half of the list, so they run on different workers while unit tests fill in.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parent.parent / 'tools'
if TOOLS.is_dir():  # absent from a built collection artifact (galaxy.yml build_ignore)
    sys.path.insert(0, str(TOOLS))
# hvsim for the tests that run against it; ansible-test units imports test modules as ansible_collections.*
# and so, unlike pytest's default import mode, never puts tests/ on sys.path itself.
sys.path.insert(0, str(Path(__file__).resolve().parent))


def pytest_addoption(parser):
    parser.addoption('--every-core', action='store_true',
                     help='run every playbook test once per ansible-core (.venv, .venv-core216, .venv-core221), not only those '
                          'of the modules marked every_core (tests/integration/conftest.py)')


def pytest_configure():
    """Set the environment and install the collection loader before any test module is imported."""
    # pylint: disable-next=import-outside-toplevel
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    if any(isinstance(finder, _AnsibleCollectionFinder) for finder in sys.meta_path):
        return  # ansible-test units installed its own view of the collection; keep it
    try:
        import checks  # pylint: disable=import-outside-toplevel
    except ImportError:
        return
    checks.link_collection()
    os.environ.update(checks.environment())
    _AnsibleCollectionFinder(paths=[str(checks.COLLECTIONS)])._install()  # pylint: disable=protected-access


def pytest_collection_modifyitems(items):
    """Sanity first, other ecosystem checks last (a stable sort keeps every worker's order identical)."""
    def rank(item):
        if item.path.name == 'test_sanity.py':
            return 0
        return 2 if item.get_closest_marker('ecosystem') else 1

    items.sort(key=rank)
