# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Enumerate + Pull over WQL, the classes the client relies on, and the enumeration faults."""

from __future__ import annotations

import time

import pytest
from winrm.exceptions import WSManFaultError

from hvsim.wql import escape_literal
from hvsim_tests.wsman_client import NS, PULL, RELEASE, V2, WMI, Client, enumerate_body

VMS = "SELECT * FROM Msvm_ComputerSystem WHERE Caption = 'Virtual Machine'"


def test_pull_until_end_of_sequence_with_small_batches(client, hvsim_lab):
    found, trips = client('HV-NEW-02').enumerate('SELECT * FROM Msvm_ComputerSystem', max_elements=1)
    assert [item['Caption'] for item in found] == ['Hosting Computer System', 'Virtual Machine', 'Virtual Machine']
    assert trips == 3  # the first item rides in the EnumerateResponse, then one Pull per item
    assert hvsim_lab.counters('HV-NEW-02') == {'Enumerate:Msvm_ComputerSystem': 1, 'Pull': 2}


def test_unoptimized_enumeration_returns_only_a_context(client):
    wsman = client('HV-OLD-01')
    response = wsman.send(wsman_enumerate_action(), V2 + '*', enumerate_body(VMS, optimize=False))
    assert response.find('w:Items', NS) is None and response.findtext('n:EnumerationContext', namespaces=NS)
    found, trips = wsman.enumerate(VMS, max_elements=5, optimize=False)
    assert len(found) == 2 and trips == 2


def wsman_enumerate_action() -> str:
    return 'http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate'


def test_computer_system_instances(client, hvsim_lab):
    found, _trips = client('HV-OLD-01').enumerate('SELECT * FROM Msvm_ComputerSystem')
    host, *vms = found
    assert host['Caption'] == 'Hosting Computer System' and host['Name'] == 'HV-OLD-01' and host['Version'] is None
    web01 = next(vm for vm in vms if vm['ElementName'] == 'web01')
    assert web01 == web01 | {'Caption': 'Virtual Machine', 'Name': hvsim_lab.guid('web01'), 'EnabledState': '2',
                             'Version': None, 'CreationClassName': 'Msvm_ComputerSystem', 'OperationalStatus': '2'}
    assert web01['TimeOfLastStateChange'].endswith('Z') and web01['InstallDate']


def test_migration_service_and_settings(client):
    wsman = client('HV-NEW-02')
    (service,), _trips = wsman.enumerate('SELECT * FROM Msvm_VirtualSystemMigrationService')
    assert service | {} == service | {
        'CreationClassName': 'Msvm_VirtualSystemMigrationService', 'Name': 'migrationwmi', 'SystemName': 'HV-NEW-02',
        'SystemCreationClassName': 'Msvm_ComputerSystem', 'ActiveVirtualSystemMigrationCount': '0', 'EnabledState': '2',
        'MigrationServiceListenerIPAddressList': ['10.10.2.22', '10.10.3.22'],
    }
    (settings,), _trips = wsman.enumerate('SELECT * FROM Msvm_VirtualSystemMigrationServiceSettingData')
    assert (settings['EnableVirtualSystemMigration'], settings['MaximumActiveVirtualSystemMigration']) == ('true', '1')
    (disabled,), _trips = client('HV-OLD-02').enumerate('SELECT * FROM Msvm_VirtualSystemMigrationServiceSettingData')
    assert disabled['EnableVirtualSystemMigration'] == 'false'
    (lonely,), _trips = client('HV-OLD-02').enumerate('SELECT * FROM Msvm_VirtualSystemMigrationService')
    assert lonely['MigrationServiceListenerIPAddressList'] is None


def test_settings_and_processor_classes(client, hvsim_lab):
    wsman = client('HV-OLD-02')
    (settings,), _trips = wsman.enumerate('SELECT * FROM Msvm_VirtualSystemSettingData')
    assert (settings['ElementName'], settings['Version']) == ('legacy01', '9.0')
    (processor,), _trips = wsman.enumerate('SELECT * FROM Msvm_ProcessorSettingData WHERE LimitProcessorFeatures = TRUE')
    assert processor['InstanceID'].startswith(f'Microsoft:{hvsim_lab.guid("legacy01")}\\')


@pytest.mark.parametrize('where, names', [
    ("ElementName = 'app01'", ['app01']),
    ("ElementName = 'APP01' AND EnabledState = 2", ['app01']),
    ("ElementName <> 'app01' AND Caption != 'Hosting Computer System'", ['web01']),
    ("(ElementName = 'web01' OR ElementName = 'app01') AND NOT EnabledState = 3", ['app01', 'web01']),
    ("ElementName LIKE 'w%'", ['web01']),
    ("EnabledState = '2' AND Caption = \"Virtual Machine\"", ['app01', 'web01']),
    ("Version IS NULL AND Caption = 'Hosting Computer System'", ['HV-OLD-01']),  # real hosts: no Version here
])
def test_wql_filters(client, where, names):
    found, _trips = client('HV-OLD-01').enumerate(f'SELECT * FROM Msvm_ComputerSystem WHERE {where}')
    assert sorted(item['ElementName'] for item in found) == names


def test_escaped_injection_matches_only_the_literal_name(hvsim_factory):
    evil = "x' OR ElementName LIKE '%"
    sim = hvsim_factory({'hosts': [{'name': 'HV9', 'allow_unencrypted': True}],
                         'vms': [{'name': evil, 'host': 'HV9'}, {'name': 'web01', 'host': 'HV9'}, {'name': 'x', 'host': 'HV9'}]})
    user, password = sim.users[0]
    wsman = Client(sim.hosts['HV9'].http_endpoint, user, password)
    query = f'SELECT * FROM Msvm_ComputerSystem WHERE ElementName = {escape_literal(evil)}'
    assert query.endswith("ElementName = 'x\\' OR ElementName LIKE \\'%'")
    found, _trips = wsman.enumerate(query)
    assert [item['ElementName'] for item in found] == [evil]
    # Unescaped, the same text is a real OR and matches everything: the escaping is what protects.
    found, _trips = wsman.enumerate(f"SELECT * FROM Msvm_ComputerSystem WHERE ElementName = '{evil}'")
    assert len(found) == 4


@pytest.mark.parametrize('query', [
    'SELECT * FROM Msvm_ComputerSystem WHERE',
    'SELECT * FROM Msvm_ComputerSystem WHERE (ElementName = 1',
    "SELECT * FROM Msvm_ComputerSystem WHERE ElementName = 'unterminated",
    'SELECT * Msvm_ComputerSystem',
    "SELECT * FROM Msvm_ComputerSystem WHERE NoSuchProperty = 'x'",
    "DELETE FROM Msvm_ComputerSystem",
])
def test_malformed_query_is_a_wmi_invalid_query_fault(client, query):
    with pytest.raises(WSManFaultError) as caught:
        client('HV-OLD-01').enumerate(query)
    assert caught.value.code == 500
    assert caught.value.fault_subcode == 'w:InternalError'
    assert caught.value.wmierror_code == 2147749911  # 0x80041017


def test_properties_are_checked_against_the_class_even_without_instances(client):
    with pytest.raises(WSManFaultError) as caught:
        client('HV-OLD-01').enumerate("SELECT * FROM Msvm_MigrationJob WHERE Colour = 'blue'")
    assert caught.value.wmierror_code == 2147749911
    with pytest.raises(WSManFaultError):  # DestinationHost belongs to the subclass, not to Msvm_ConcreteJob
        client('HV-OLD-01').enumerate("SELECT * FROM Msvm_ConcreteJob WHERE DestinationHost = 'x'")
    assert client('HV-OLD-01').enumerate("SELECT * FROM Msvm_MigrationJob WHERE DestinationHost = 'x'")[0] == []


def test_unknown_class_is_an_invalid_class_fault(client):
    with pytest.raises(WSManFaultError) as caught:
        client('HV-OLD-01').enumerate('SELECT * FROM Msvm_NoSuchThing')
    assert caught.value.wmierror_code == 2147749904 and caught.value.wsman_fault_code == 2150858752


def test_namespace_missing_without_the_hyperv_role(hvsim_factory):
    sim = hvsim_factory({'hosts': [{'name': 'PLAIN01', 'hyperv_role': False, 'allow_unencrypted': True}]})
    user, password = sim.users[0]
    with pytest.raises(WSManFaultError) as caught:
        Client(sim.hosts['PLAIN01'].http_endpoint, user, password).enumerate('SELECT * FROM Msvm_ComputerSystem')
    assert caught.value.fault_subcode == 'w:InternalError'
    assert (caught.value.wsman_fault_code, caught.value.wmierror_code) == (2150858752, 2147749902)


def test_cluster_namespace_only_on_cluster_hosts(client):
    cluster = WMI + 'root/HyperVCluster/v2/*'
    found, _trips = client('HV-NEW-02').enumerate('SELECT * FROM Msvm_VirtualSystemMigrationService', resource=cluster)
    assert found[0]['SystemName'] == 'HV-NEW-02'
    with pytest.raises(WSManFaultError) as caught:
        client('HV-NEW-01').enumerate('SELECT * FROM Msvm_VirtualSystemMigrationService', resource=cluster)
    assert caught.value.wmierror_code == 2147749902


def test_class_resource_uri_without_filter(client):
    wsman = client('HV-OLD-01')
    response = wsman.send(wsman_enumerate_action(), V2 + 'Msvm_VirtualSystemMigrationService',
                          '<n:Enumerate><w:OptimizeEnumeration/><w:MaxElements>10</w:MaxElements></n:Enumerate>')
    assert response.find('w:EndOfSequence', NS) is not None
    assert len(response.find('w:Items', NS)) == 1


def test_column_list_changes_the_shape_to_xml_fragments(client):
    wsman = client('HV-OLD-01')
    response = wsman.send(wsman_enumerate_action(), V2 + '*', enumerate_body("SELECT Name, ElementName FROM Msvm_ComputerSystem WHERE ElementName = 'web01'"))
    (fragment,) = response.find('w:Items', NS)
    assert fragment.tag == f'{{{NS["w"]}}}XmlFragment'
    assert [child.tag for child in fragment] == ['Name', 'ElementName'] and fragment[1].text == 'web01'


def test_unknown_and_finished_contexts_are_invalid(client):
    wsman = client('HV-OLD-01')
    with pytest.raises(WSManFaultError) as caught:
        wsman.send(PULL, V2 + '*', '<n:Pull><n:EnumerationContext>uuid:nope</n:EnumerationContext></n:Pull>')
    assert caught.value.fault_subcode == 'n:InvalidEnumerationContext'
    assert caught.value.wsman_fault_code == 2150858779
    response = wsman.send(wsman_enumerate_action(), V2 + '*', enumerate_body(VMS, max_elements=10))
    context = response.findtext('n:EnumerationContext', namespaces=NS)
    assert response.find('w:EndOfSequence', NS) is not None
    with pytest.raises(WSManFaultError):  # a finished enumeration's context is gone
        wsman.send(PULL, V2 + '*', f'<n:Pull><n:EnumerationContext>{context}</n:EnumerationContext></n:Pull>')


def test_release_drops_the_context(client):
    wsman = client('HV-OLD-01')
    response = wsman.send(wsman_enumerate_action(), V2 + '*', enumerate_body(VMS, optimize=False))
    context = response.findtext('n:EnumerationContext', namespaces=NS)
    wsman.send(RELEASE, V2 + '*', f'<n:Release><n:EnumerationContext>{context}</n:EnumerationContext></n:Release>')
    with pytest.raises(WSManFaultError):
        wsman.send(PULL, V2 + '*', f'<n:Pull><n:EnumerationContext>{context}</n:EnumerationContext></n:Pull>')


def test_idle_contexts_expire(hvsim_factory):
    sim = hvsim_factory({'hosts': [{'name': 'HV9', 'enumeration_expiry_s': 1.0, 'allow_unencrypted': True}],
                         'vms': [{'name': f'vm{i}', 'host': 'HV9'} for i in range(3)]})
    user, password = sim.users[0]
    wsman = Client(sim.hosts['HV9'].http_endpoint, user, password)
    response = wsman.send(wsman_enumerate_action(), V2 + '*', enumerate_body(VMS, max_elements=1))
    context = response.findtext('n:EnumerationContext', namespaces=NS)
    wsman.send(PULL, V2 + '*', f'<n:Pull><n:EnumerationContext>{context}</n:EnumerationContext><n:MaxElements>1</n:MaxElements></n:Pull>')
    time.sleep(1.4)
    with pytest.raises(WSManFaultError) as caught:
        wsman.send(PULL, V2 + '*', f'<n:Pull><n:EnumerationContext>{context}</n:EnumerationContext></n:Pull>')
    assert caught.value.fault_subcode == 'n:InvalidEnumerationContext'


def test_batches_shrink_to_fit_max_envelope_size(hvsim_factory):
    sim = hvsim_factory({'hosts': [{'name': 'HV9', 'allow_unencrypted': True}],
                         'vms': [{'name': f'vm{i:02d}', 'host': 'HV9'} for i in range(12)]})
    user, password = sim.users[0]
    wsman = Client(sim.hosts['HV9'].http_endpoint, user, password)
    response = wsman.send(wsman_enumerate_action(), V2 + '*', enumerate_body(VMS, max_elements=100), max_envelope=12000)
    assert 1 <= len(response.find('w:Items', NS)) < 12 and response.find('w:EndOfSequence', NS) is None
    with pytest.raises(WSManFaultError) as caught:  # not even one instance fits
        wsman.send(wsman_enumerate_action(), V2 + '*', enumerate_body(VMS), max_envelope=3000)
    assert caught.value.fault_subcode == 'w:EncodingLimit'
