# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pytest fixtures for the Kerberos tests (tests/integration/test_kdc_*.py), imported by tests/integration/conftest.py
(in a conftest, so that the session has one KDC; see kdc_session):

kdc_session  one KDC per pytest process (xdist: per worker) in a temporary directory, its variables in os.environ
             for the session (KRB5_CONFIG, KRB5CCNAME, KRB5_KTNAME, ...) and restored after it; stopped at the end.
kdc          that KDC with an empty credential cache for this test.
kdc_lab      the demo lab accepting Kerberos (besides NTLM and Basic), reset for this test, with the KDC.

Without the Kerberos tools or Python modules the tests are skipped with one line saying what is missing and how
to get it; under CI (CI=true, as .ci/run runs) they fail instead, because there `./dev setup` must have them.
"""

from __future__ import annotations

import os
import tempfile
import shutil

import pytest

from hvsim import kerberos
from hvsim.pytest_fixtures import DEMO_LAB, MIGRATION_S, fresh
from hvsim.simulator import Simulator
from kdc import Kdc, KdcError, faketime_missing, missing

# Every demo host's FQDN has an SPN with a key in hvsim's keytab, as has localhost; other.lab.example is a service
# the KDC knows and hvsim holds no key for (a ticket for the wrong service).
DEMO_FQDNS = ('hv-old-01.lab.example', 'hv-old-02.lab.example', 'hv-new-01.lab.example', 'hv-new-02.lab.example')
SERVICES = ('localhost',) + DEMO_FQDNS
WRONG_SERVICE = 'other.lab.example'


def unavailable(problem: str) -> None:
    """Skip with one line; under CI fail, since ./dev setup must have installed what the tests need."""
    if os.environ.get('CI', '').lower() == 'true':
        pytest.fail(f'Kerberos tests cannot run in CI: {problem}', pytrace=False)
    pytest.skip(f'Kerberos tests skipped: {problem}')


_RUNNING: list[Kdc] = []  # the process's KDC: its variables are process-wide, so there is one


@pytest.fixture(scope='session')
def kdc_session():
    """A running KDC for the whole session, its variables exported. Defined once, in tests/integration/conftest.py:
    imported into a test module it would be that module's own, and a second KDC would take over the variables."""
    if _RUNNING:
        pytest.fail(f'a second KDC session in this process (the first is in {_RUNNING[0].dir}): import the kdc '
                    'fixtures in a conftest.py, not in test modules', pytrace=False)
    problem = missing()
    if problem:
        unavailable(problem)
    directory = tempfile.mkdtemp(prefix='vmgate-kdc-')
    server = Kdc(directory, services=SERVICES, others=(WRONG_SERVICE,))
    saved = {name: os.environ.get(name) for name in server.env}
    try:
        server.start()
    except KdcError as exc:
        shutil.rmtree(directory, ignore_errors=True)
        unavailable(str(exc))
    os.environ.update(server.env)
    _RUNNING.append(server)
    yield server
    _RUNNING.remove(server)
    server.stop()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def kdc(kdc_session):  # pylint: disable=redefined-outer-name
    """The session's KDC, with no ticket in the cache when the test starts."""
    kdc_session.kdestroy()
    yield kdc_session
    kdc_session.kdestroy()


@pytest.fixture(scope='session')
def kdc_lab_session(kdc_session):  # pylint: disable=redefined-outer-name
    """The demo lab (HTTP and HTTPS) whose hosts also accept Kerberos with the KDC's keytab."""
    simulator = Simulator.from_lab(DEMO_LAB, https=True, migration_duration_s=MIGRATION_S)
    simulator.start()
    kerberos.enable(simulator, kerberos.KerberosService(str(kdc_session.keytab)))
    yield simulator
    simulator.stop()


@pytest.fixture
def kdc_lab(kdc_lab_session, kdc):  # pylint: disable=redefined-outer-name
    """The Kerberos demo lab in its initial state, its Kerberos record empty; the KDC's cache empty."""
    kdc_lab_session.kerberos.clear()
    yield from fresh(kdc_lab_session)


@pytest.fixture
def kdc_factory(kdc):  # pylint: disable=redefined-outer-name
    """kdc_factory(lab=DEMO_LAB, methods=None, **simulator_options) -> a started simulator accepting Kerberos,
    offering only `methods` (e.g. ('kerberos',)) when given; stopped after the test."""
    started = []

    def start(lab=DEMO_LAB, methods=None, **kwargs) -> Simulator:
        kwargs.setdefault('migration_duration_s', MIGRATION_S)
        simulator = Simulator.from_lab(lab, **kwargs)
        started.append(simulator)
        simulator.start()
        return kerberos.enable(simulator, kerberos.KerberosService(str(kdc.keytab)), methods)

    yield start
    for simulator in started:
        simulator.stop()


@pytest.fixture(scope='session')
def kdc_faketime(kdc_session):  # pylint: disable=redefined-outer-name
    """libfaketime, for the tests that set a process's clock off; skipped with one line without it (CI: failed)."""
    problem = faketime_missing()
    if problem:
        unavailable(problem)
    return kdc_session
