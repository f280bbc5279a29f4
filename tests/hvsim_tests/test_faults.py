# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Misbehaviour on request, request counters, and the JSON control endpoint."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
import requests
from winrm.exceptions import InvalidCredentialsError, WinRMOperationTimeoutError, WinRMTransportError, WSManFaultError

from hvsim_tests.wsman_client import ENUMERATE, GET, V2, enumerate_body, envelope, migrate_params, ref_xml

VMS = "SELECT * FROM Msvm_ComputerSystem WHERE Caption = 'Virtual Machine'"


def test_latency(client, hvsim_lab):
    hvsim_lab.inject('HV-OLD-01', 'latency', op='Enumerate:*', ms=600)
    wsman = client('HV-OLD-01')
    started = time.monotonic()
    wsman.enumerate(VMS)
    assert time.monotonic() - started >= 0.6
    started = time.monotonic()
    wsman.send(GET, V2 + 'Msvm_VirtualSystemMigrationServiceSettingData', selectors={'InstanceID': 'Microsoft:MigrationServiceSettingData'})
    assert time.monotonic() - started < 0.6  # other operations are not delayed


def test_call_changes_the_lab_before_the_nth_request_is_served(client, hvsim_lab):
    hvsim_lab.inject('HV-OLD-01', 'call', op='Enumerate:Msvm_ComputerSystem', nth=2, times=1,
                     action=lambda: hvsim_lab.set_vm_state('web01', 'off'))
    wsman = client('HV-OLD-01')
    states = [wsman.enumerate(VMS + " AND ElementName = 'web01'")[0][0]['EnabledState'] for _attempt in range(2)]
    assert states == ['2', '3']


def test_latency_past_the_operation_timeout_becomes_timed_out(client, hvsim_lab):
    hvsim_lab.inject('HV-OLD-01', 'latency', ms=5000)
    wsman = client('HV-OLD-01')
    started = time.monotonic()
    with pytest.raises(WinRMOperationTimeoutError):
        wsman.send(ENUMERATE, V2 + '*', enumerate_body(VMS), timeout='PT0.2S')
    assert time.monotonic() - started < 2


def test_wrong_credentials_on_request_even_on_an_authenticated_connection(client, hvsim_lab):
    wsman = client('HV-OLD-01')
    wsman.enumerate(VMS)
    rule = hvsim_lab.inject('HV-OLD-01', 'auth_fail')
    with pytest.raises(InvalidCredentialsError):
        wsman.enumerate(VMS)
    with pytest.raises(InvalidCredentialsError):  # the rule stays until cleared
        client('HV-OLD-01').enumerate(VMS)
    assert isinstance(rule, int)
    hvsim_lab.clear_faults('HV-OLD-01')
    assert client('HV-OLD-01').enumerate(VMS)[0]


def test_wmi_fault_on_a_method(client, hvsim_lab):
    hvsim_lab.inject('HV-OLD-01', 'wmi_fault', op='Invoke:GetSystemCompatibilityVectors', code=0x80041003, message='Access denied ')
    wsman = client('HV-OLD-01')
    with pytest.raises(WSManFaultError) as caught:
        wsman.invoke('HV-OLD-01', 'GetSystemCompatibilityVectors', ref_xml('ComputerSystem', hvsim_lab.guid('web01')))
    assert (caught.value.fault_subcode, caught.value.wmierror_code) == ('w:InternalError', 0x80041003)
    assert 'Access denied' in caught.value.reason
    assert wsman.invoke('HV-OLD-01', 'GetSystemCompatibilityInfo', ref_xml('ComputerSystem', hvsim_lab.guid('web01')))['ReturnValue'] == 0


def test_timed_out_fault(client, hvsim_lab):
    hvsim_lab.inject('HV-OLD-01', 'timeout', op='Pull', times=1)
    wsman = client('HV-OLD-01')
    with pytest.raises(WinRMOperationTimeoutError):
        wsman.enumerate('SELECT * FROM Msvm_ComputerSystem', max_elements=1)
    assert len(wsman.enumerate('SELECT * FROM Msvm_ComputerSystem', max_elements=1)[0]) == 3


def test_timed_out_after_the_migration_started(client, hvsim_lab):
    # phase=after: the host did the work, only the reply was lost; asking the host tells what happened.
    hvsim_lab.inject('HV-OLD-01', 'timeout', op='Invoke:MigrateVirtualSystemToHost', phase='after')
    with pytest.raises(WinRMOperationTimeoutError):
        client('HV-OLD-01').invoke('HV-OLD-01', 'MigrateVirtualSystemToHost', migrate_params(hvsim_lab.guid('web01'), 'HV-NEW-01'))
    (job,) = hvsim_lab.jobs('HV-OLD-01')
    assert job['vm_name'] == 'web01'


def test_dropped_connection_on_the_nth_request(client, hvsim_lab):
    hvsim_lab.inject('HV-NEW-02', 'drop', op='Pull', nth=2, times=1)
    wsman = client('HV-NEW-02')
    with pytest.raises(requests.exceptions.ConnectionError):
        wsman.enumerate('SELECT * FROM Msvm_ComputerSystem', max_elements=1)
    assert hvsim_lab.counters('HV-NEW-02') == {'Enumerate:Msvm_ComputerSystem': 1, 'Pull': 2}
    assert len(client('HV-NEW-02').enumerate('SELECT * FROM Msvm_ComputerSystem', max_elements=1)[0]) == 3


@pytest.mark.parametrize('body, encrypt', [
    (b'<s:Envelope><unclosed>', True),
    (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><lolz>&lol;</lolz>', True),
    (b'\x00\xff garbage', False),
])
def test_raw_response_override(client, hvsim_lab, body, encrypt):
    hvsim_lab.inject('HV-OLD-01', 'raw', op='Enumerate:*', body=body, encrypt=encrypt, times=1)
    wsman = client('HV-OLD-01')
    reply = wsman.protocol.send_message(envelope(wsman.endpoint, ENUMERATE, V2 + '*', enumerate_body(VMS)))
    assert reply == body


def test_http_status(client, hvsim_lab):
    hvsim_lab.inject('HV-OLD-01', 'http_status', status=503, body='busy')
    with pytest.raises(WinRMTransportError) as caught:
        client('HV-OLD-01').enumerate(VMS)
    assert caught.value.code == 503


def test_counters_are_per_operation_and_resettable(client, hvsim_lab):
    wsman = client('HV-NEW-01')
    wsman.enumerate('SELECT * FROM Msvm_ComputerSystem', max_elements=1)
    wsman.enumerate('SELECT * FROM Msvm_VirtualSystemMigrationService')
    wsman.invoke('HV-NEW-01', 'GetSystemCompatibilityVectors', ref_xml('ComputerSystem', 'HV-NEW-01'))
    assert hvsim_lab.counters('HV-NEW-01') == {
        'Enumerate:Msvm_ComputerSystem': 1, 'Pull': 2, 'Enumerate:Msvm_VirtualSystemMigrationService': 1,
        'Invoke:GetSystemCompatibilityVectors': 1,
    }
    assert hvsim_lab.request_count('HV-NEW-01') == 5 and hvsim_lab.counters('HV-OLD-01') == {}
    assert hvsim_lab.auth_counters('HV-NEW-01') == {'challenge': 1, 'handshake': 2}
    hvsim_lab.reset_counters('HV-NEW-01')
    assert hvsim_lab.counters('HV-NEW-01') == {} and hvsim_lab.auth_counters('HV-NEW-01') == {}


def control(hvsim_lab, host: str, method: str, path: str, payload: dict | None = None):
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(hvsim_lab.hosts[host].http_endpoint.replace('/wsman', f'/hvsim/{path}'), data=data, method=method,
                                     headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_control_endpoint(client, hvsim_lab):
    client('HV-OLD-01').enumerate(VMS)
    assert control(hvsim_lab, 'HV-OLD-01', 'GET', 'counters')['operations'] == {'Enumerate:Msvm_ComputerSystem': 1}
    rule = control(hvsim_lab, 'HV-OLD-01', 'POST', 'faults', {'kind': 'wmi_fault', 'op': 'Enumerate:*', 'code': 2147749889})
    assert [item['id'] for item in control(hvsim_lab, 'HV-OLD-01', 'GET', 'faults')] == [rule['id']]
    with pytest.raises(WSManFaultError):
        client('HV-OLD-01').enumerate(VMS)
    control(hvsim_lab, 'HV-OLD-01', 'DELETE', 'faults')
    assert control(hvsim_lab, 'HV-OLD-01', 'POST', 'reset', {})['ok']
    assert control(hvsim_lab, 'HV-OLD-01', 'GET', 'counters')['operations'] == {}
    control(hvsim_lab, 'HV-OLD-01', 'POST', 'faults', {'kind': 'migration_limit'})
    assert hvsim_lab.lab.active_migrations(hvsim_lab.lab.host('HV-OLD-01')) == 2
    control(hvsim_lab, 'HV-OLD-01', 'POST', 'vms/web01', {'state': 'off'})
    state = control(hvsim_lab, 'HV-OLD-01', 'GET', 'state')
    assert next(vm for vm in state['vms'] if vm['name'] == 'web01')['state'] == 3
    assert state['hosts']['HV-OLD-01']['active_migrations'] == 2
    with pytest.raises(urllib.error.HTTPError) as caught:
        control(hvsim_lab, 'HV-OLD-01', 'POST', 'faults', {'kind': 'nonsense'})
    assert caught.value.code == 400
