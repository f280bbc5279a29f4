# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The client reads the environment's proxy settings once, when its session is built (pywinrm's legacy behaviour),
and not again for every request: against hvsim over real sockets, a proxy in the environment is still used, and
NO_PROXY still exempts a host."""

from __future__ import annotations

import socket

import pytest

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.client import WSManClient
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.errors import TransportError
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.settings import WinRMSettings
from hvsim import pytest_fixtures
from hvsim.pytest_fixtures import HVSIM_PASSWORD, HVSIM_USER

hvsim_session = pytest_fixtures.hvsim_session
hvsim_lab = pytest_fixtures.hvsim_lab

HOST_QUERY = 'SELECT * FROM Msvm_ComputerSystem WHERE Caption = "Hosting Computer System"'


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def client(sim) -> WSManClient:
    handle = sim.hosts["HV-OLD-01"]
    return WSManClient(WinRMSettings(host=handle.bind, port=handle.http_port, scheme="http", username=HVSIM_USER,
                                     password=HVSIM_PASSWORD).check())


@pytest.fixture
def dead_proxy(monkeypatch):
    """An HTTP proxy in the environment that nobody listens on."""
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    proxy = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setenv("http_proxy", proxy)
    return proxy


def test_a_proxy_in_the_environment_is_used(hvsim_lab, dead_proxy):
    wsman = client(hvsim_lab)
    try:
        with pytest.raises(TransportError):
            wsman.enumerate("root/virtualization/v2", HOST_QUERY)
        assert hvsim_lab.request_count("HV-OLD-01") == 0  # nothing reached the host: it went to the proxy
    finally:
        wsman.close()


def test_no_proxy_exempts_the_host_and_the_session_reads_the_environment_once(hvsim_lab, dead_proxy, monkeypatch):
    monkeypatch.setenv("NO_PROXY", hvsim_lab.hosts["HV-OLD-01"].bind)
    monkeypatch.setenv("no_proxy", hvsim_lab.hosts["HV-OLD-01"].bind)
    wsman = client(hvsim_lab)
    try:
        assert wsman.enumerate("root/virtualization/v2", HOST_QUERY)[0].properties["ElementName"] == "HV-OLD-01"
        monkeypatch.delenv("NO_PROXY")
        monkeypatch.delenv("no_proxy")  # read when the session was built, not again per request
        assert wsman.enumerate("root/virtualization/v2", HOST_QUERY)[0].properties["ElementName"] == "HV-OLD-01"
    finally:
        wsman.close()
