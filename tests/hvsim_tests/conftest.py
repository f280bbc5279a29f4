# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hvsim's own tests: the shared fixtures, and a client factory bound to the simulator's credentials."""

from __future__ import annotations

import pytest

from hvsim.pytest_fixtures import hvsim_cluster, hvsim_cluster_session, hvsim_factory, hvsim_lab, hvsim_session  # noqa: F401  pylint: disable=unused-import
from hvsim_tests.wsman_client import Client


@pytest.fixture
def client(hvsim_lab):  # pylint: disable=redefined-outer-name
    """client(host, scheme='http', transport='ntlm', **kw) -> Client for a demo host."""

    def make(host: str, scheme: str = 'http', transport: str = 'ntlm', **kwargs) -> Client:
        handle = hvsim_lab.hosts[host]
        endpoint = handle.https_endpoint if scheme == 'https' else handle.http_endpoint
        if scheme == 'https':
            kwargs.setdefault('ca_trust_path', hvsim_lab.ca_file)
        user, password = hvsim_lab.users[0]
        return Client(endpoint, kwargs.pop('user', user), kwargs.pop('password', password), transport, **kwargs)

    return make


@pytest.fixture
def cluster_client(hvsim_cluster):  # pylint: disable=redefined-outer-name
    """cluster_client(host, **kw) -> Client (HTTP, NTLM) for a host of the cluster lab."""

    def make(host: str, **kwargs) -> Client:
        user, password = hvsim_cluster.users[0]
        return Client(hvsim_cluster.hosts[host].http_endpoint, user, password, **kwargs)

    return make
