# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kerberos and clocks, against a real MIT KDC (tests/kdc) with libfaketime setting a process's clock off:
a host whose clock is off, an expired ticket, a controller whose clock is off.

What a host answers to a ticket it refuses is the bare 401 challenge it gives to a request without credentials:
WinRM (http.sys) says nothing of the reason, so the client's message lists the causes and their fixes.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time

import pytest
import requests
import spnego

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.client import WSManClient
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.errors import KerberosError
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.settings import WinRMSettings
from kdc import clock_env
from kdc.ccache import stretch_endtimes
from kdc.hvsim_process import HvsimProcess

V2 = 'root/virtualization/v2'
HOST_QUERY = 'SELECT * FROM Msvm_ComputerSystem WHERE Caption = "Hosting Computer System"'
BEYOND_SKEW_S = 600  # MIT's and Active Directory's limit is 5 minutes
WITHIN_SKEW_S = 120


def client(port: int, **values) -> WSManClient:
    return WSManClient(WinRMSettings(host='localhost', port=port, scheme='http', transport='kerberos', **values).check())


def host_name(port: int, **values) -> str:
    wsman = client(port, **values)
    try:
        return wsman.enumerate(V2, HOST_QUERY)[0].properties['ElementName']
    finally:
        wsman.close()


def kerberos_failure(port: int, **values) -> str:
    with pytest.raises(KerberosError) as caught:
        host_name(port, **values)
    return str(caught.value)


def challenges(response: requests.Response) -> list[str]:
    return response.raw.headers.getlist('WWW-Authenticate')


def offer_ticket(port: int) -> requests.Response:
    """The first request of a Kerberos login, as pywinrm sends it: Negotiate with the AP-REQ for HTTP/localhost from
    the credential cache, empty body."""
    token = spnego.client(hostname='localhost', service='HTTP', protocol='kerberos').step()
    return requests.post(f'http://127.0.0.1:{port}/wsman', data=b'', timeout=10,
                         headers={'Authorization': 'Negotiate ' + base64.b64encode(token).decode()})


def assert_refused_as_windows(port: int) -> None:
    """401 with the host's bare challenge, the same as to a request without credentials: no token, no reason."""
    refused = offer_ticket(port)
    bare = requests.post(f'http://127.0.0.1:{port}/wsman', data=b'', timeout=10)
    assert refused.status_code == 401 and bare.status_code == 401
    assert challenges(refused) == challenges(bare)
    assert 'Negotiate' in challenges(refused) and 'Kerberos' in challenges(refused)


# A host whose clock is off


@pytest.mark.parametrize('offset_s, accepted', [(WITHIN_SKEW_S, True), (BEYOND_SKEW_S, False)],
                         ids=['2-minutes-within-the-limit', '10-minutes-beyond-the-limit'])
def test_kdc_host_clock_off(kdc_faketime, kdc, tmp_path, offset_s, accepted):
    kdc.kinit()
    with HvsimProcess(tmp_path, kdc, clock_offset_s=offset_s) as lab:
        if accepted:
            assert host_name(lab.port()) == 'HV-OLD-01'
            assert f'accepted Kerberos from {kdc.user}' in lab.output()
            return
        assert_refused_as_windows(lab.port())
        message = kerberos_failure(lab.port())
        assert 'refused a Kerberos ticket: Clock skew too great' in lab.output()
    assert 'HTTP/localhost (HTTP 401)' in message
    assert 'clock skew' in message and 'time service' in message  # the first cause named, with its fix


# An expired ticket


def test_kdc_expired_ticket_refused_by_the_host(kdc_faketime, kdc_lab, kdc):
    """A ticket the client takes for valid (the cache shows a later end) and the host finds expired."""
    kdc.past_tickets('HTTP/localhost', ago_s=3600, lifetime='10m')
    assert 'HTTP/localhost@' + kdc.realm in ''.join(stretch_endtimes(kdc.ccache, int(time.time()) + 3600))
    port = kdc_lab.hosts['HV-OLD-01'].http_port
    assert_refused_as_windows(port)
    message = kerberos_failure(port)
    assert {refusal.reason for refusal in kdc_lab.kerberos.refusals} == {'Ticket expired'}
    assert kdc_lab.kerberos.logins == []
    assert 'HTTP/localhost (HTTP 401)' in message and 'expired' in message and 'kinit again' in message


def test_kdc_expired_ticket_in_the_controller_cache(kdc_faketime, kdc_lab, kdc):
    """The usual case: the ticket of yesterday's kinit. The client sees it expired and sends nothing."""
    kdc.past_tickets('HTTP/localhost', ago_s=3600, lifetime='10m')
    message = kerberos_failure(kdc_lab.hosts['HV-OLD-01'].http_port)
    assert 'ticket in the cache has expired' in message and 'kinit' in message and 'klist' in message
    assert kdc_lab.kerberos.refusals == [] and kdc_lab.auth_counters('HV-OLD-01').get('rejected') is None


# A controller whose clock is off

CLIENT = '''
import os, sys
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
_AnsibleCollectionFinder(paths=os.environ["ANSIBLE_COLLECTIONS_PATH"].split(os.pathsep))._install()
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.client import WSManClient
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.errors import KerberosError
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.settings import WinRMSettings
settings = WinRMSettings(host="localhost", port=int(sys.argv[1]), scheme="http", transport="kerberos",
                         username=sys.argv[2], password=sys.stdin.read()).check()
try:
    found = WSManClient(settings).enumerate("root/virtualization/v2", "SELECT * FROM Msvm_ComputerSystem WHERE Caption = \\"Hosting Computer System\\"")
    print("OK", found[0].properties["ElementName"])
except KerberosError as exc:
    print("KerberosError", exc)
'''


def run_controller(kdc, port: int, offset_s: int, krb5_conf=None) -> str:
    """The client in a process whose clock is offset_s seconds off, logging in with ansible_user/ansible_password."""
    env = {**kdc.full_env(), **clock_env(offset_s), 'PYTHONPATH': os.pathsep.join(sys.path)}
    if krb5_conf is not None:
        env['KRB5_CONFIG'] = str(krb5_conf)
    result = subprocess.run([sys.executable, '-c', CLIENT, str(port), kdc.user], input=kdc.password, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert kdc.password not in result.stdout + result.stderr
    return result.stdout.strip() or result.stderr[-2000:]


def test_kdc_controller_clock_off_is_corrected_by_mit(kdc_faketime, kdc_lab, kdc):
    """MIT's kdc_timesync (on by default) takes the KDC's time from its reply and keeps the difference with the
    ticket: a controller 10 minutes off still logs in, and its authenticator has the host's time."""
    said = run_controller(kdc, kdc_lab.hosts['HV-OLD-01'].http_port, BEYOND_SKEW_S)
    assert said == 'OK HV-OLD-01'
    assert [login.principal for login in kdc_lab.kerberos.logins] == [kdc.user]


def test_kdc_controller_clock_off_without_timesync(kdc_faketime, kdc_lab, kdc, tmp_path):
    """With kdc_timesync = 0 (as Heimdal and Windows behave), the controller refuses the KDC's reply: clock skew."""
    krb5_conf = tmp_path / 'krb5.conf'
    krb5_conf.write_text(kdc.krb5_conf.read_text(encoding='utf-8').replace(
        '[libdefaults]\n', '[libdefaults]\n    kdc_timesync = 0\n'), encoding='utf-8')
    said = run_controller(kdc, kdc_lab.hosts['HV-OLD-01'].http_port, BEYOND_SKEW_S, krb5_conf)
    assert said.startswith('KerberosError'), said
    assert 'clock skew' in said and '5 minutes' in said and 'NTP' in said
    assert kdc_lab.kerberos.logins == [] and kdc_lab.kerberos.refusals == []
