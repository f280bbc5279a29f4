# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pytest fixtures for tests that talk to simulated Hyper-V hosts.

Use them from a conftest.py or a test module:

    from hvsim.pytest_fixtures import hvsim_factory, hvsim_lab, hvsim_session  # noqa: F401  pylint: disable=unused-import

hvsim_lab      the demo lab (HTTP and HTTPS listeners, migrations of MIGRATION_S seconds), reset before each test:
               VMs back where they started, no jobs, no faults, counters at zero. One simulator per pytest process.
hvsim_session  that same simulator, without the per-test reset.
hvsim_factory  start your own: hvsim_factory(lab=path_or_dict, https=True, ...) -> started Simulator, stopped at teardown.
hvsim_cluster  the cluster lab (labs/cluster.yml: cluster HVC of HVC-N1..N3, standalone HV-SA-01), reset before each test;
               hvsim_cluster_session is that simulator without the reset.
Credentials: HVSIM_USER / HVSIM_PASSWORD (also sim.users[0]); the HTTPS CA: sim.ca_file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hvsim.simulator import DEFAULT_PASSWORD, DEFAULT_USER, Simulator

DEMO_LAB = Path(__file__).resolve().parent / 'labs' / 'demo.yml'
CLUSTER_LAB = Path(__file__).resolve().parent / 'labs' / 'cluster.yml'
HVSIM_USER = DEFAULT_USER
HVSIM_PASSWORD = DEFAULT_PASSWORD
MIGRATION_S = 0.5


def fresh(simulator: Simulator):
    """For a per-test fixture: `yield from fresh(session_simulator)`, the lab in its initial state for the test, and
    whatever the test injected removed after it."""
    simulator.reset()
    yield simulator
    simulator.clear_faults()


@pytest.fixture(scope='session')
def hvsim_session():
    """The demo lab, started once per pytest process (xdist: per worker)."""
    simulator = Simulator.from_lab(DEMO_LAB, https=True, migration_duration_s=MIGRATION_S)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def hvsim_lab(hvsim_session):  # pylint: disable=redefined-outer-name
    """The demo lab in its initial state for this test."""
    yield from fresh(hvsim_session)


@pytest.fixture(scope='session')
def hvsim_cluster_session():
    """The cluster lab, started once per pytest process (xdist: per worker)."""
    simulator = Simulator.from_lab(CLUSTER_LAB, https=True, migration_duration_s=MIGRATION_S)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def hvsim_cluster(hvsim_cluster_session):  # pylint: disable=redefined-outer-name
    """The cluster lab in its initial state for this test: nodes up, groups on their nodes, no moves."""
    yield from fresh(hvsim_cluster_session)


@pytest.fixture
def hvsim_factory():
    """Start simulators for custom labs or options; all are stopped after the test."""
    started = []

    def start(lab=DEMO_LAB, **kwargs) -> Simulator:
        kwargs.setdefault('migration_duration_s', MIGRATION_S)
        simulator = Simulator.from_lab(lab, **kwargs)
        started.append(simulator)
        return simulator.start()

    yield start
    for simulator in started:
        simulator.stop()
