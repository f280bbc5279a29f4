# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's WS-Management client over Kerberos against hvsim and a real MIT KDC (tests/kdc)."""

from __future__ import annotations

import os

import pytest

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.client import WSManClient
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.errors import AuthenticationError, KerberosError
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.settings import WinRMSettings
from kdc.pytest_fixtures import WRONG_SERVICE

V2 = 'root/virtualization/v2'
HOST_QUERY = 'SELECT * FROM Msvm_ComputerSystem WHERE Caption = "Hosting Computer System"'


def settings(lab, name: str = 'HV-OLD-01', scheme: str = 'http', **values) -> WinRMSettings:
    handle = lab.hosts[name]
    values.setdefault('host', 'localhost')
    values.setdefault('transport', 'kerberos')
    port = handle.https_port if scheme == 'https' else handle.http_port
    if scheme == 'https':
        values.setdefault('ca_trust_path', lab.ca_file)
    return WinRMSettings(port=port, scheme=scheme, **values).check()


def host_name(lab, name: str = 'HV-OLD-01', **values) -> str:
    client = WSManClient(settings(lab, name, **values))
    try:
        return client.enumerate(V2, HOST_QUERY)[0].properties['ElementName']
    finally:
        client.close()


@pytest.mark.parametrize('scheme', ['http', 'https'])
def test_kdc_a_ticket_in_the_cache_gets_in(kdc_lab, kdc, scheme):
    kdc.kinit()
    assert host_name(kdc_lab, scheme=scheme) == 'HV-OLD-01'
    assert [(login.principal, login.delegated) for login in kdc_lab.kerberos.logins] == [(kdc.user, False)]


@pytest.fixture
def own_cache(monkeypatch):
    """A password login points KRB5CCNAME at a memory cache: put the KDC's file cache back after the test."""
    monkeypatch.setenv('KRB5CCNAME', os.environ['KRB5CCNAME'])


@pytest.mark.parametrize('delegation', [False, True], ids=['delegation-off', 'delegation-on'])
def test_kdc_user_and_password_get_a_ticket_of_their_own(kdc_lab, kdc, own_cache, delegation):
    assert host_name(kdc_lab, username=kdc.user, password=kdc.password, kerberos_delegation=delegation) == 'HV-OLD-01'
    assert [(login.principal, login.delegated) for login in kdc_lab.kerberos.logins] == [(kdc.user, delegation)]
    assert os.environ['KRB5CCNAME'].startswith('MEMORY:') and not kdc.ccache.exists()  # the ticket is in no file


def test_kdc_each_host_by_its_own_spn(kdc_lab, kdc):
    kdc.kinit()
    for name, fqdn in (('HV-OLD-02', 'hv-old-02.lab.example'), ('HV-NEW-01', 'hv-new-01.lab.example')):
        assert host_name(kdc_lab, name, kerberos_hostname_override=fqdn) == name
    assert len(kdc_lab.kerberos.logins) == 2


def test_kdc_a_host_that_turned_ntlm_off_takes_kerberos_only(kdc_factory, kdc):
    lab = kdc_factory(methods=('kerberos',))
    kdc.kinit()
    assert host_name(lab) == 'HV-OLD-01'
    with pytest.raises(AuthenticationError, match='did not take NTLM.*transport kerberos'):
        host_name(lab, transport='ntlm', username='LAB\\hvadmin', password='Hvsim-Passw0rd!')
    assert lab.auth_counters('HV-OLD-01').get('rejected')


def test_kdc_ntlm_and_basic_stay_as_they_were(kdc_lab):
    assert host_name(kdc_lab, transport='ntlm', username='LAB\\hvadmin', password='Hvsim-Passw0rd!') == 'HV-OLD-01'
    assert kdc_lab.kerberos.logins == []


def kerberos_failure(lab, **values) -> str:
    with pytest.raises(KerberosError) as caught:
        host_name(lab, **values)
    return str(caught.value)


def test_kdc_no_ticket_says_kinit(kdc_lab, kdc):
    message = kerberos_failure(kdc_lab)
    assert 'no Kerberos ticket' in message and 'kinit' in message


def test_kdc_wrong_realm_for_a_password(kdc_lab, kdc, own_cache):
    message = kerberos_failure(kdc_lab, username='hvadmin@WRONG.EXAMPLE', password=kdc.password)
    assert 'WRONG.EXAMPLE' in message and 'wrong realm' in message and 'upper case' in message


def test_kdc_wrong_realm_against_the_cache(kdc_lab, kdc):
    kdc.kinit()
    message = kerberos_failure(kdc_lab, username='hvadmin@WRONG.EXAMPLE')
    assert 'no ticket for hvadmin@WRONG.EXAMPLE' in message and 'wrong realm' in message


def test_kdc_a_host_named_by_ip_address_has_no_spn(kdc_lab, kdc):
    kdc.kinit()
    message = kerberos_failure(kdc_lab, host='127.0.0.1')
    assert 'IP address 127.0.0.1' in message and 'fully qualified domain name' in message
    assert 'kerberos_hostname_override' in message


def test_kdc_unreachable(kdc_lab, kdc, own_cache):
    kdc.stop()
    try:
        message = kerberos_failure(kdc_lab, username=kdc.user, password=kdc.password)
    finally:
        kdc.start_again()
    assert 'unreachable' in message and 'port 88' in message and 'krb5.conf' in message


def test_kdc_a_ticket_for_the_wrong_service_gets_401(kdc_lab, kdc):
    kdc.kinit()
    message = kerberos_failure(kdc_lab, kerberos_hostname_override=WRONG_SERVICE)
    assert f'HTTP/{WRONG_SERVICE} (HTTP 401)' in message and 'setspn' in message
    assert kdc_lab.kerberos.logins == []
    assert {refusal.reason for refusal in kdc_lab.kerberos.refusals} == {
        f'Request ticket server HTTP/{WRONG_SERVICE}@{kdc.realm} not found in keytab (ticket kvno 1)'}
