# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's WS-Management client over Kerberos against hvsim and a real MIT KDC (tests/kdc)."""

from __future__ import annotations

import pytest

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.client import WSManClient
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.settings import WinRMSettings
from kdc.pytest_fixtures import kdc, kdc_lab, kdc_lab_session, kdc_session  # noqa: F401  pylint: disable=unused-import

V2 = 'root/virtualization/v2'
HOST_QUERY = 'SELECT * FROM Msvm_ComputerSystem WHERE Caption = "Hosting Computer System"'


def settings(lab, host: str = 'HV-OLD-01', scheme: str = 'http', **values) -> WinRMSettings:
    handle = lab.hosts[host]
    values.setdefault('host', 'localhost')
    values.setdefault('transport', 'kerberos')
    port = handle.https_port if scheme == 'https' else handle.http_port
    if scheme == 'https':
        values.setdefault('ca_trust_path', lab.ca_file)
    return WinRMSettings(port=port, scheme=scheme, **values).check()


def host_name(lab, **values) -> str:
    client = WSManClient(settings(lab, **values))
    try:
        return client.enumerate(V2, HOST_QUERY)[0].properties['ElementName']
    finally:
        client.close()


@pytest.mark.parametrize('scheme', ['http', 'https'])
def test_kdc_a_ticket_in_the_cache_gets_in(kdc_lab, kdc, scheme):
    kdc.kinit()
    assert host_name(kdc_lab, scheme=scheme) == 'HV-OLD-01'
    assert [(login.principal, login.delegated) for login in kdc_lab.kerberos.logins] == [(kdc.user, False)]
