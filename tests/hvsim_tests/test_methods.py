# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Get and every Invoke of Msvm_VirtualSystemMigrationService, with return codes and out parameters."""

from __future__ import annotations

import base64
from xml.etree import ElementTree

import pytest
from winrm.exceptions import WSManFaultError

from hvsim_tests.wsman_client import GET, NS, SERVICE, V2, migrate_params, ref_xml, service_selectors

OLD_VECTORS = {('1', '2', str(0x3FFFFFFFFF)), ('2', '2', '7'), ('3', '0', '64')}
NEW_VECTORS = {('1', '2', str(0xFFFFFFFFFFF)), ('2', '2', '231'), ('3', '0', '64')}


def vectors(result: dict) -> set:
    return {(item['VectorId'], item['CompareOperation'], item['CompatibilityInfo']) for item in result['CompatibilityVectors']}


def blob_of(result: dict) -> bytes:
    items = result['CompatibilityInfo']
    if len(items) == 1:
        return base64.b64decode(items[0])
    return bytes(int(item) for item in items)


def reasons_of(result: dict) -> list[dict]:
    """The Reasons of a reply, each as its properties, whichever form the host sent them in (element or CIM-XML)."""
    reasons = []
    for item in result.get('Reasons') or []:
        if isinstance(item, str):  # <INSTANCE CLASSNAME="Msvm_Error"><PROPERTY NAME=".."><VALUE>..</VALUE>...
            instance = ElementTree.fromstring(item)
            item = {prop.get('NAME'): prop.findtext('VALUE') for prop in instance.iter('PROPERTY')}
        reasons.append(item)
    return reasons


def blob_param(data: bytes, form: str) -> str:
    if form == 'base64':
        return f'<p:CompatibilityInfo>{base64.b64encode(data).decode()}</p:CompatibilityInfo>'
    return ''.join(f'<p:CompatibilityInfo>{byte}</p:CompatibilityInfo>' for byte in data)


def test_vectors_of_a_vm_and_of_the_host(client, hvsim_lab):
    wsman = client('HV-NEW-01')
    result = wsman.invoke('HV-NEW-01', 'GetSystemCompatibilityVectors', ref_xml('ComputerSystem', hvsim_lab.guid('db01')))
    assert result['ReturnValue'] == 0 and vectors(result) == NEW_VECTORS
    result = wsman.invoke('HV-NEW-01', 'GetSystemCompatibilityVectors', ref_xml('ComputerSystem', 'HV-NEW-01'))
    assert vectors(result) == NEW_VECTORS


def test_vectors_depend_on_the_vm_state(client, hvsim_lab):
    wsman = client('HV-NEW-01')
    off = wsman.invoke('HV-NEW-01', 'GetSystemCompatibilityVectors', ref_xml('ComputerSystem', hvsim_lab.guid('batch01')))
    assert vectors(off) == {('1', '2', '0'), ('2', '2', '0'), ('3', '0', '64')}
    hvsim_lab.set_vm_state('batch01', 'running')
    running = wsman.invoke('HV-NEW-01', 'GetSystemCompatibilityVectors', ref_xml('ComputerSystem', hvsim_lab.guid('batch01')))
    assert vectors(running) == NEW_VECTORS


def test_vectors_embedded_instance_shape(client, hvsim_lab):
    wsman = client('HV-OLD-01')
    body = (f'<p:GetSystemCompatibilityVectors_INPUT xmlns:p="{SERVICE}" xmlns:a="{NS["a"]}" xmlns:w="{NS["w"]}">'
            + ref_xml('ComputerSystem', hvsim_lab.guid('web01')) + '</p:GetSystemCompatibilityVectors_INPUT>')
    output = wsman.send(SERVICE + '/GetSystemCompatibilityVectors', SERVICE, body, selectors=service_selectors('HV-OLD-01'))
    assert output.tag == f'{{{SERVICE}}}GetSystemCompatibilityVectors_OUTPUT'
    first = output.find(f'{{{SERVICE}}}CompatibilityVectors')
    assert first.get(f'{{{NS["xsi"]}}}type').endswith(':Msvm_CompatibilityVector_Type')
    assert first.find(f'{{{V2}Msvm_CompatibilityVector}}VectorId') is not None
    assert output[-1].tag == f'{{{SERVICE}}}ReturnValue'


def test_a_vm_on_another_host_or_nothing_is_an_invalid_parameter(client, hvsim_lab):
    wsman = client('HV-OLD-01')
    for name in (hvsim_lab.guid('db01'), '00000000-0000-0000-0000-000000000000', 'HV-NEW-01'):
        assert wsman.invoke('HV-OLD-01', 'GetSystemCompatibilityVectors', ref_xml('ComputerSystem', name))['ReturnValue'] == 32773
    assert wsman.invoke('HV-OLD-01', 'GetSystemCompatibilityInfo')['ReturnValue'] == 32773


@pytest.mark.parametrize('source, encoding', [('HV-OLD-01', 'array'), ('HV-NEW-01', 'base64')])
def test_blob_comes_in_the_hosts_encoding(client, hvsim_lab, source, encoding):
    vm = 'web01' if source == 'HV-OLD-01' else 'db01'
    result = client(source).invoke(source, 'GetSystemCompatibilityInfo', ref_xml('ComputerSystem', hvsim_lab.guid(vm)))
    assert result['ReturnValue'] == 0
    assert (len(result['CompatibilityInfo']) == 1) == (encoding == 'base64')
    assert blob_of(result).startswith(b'HVSIMCI\x01')


@pytest.mark.parametrize('form', ['base64', 'array'])
def test_blob_check_accepts_either_form(client, hvsim_lab, form):
    blob = blob_of(client('HV-OLD-01').invoke('HV-OLD-01', 'GetSystemCompatibilityInfo', ref_xml('ComputerSystem', hvsim_lab.guid('app01', 'HV-OLD-01'))))
    result = client('HV-NEW-02').invoke('HV-NEW-02', 'CheckSystemCompatibilityInfo', blob_param(blob, form))
    assert result == {'ReturnValue': 0}


def test_incompatible_blob_gets_32784_and_reasons(client, hvsim_lab):
    blob = blob_of(client('HV-NEW-01').invoke('HV-NEW-01', 'GetSystemCompatibilityInfo', ref_xml('ComputerSystem', hvsim_lab.guid('db01'))))
    result = client('HV-OLD-01').invoke('HV-OLD-01', 'CheckSystemCompatibilityInfo', blob_param(blob, 'array'))
    assert result['ReturnValue'] == 32784
    (reason,) = reasons_of(result)
    assert "virtual machine 'db01' is using processor-specific features not supported on physical computer 'HV-OLD-01'" in reason['Message']
    assert 'ProcessorXSave' in reason['Message'] and 'processor compatibility mode' in reason['Message']


def test_configuration_version_reason(client, hvsim_lab):
    blob = blob_of(client('HV-NEW-02').invoke('HV-NEW-02', 'GetSystemCompatibilityInfo', ref_xml('ComputerSystem', hvsim_lab.guid('analytics01'))))
    result = client('HV-OLD-01').invoke('HV-OLD-01', 'CheckSystemCompatibilityInfo', blob_param(blob, 'base64'))
    messages = [reason['Message'] for reason in reasons_of(result)]
    assert result['ReturnValue'] == 32784
    assert any('configuration version 12.0 is not supported' in message and '8.0-10.0' in message for message in messages)


def test_lab_rule_rejects_a_vm_whose_vectors_pass(client, hvsim_lab):
    blob = blob_of(client('HV-OLD-02').invoke('HV-OLD-02', 'GetSystemCompatibilityInfo', ref_xml('ComputerSystem', hvsim_lab.guid('legacy01'))))
    assert client('HV-NEW-01').invoke('HV-NEW-01', 'CheckSystemCompatibilityInfo', blob_param(blob, 'base64')) == {'ReturnValue': 0}
    result = client('HV-NEW-02').invoke('HV-NEW-02', 'CheckSystemCompatibilityInfo', blob_param(blob, 'base64'))
    assert result['ReturnValue'] == 32784 and 'legacy network adapter' in reasons_of(result)[0]['Message']


def test_warnings_come_with_zero(client, hvsim_lab):
    blob = blob_of(client('HV-OLD-01').invoke('HV-OLD-01', 'GetSystemCompatibilityInfo', ref_xml('ComputerSystem', hvsim_lab.guid('web01'))))
    result = client('HV-NEW-01').invoke('HV-NEW-01', 'CheckSystemCompatibilityInfo', blob_param(blob, 'base64'))
    assert result['ReturnValue'] == 0
    (warning,) = result['Reasons']
    assert warning['PerceivedSeverity'] == '3' and 'DVD drive' in warning['Message']


def test_reasons_as_cim_xml_text(hvsim_factory):
    sim = hvsim_factory({'hosts': [{'name': 'A', 'allow_unencrypted': True, 'vectors': [{'id': 1, 'op': 2, 'value': 3}]},
                                   {'name': 'B', 'allow_unencrypted': True, 'reasons_encoding': 'cimxml', 'vectors': [{'id': 1, 'op': 2, 'value': 1}]}],
                         'vms': [{'name': 'v', 'host': 'A', 'vectors': [{'id': 1, 'op': 2, 'value': 3}]}]})
    from hvsim_tests.wsman_client import Client  # pylint: disable=import-outside-toplevel
    user, password = sim.users[0]
    source = Client(sim.hosts['A'].http_endpoint, user, password)
    blob = blob_of(source.invoke('A', 'GetSystemCompatibilityInfo', ref_xml('ComputerSystem', sim.guid('v'))))
    result = Client(sim.hosts['B'].http_endpoint, user, password).invoke('B', 'CheckSystemCompatibilityInfo', blob_param(blob, 'base64'))
    assert result['ReturnValue'] == 32784
    assert result['Reasons'][0].startswith('<INSTANCE CLASSNAME="Msvm_Error">') and 'ProcessorFeatures' in result['Reasons'][0]


@pytest.mark.parametrize('param', [
    '<p:CompatibilityInfo>bm90IGEgYmxvYg==</p:CompatibilityInfo>',
    '<p:CompatibilityInfo>1</p:CompatibilityInfo><p:CompatibilityInfo>2</p:CompatibilityInfo>',
    '',
])
def test_damaged_blob_is_an_invalid_parameter(client, param):
    assert client('HV-OLD-01').invoke('HV-OLD-01', 'CheckSystemCompatibilityInfo', param)['ReturnValue'] == 32773


def test_unparsable_uint8_is_a_type_mismatch_fault(client):
    with pytest.raises(WSManFaultError) as caught:
        client('HV-OLD-01').invoke('HV-OLD-01', 'CheckSystemCompatibilityInfo',
                                   '<p:CompatibilityInfo>300</p:CompatibilityInfo><p:CompatibilityInfo>1</p:CompatibilityInfo>')
    assert caught.value.wmierror_code == 2147749893


@pytest.mark.parametrize('method', ['CheckVirtualSystemIsMigratableToHost', 'CheckVirtualSystemIsMigratable'])
@pytest.mark.parametrize('vm, source, destination, code, migratable', [
    ('web01', 'HV-OLD-01', 'HV-NEW-01', 0, 'true'),
    ('web01', 'HV-OLD-01', 'hv-new-01.lab.example', 0, 'true'),
    ('web01', 'HV-OLD-01', '10.10.2.21', 0, 'true'),
    ('db01', 'HV-NEW-01', 'HV-OLD-01', 0, 'false'),
    ('batch01', 'HV-NEW-01', 'HV-OLD-01', 0, 'true'),  # off: fits the older host
    ('legacy01', 'HV-OLD-02', 'HV-NEW-01', 5, None),  # live migration disabled on the source
    ('web01', 'HV-OLD-01', 'HV-OLD-02', 5, None),  # ... and on the destination
    ('web01', 'HV-OLD-01', 'nowhere.example', 2, None),
    ('web01', 'HV-OLD-01', '', 4, None),
    ('web01', 'HV-OLD-01', 'HV-OLD-01', 4, None),
])
def test_is_migratable_checks(client, hvsim_lab, method, vm, source, destination, code, migratable):
    result = client(source).invoke(source, method, migrate_params(hvsim_lab.guid(vm, source), destination))
    assert result['ReturnValue'] == code
    assert result.get('IsMigratable') == migratable


def test_is_migratable_parameter_errors(client, hvsim_lab):
    wsman = client('HV-OLD-01')
    guid = hvsim_lab.guid('web01')
    assert wsman.invoke('HV-OLD-01', 'CheckVirtualSystemIsMigratableToHost', migrate_params(guid, 'HV-NEW-01', 32769))['ReturnValue'] == 6
    garbled = ref_xml('ComputerSystem', guid) + '<p:DestinationHost>HV-NEW-01</p:DestinationHost><p:MigrationSettingData>&lt;INSTANCE</p:MigrationSettingData>'
    assert wsman.invoke('HV-OLD-01', 'CheckVirtualSystemIsMigratableToHost', garbled)['ReturnValue'] == 4
    hvsim_lab.set_vm_state('web01', 'starting')
    assert wsman.invoke('HV-OLD-01', 'CheckVirtualSystemIsMigratableToHost', migrate_params(guid, 'HV-NEW-01'))['ReturnValue'] == 5


def test_get_job_and_missing_job(client, hvsim_lab):
    wsman = client('HV-OLD-01')
    started = wsman.invoke('HV-OLD-01', 'MigrateVirtualSystemToHost', migrate_params(hvsim_lab.guid('web01'), 'HV-NEW-01'))
    job_id = started['Job']['InstanceID']
    assert started['ReturnValue'] == 4096 and started['Job']['__cimnamespace'] == 'root/virtualization/v2'
    for resource in ('Msvm_MigrationJob', 'Msvm_ConcreteJob'):
        job = wsman.send(GET, V2 + resource, selectors={'InstanceID': job_id})
        assert job.tag == f'{{{V2}Msvm_MigrationJob}}Msvm_MigrationJob'
        assert job.findtext(f'{{{V2}Msvm_MigrationJob}}JobState') in ('4', '7')
    with pytest.raises(WSManFaultError) as caught:
        wsman.send(GET, V2 + 'Msvm_MigrationJob', selectors={'InstanceID': 'F00D0000-0000-0000-0000-000000000000'})
    assert (caught.value.fault_subcode, caught.value.wsman_fault_code) == ('a:DestinationUnreachable', 2150858752)  # no such job
    with pytest.raises(WSManFaultError):  # the job lives on its source host only
        client('HV-NEW-01').send(GET, V2 + 'Msvm_MigrationJob', selectors={'InstanceID': job_id})
    assert hvsim_lab.counters('HV-OLD-01') == {'Invoke:MigrateVirtualSystemToHost': 1, 'Get:Msvm_MigrationJob': 2, 'Get:Msvm_ConcreteJob': 1}


def test_get_computer_system_by_keys(client, hvsim_lab):
    vm = client('HV-OLD-01').send(GET, V2 + 'Msvm_ComputerSystem', selectors={'CreationClassName': 'Msvm_ComputerSystem', 'Name': hvsim_lab.guid('web01')})
    assert vm.findtext(f'{{{V2}Msvm_ComputerSystem}}ElementName') == 'web01'


@pytest.mark.parametrize('selectors, subcode', [
    (service_selectors('HV-NEW-01'), 'a:DestinationUnreachable'),  # another host's service: no such instance
    (service_selectors('HV-OLD-01', name='vsmigrationservice'), 'a:DestinationUnreachable'),
    ({'CreationClassName': 'Msvm_VirtualSystemMigrationService', 'Name': 'migrationwmi'}, 'w:InvalidSelectors'),  # incomplete
    ({}, 'w:InvalidSelectors'),
])
def test_invoke_with_wrong_selectors(client, hvsim_lab, selectors, subcode):
    with pytest.raises(WSManFaultError) as caught:
        client('HV-OLD-01').invoke('HV-OLD-01', 'GetSystemCompatibilityVectors', ref_xml('ComputerSystem', hvsim_lab.guid('web01')), selectors=selectors)
    assert caught.value.fault_subcode == subcode


def test_unknown_method_and_parameter_are_wmi_faults(client):
    wsman = client('HV-OLD-01')
    with pytest.raises(WSManFaultError) as caught:
        wsman.invoke('HV-OLD-01', 'FlyToTheMoon')
    assert caught.value.wmierror_code == 2147749934
    with pytest.raises(WSManFaultError) as caught:
        wsman.invoke('HV-OLD-01', 'GetSystemCompatibilityVectors', '<p:Bogus>1</p:Bogus>')
    assert caught.value.wmierror_code == 2147749935
    assert wsman.invoke('HV-OLD-01', 'AddNetworkSettings')['ReturnValue'] == 32770
