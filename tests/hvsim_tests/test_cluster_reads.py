# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""root/MSCluster reads: every node's cluster-wide view, both PrivateProperties encodings, EPR associations,
and the missing namespace on a host that is not a cluster node."""

from __future__ import annotations

import re

import pytest
import yaml
from winrm.exceptions import WSManFaultError

from hvsim.pytest_fixtures import CLUSTER_LAB
from hvsim_tests.cluster_wire import GROUP, MSCLUSTER, NODE, epr, items, private_properties, text, vm_resource
from hvsim_tests.wsman_client import GET, V2, Client

GUID = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
GROUPS = {'sql01': 'HVC-N1', 'app01': 'HVC-N1', 'app02': 'HVC-N2', 'file01': 'HVC-N1', 'batch01': 'HVC-N3'}


def test_cluster_and_nodes(cluster_client):
    wsman = cluster_client('HVC-N2')
    assert [text(item, 'Name') for item in items(wsman, 'SELECT * FROM MSCluster_Cluster')] == ['HVC']
    nodes = {text(item, 'Name'): (text(item, 'State'), text(item, 'NodeDrainStatus')) for item in items(wsman, 'SELECT * FROM MSCluster_Node')}
    assert nodes == {'HVC-N1': ('0', '0'), 'HVC-N2': ('0', '0'), 'HVC-N3': ('0', '0')}


def test_groups_are_vm_roles_on_their_owner_nodes(cluster_client, hvsim_cluster):
    groups = items(cluster_client('HVC-N1'), 'SELECT * FROM MSCluster_ResourceGroup')
    assert {text(item, 'Name'): text(item, 'OwnerNode') for item in groups} == GROUPS  # tools01 and web02 are no roles
    assert {text(item, 'GroupType') for item in groups} == {'111'}
    assert all(GUID.match(text(item, 'Id')) for item in groups)
    states = {text(item, 'Name'): text(item, 'State') for item in groups}
    assert states['sql01'] == '0' and states['batch01'] == '1'  # online; the off VM's role is offline
    (one,) = items(cluster_client('HVC-N3'), "SELECT * FROM MSCluster_ResourceGroup WHERE Name = 'file01'")
    assert text(one, 'OwnerNode') == 'HVC-N1'
    assert hvsim_cluster.cluster_group('file01')['owner_node'] == 'HVC-N1'


def test_every_node_answers_for_the_whole_cluster(cluster_client):
    views = [{text(item, 'Name'): text(item, 'OwnerNode') for item in items(cluster_client(node), 'SELECT * FROM MSCluster_ResourceGroup')}
             for node in ('HVC-N1', 'HVC-N2', 'HVC-N3')]
    assert views == [GROUPS] * 3


def test_vm_resources_carry_vm_id_and_migration_state_as_nested_element(cluster_client, hvsim_cluster):
    wsman = cluster_client('HVC-N2')
    resources = items(wsman, "SELECT * FROM MSCluster_Resource WHERE Type = 'Virtual Machine'")
    assert sorted(text(item, 'Name') for item in resources) == sorted(f'Virtual Machine {vm}' for vm in GROUPS)
    sql = vm_resource(wsman, 'sql01')
    assert (text(sql, 'OwnerGroup'), text(sql, 'OwnerNode'), text(sql, 'State'), text(sql, 'Type')) == ('sql01', 'HVC-N1', '2', 'Virtual Machine')
    element = next(child for child in sql if child.tag.endswith('}PrivateProperties'))
    assert element.get('{http://www.w3.org/2001/XMLSchema-instance}type').endswith(':MSCluster_Property_Type')
    assert {child.tag.split('}')[0][1:] for child in element} == {MSCLUSTER + 'MSCluster_Resource'}
    private = private_properties(sql)
    assert private['VmID'] == hvsim_cluster.guid('sql01').lower() and private['MigrationState'] == '0'
    assert text(vm_resource(wsman, 'batch01'), 'State') == '3'  # offline


def test_every_vm_role_also_has_a_configuration_resource(cluster_client):
    everything = items(cluster_client('HVC-N1'), 'SELECT * FROM MSCluster_Resource')
    kinds = {text(item, 'Name'): text(item, 'Type') for item in everything}
    assert kinds['Virtual Machine Configuration sql01'] == 'Virtual Machine Configuration'
    assert len(kinds) == 2 * len(GROUPS)


def test_private_properties_as_cimxml(hvsim_factory):
    lab = yaml.safe_load(CLUSTER_LAB.read_text(encoding='utf-8'))
    lab['clusters'][0]['private_properties_encoding'] = 'cimxml'
    sim = hvsim_factory(lab)
    user, password = sim.users[0]
    resource = vm_resource(Client(sim.hosts['HVC-N3'].http_endpoint, user, password), 'app02')
    assert not len(next(child for child in resource if child.tag.endswith('}PrivateProperties')))  # text, not elements
    assert private_properties(resource)['VmID'] == sim.guid('app02').lower()
    assert private_properties(resource)['MigrationState'] == '0'


def test_possible_owners_are_eprs_and_default_to_every_node(cluster_client):
    links = items(cluster_client('HVC-N1'), 'SELECT * FROM MSCluster_ResourceToPossibleOwner')
    owners: dict[str, set[str]] = {}
    for link in links:
        resource_class, resource = epr(link, 'GroupComponent')
        node_class, node = epr(link, 'PartComponent')
        assert (resource_class, node_class) == ('MSCluster_Resource', 'MSCluster_Node')
        owners.setdefault(resource, set()).add(node)
    assert owners['Virtual Machine file01'] == {'HVC-N1', 'HVC-N2'}
    assert owners['Virtual Machine sql01'] == {'HVC-N1', 'HVC-N2', 'HVC-N3'}
    assert owners['Virtual Machine Configuration file01'] == {'HVC-N1', 'HVC-N2'}


def test_preferred_owners_are_eprs_in_order_and_absent_when_unset(cluster_client):
    links = items(cluster_client('HVC-N2'), 'SELECT * FROM MSCluster_ResourceGroupToPreferredNode')
    pairs = [(epr(link, 'GroupComponent'), epr(link, 'PartComponent')) for link in links]
    assert pairs == [(('MSCluster_ResourceGroup', 'sql01'), ('MSCluster_Node', 'HVC-N1')),
                     (('MSCluster_ResourceGroup', 'sql01'), ('MSCluster_Node', 'HVC-N2'))]


def test_get_by_key(cluster_client):
    wsman = cluster_client('HVC-N3')
    group = wsman.send(GET, GROUP, selectors={'Name': 'app02'})
    assert text(group, 'OwnerNode') == 'HVC-N2'
    node = wsman.send(GET, NODE, selectors={'Name': 'HVC-N1'})
    assert text(node, 'State') == '0'
    with pytest.raises(WSManFaultError) as caught:
        wsman.send(GET, GROUP, selectors={'Name': 'tools01'})  # not a cluster role
    assert (caught.value.fault_subcode, caught.value.wsman_fault_code) == ('a:DestinationUnreachable', 2150858752)


def test_a_standalone_host_has_no_mscluster_namespace(cluster_client):
    with pytest.raises(WSManFaultError) as caught:
        items(cluster_client('HV-SA-01'), 'SELECT * FROM MSCluster_Cluster')
    assert caught.value.fault_subcode == 'w:InternalError'
    assert (caught.value.wsman_fault_code, caught.value.wmierror_code) == (2150858752, 2147749902)
    found, _trips = cluster_client('HV-SA-01').enumerate("SELECT * FROM Msvm_ComputerSystem WHERE ElementName = 'web02'")
    assert len(found) == 1


def test_classes_stay_in_their_namespace(cluster_client):
    wsman = cluster_client('HVC-N1')
    with pytest.raises(WSManFaultError) as caught:
        items(wsman, 'SELECT * FROM Msvm_ComputerSystem')
    assert caught.value.wmierror_code == 2147749904  # invalid class
    with pytest.raises(WSManFaultError) as caught:
        wsman.enumerate('SELECT * FROM MSCluster_Node', resource=V2 + '*')
    assert caught.value.wmierror_code == 2147749904
    names = {item['ElementName'] for item in wsman.enumerate("SELECT * FROM Msvm_ComputerSystem WHERE Caption = 'Virtual Machine'")[0]}
    assert names == {'sql01', 'app01', 'file01'}  # the node's own VMs in root/virtualization/v2
