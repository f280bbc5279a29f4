# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MSCluster_Node.Pause (with and without drain) and Resume, nodes that go down, the lab's cluster keys,
reset, and the control endpoint's node call."""

from __future__ import annotations

import json
import urllib.request

import pytest
from requests.exceptions import ConnectionError as RequestsConnectionError
from winrm.exceptions import WinRMTransportError, WSManFaultError

from hvsim.lab import Lab, LabError
from hvsim_tests.cluster_wire import NODE, call, items, move, text, wait_until

CLUSTER = {'clusters': [{'name': 'C1', 'nodes': ['N1', 'N2']}], 'hosts': [{'name': 'N1'}, {'name': 'N2'}, {'name': 'SA'}]}


def node(wsman, name: str) -> tuple[str, str, str]:
    (found,) = items(wsman, f"SELECT * FROM MSCluster_Node WHERE Name = '{name}'")
    return text(found, 'State'), text(found, 'NodeDrainStatus'), text(found, 'NodeDrainTarget')


def owners(sim) -> dict[str, str]:
    return {group: sim.cluster_group(group)['owner_node'] for group in ('sql01', 'app01', 'app02', 'file01', 'batch01')}


def pause(wsman, name: str, drain_type: int, target: str = '') -> None:
    call(wsman, NODE, name, 'Pause', f'<p:DrainType>{drain_type}</p:DrainType><p:TargetNode>{target}</p:TargetNode>')


def test_pause_without_drain_keeps_the_groups_and_resume_brings_the_node_back(cluster_client, hvsim_cluster):
    wsman = cluster_client('HVC-N2')
    pause(wsman, 'HVC-N1', 0)
    assert node(wsman, 'HVC-N1') == ('2', '0', '')
    assert owners(hvsim_cluster)['sql01'] == 'HVC-N1' and hvsim_cluster.cluster_moves() == []
    with pytest.raises(WSManFaultError) as caught:
        move(wsman, 'app02', 'HVC-N1')
    assert caught.value.wmierror_code == 5070
    output = call(wsman, NODE, 'HVC-N1', 'Resume', '<p:FailbackType>0</p:FailbackType>')
    assert not len(output)  # void
    assert node(wsman, 'HVC-N1')[0] == '0' and hvsim_cluster.node_state('HVC-N1')['state'] == 'up'
    with pytest.raises(WSManFaultError) as caught:
        call(wsman, NODE, 'HVC-N1', 'Resume', '<p:FailbackType>0</p:FailbackType>')
    assert (caught.value.wmierror_code, caught.value.reason) == (5058, 'The cluster node is not paused.')


def test_drain_moves_every_group_to_nodes_that_may_take_it(cluster_client, hvsim_cluster):
    wsman = cluster_client('HVC-N2')
    pause(wsman, 'HVC-N1', 1)
    assert node(wsman, 'HVC-N1')[:2] == ('2', '1')
    drains = hvsim_cluster.cluster_moves()
    assert sorted(move['group'] for move in drains) == ['app01', 'file01', 'sql01'] and {move['method'] for move in drains} == {'drain'}
    assert [move['state'] for move in drains].count('running') == 2  # HVC-N1 allows 2 live migrations at once
    wait_until(lambda: hvsim_cluster.node_state('HVC-N1')['drain_status'] != 1)
    assert node(wsman, 'HVC-N1') == ('2', '2', '')
    found = owners(hvsim_cluster)
    assert found['sql01'] == 'HVC-N2'  # its preferred owner after HVC-N1 (and the only other node its processor fits)
    assert found['file01'] == 'HVC-N2'  # possible owners HVC-N1 and HVC-N2 only
    assert found['app01'] in ('HVC-N2', 'HVC-N3')
    assert 'HVC-N1' not in found.values()
    assert hvsim_cluster.peak_migrations()['HVC-N1'] == 2


def test_drain_to_a_target_fails_for_groups_that_cannot_go_there(cluster_client, hvsim_cluster):
    wsman = cluster_client('HVC-N3')
    pause(wsman, 'HVC-N1', 2, 'HVC-N3')
    assert node(wsman, 'HVC-N1')[2] == 'HVC-N3'
    wait_until(lambda: hvsim_cluster.node_state('HVC-N1')['drain_status'] != 1)
    assert node(wsman, 'HVC-N1') == ('2', '3', 'HVC-N3')  # failed: a group could not move, it stays
    found = owners(hvsim_cluster)
    assert (found['app01'], found['sql01'], found['file01']) == ('HVC-N3', 'HVC-N1', 'HVC-N1')
    states = {move['group']: move['state'] for move in hvsim_cluster.cluster_moves()}
    assert states == {'app01': 'completed', 'sql01': 'failed', 'file01': 'failed'}  # AVX-512 on Broadwell; not a possible owner
    assert hvsim_cluster.cluster_group('sql01')['migration_state'] == 5
    with pytest.raises(WSManFaultError) as caught:  # a drain is over, a new one may start; one in progress may not
        pause(wsman, 'HVC-N2', 1)
        pause(wsman, 'HVC-N2', 1)
    assert caught.value.wmierror_code == 5962


@pytest.mark.parametrize('drain_type, target, setup, code', [
    (1, 'HVC-N3', ('HVC-N3', 'down'), 5005),  # the drain target must be up
    (1, 'HVC-N3', ('HVC-N3', 'paused'), 5005),
    (1, 'HV-SA-01', None, 5042),
    (7, '', None, 87),
])
def test_pause_refusals(cluster_client, hvsim_cluster, drain_type, target, setup, code):
    if setup:
        hvsim_cluster.set_node_state(*setup)
    with pytest.raises(WSManFaultError) as caught:
        pause(cluster_client('HVC-N2'), 'HVC-N1', drain_type, target)
    assert (caught.value.wsman_fault_code, caught.value.wmierror_code) == (2150858752, code)
    assert hvsim_cluster.node_state('HVC-N1')['state'] == 'up' and hvsim_cluster.cluster_moves() == []


def test_a_node_that_is_down_answers_nothing(cluster_client, hvsim_cluster):
    wsman = cluster_client('HVC-N3')
    assert node(wsman, 'HVC-N3')[0] == '0'  # a keep-alive connection is open now
    hvsim_cluster.set_node_state('HVC-N3', 'down')
    for client in (wsman, cluster_client('HVC-N3')):
        with pytest.raises((WinRMTransportError, RequestsConnectionError)):
            items(client, 'SELECT * FROM MSCluster_Node')
    assert node(cluster_client('HVC-N1'), 'HVC-N3')[0] == '1'  # the others see it down
    with pytest.raises(WSManFaultError) as caught:
        pause(cluster_client('HVC-N1'), 'HVC-N3', 0)
    assert caught.value.wmierror_code == 5050
    hvsim_cluster.set_node_state('HVC-N3', 'up')
    assert node(cluster_client('HVC-N3'), 'HVC-N3')[0] == '0'


def test_control_endpoint_sets_a_node_state(hvsim_cluster):
    request = urllib.request.Request(hvsim_cluster.hosts['HVC-N1'].control_url + 'nodes/HVC-N2', method='POST',
                                     data=json.dumps({'state': 'paused'}).encode())
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.loads(response.read()) == {'node': 'HVC-N2', 'state': 'paused'}
    assert hvsim_cluster.node_state('HVC-N2')['state'] == 'paused'


def test_reset_restores_nodes_groups_and_records(cluster_client, hvsim_cluster):
    pause(cluster_client('HVC-N2'), 'HVC-N1', 1)
    hvsim_cluster.set_node_state('HVC-N3', 'down')
    wait_until(lambda: hvsim_cluster.node_state('HVC-N1')['drain_status'] != 1)
    hvsim_cluster.reset()
    assert owners(hvsim_cluster) == {'sql01': 'HVC-N1', 'app01': 'HVC-N1', 'app02': 'HVC-N2', 'file01': 'HVC-N1', 'batch01': 'HVC-N3'}
    assert {name: hvsim_cluster.node_state(name)['state'] for name in ('HVC-N1', 'HVC-N2', 'HVC-N3')} == dict.fromkeys(('HVC-N1', 'HVC-N2', 'HVC-N3'), 'up')
    assert hvsim_cluster.cluster_moves() == [] and hvsim_cluster.jobs() == []
    assert hvsim_cluster.where('sql01') == 'HVC-N1'


def test_describe_names_the_clusters(hvsim_cluster):
    described = hvsim_cluster.describe()
    assert described['clusters'] == {'HVC': ['HVC-N1', 'HVC-N2', 'HVC-N3']}
    assert described['hosts']['HVC-N2']['cluster'] == 'HVC' and described['hosts']['HV-SA-01']['cluster'] is None


@pytest.mark.parametrize('change, where', [
    ({'clusters': [{'name': 'C1', 'nodes': ['N1', 'N9']}]}, 'clusters[0].nodes'),  # not a host
    ({'clusters': [{'name': 'C1', 'nodes': ['N1']}, {'name': 'C2', 'nodes': ['N1']}]}, 'clusters[1].nodes'),  # in two clusters
    ({'clusters': [{'name': 'C1', 'nodes': ['N1'], 'quorum': 'disk'}]}, 'clusters[0]: unknown key(s) quorum'),
    ({'clusters': [{'name': 'C1', 'nodes': ['N1'], 'private_properties_encoding': 'json'}]}, 'clusters[0].private_properties_encoding'),
    ({'clusters': [{'name': 'C1', 'nodes': []}]}, 'clusters[0].nodes'),
    ({'vms': [{'name': 'v', 'host': 'SA', 'clustered': True}]}, 'vms[0].clustered'),  # its host is in no cluster
    ({'vms': [{'name': 'v', 'host': 'N1', 'clustered': True, 'possible_owners': ['N1', 'SA']}]}, 'vms[0].possible_owners'),
    ({'vms': [{'name': 'v', 'host': 'N1', 'clustered': True, 'possible_owners': ['N2']}]}, 'vms[0].possible_owners'),  # not its host
    ({'vms': [{'name': 'v', 'host': 'N1', 'clustered': True, 'preferred_owners': ['SA']}]}, 'vms[0].preferred_owners'),
    ({'vms': [{'name': 'v', 'host': 'N1', 'group': 'g'}]}, 'vms[0].group'),  # only a clustered VM has one
    ({'vms': [{'name': 'v', 'host': 'N1', 'clustered': True}, {'name': 'w', 'host': 'N2', 'clustered': True, 'group': 'V'}]}, 'vms[1].group'),
    ({'hosts': [{'name': 'N1', 'cluster_state': 'sleeping'}, {'name': 'N2'}, {'name': 'SA'}]}, 'hosts[0].cluster_state'),
    ({'hosts': [{'name': 'N1'}, {'name': 'N2'}, {'name': 'SA', 'cluster_state': 'paused'}]}, 'hosts[2].cluster_state'),
])
def test_lab_errors_name_the_key(change, where):
    with pytest.raises(LabError) as caught:
        Lab.load({**CLUSTER, **change})
    assert str(caught.value).startswith(where)


def test_lab_cluster_keys_load(hvsim_cluster):
    lab = Lab.load({**CLUSTER, 'hosts': [{'name': 'N1', 'cluster_state': 'paused'}, {'name': 'N2'}, {'name': 'SA'}],
                    'vms': [{'name': 'v', 'host': 'N2', 'clustered': True, 'group': 'role-v', 'possible_owners': ['n1', 'N2'],
                             'preferred_owners': ['N2']}]})
    vm = lab.vm('v')
    assert (vm.group, vm.possible_owners, vm.preferred_owners, vm.owner_node) == ('role-v', ['N1', 'N2'], ['N2'], 'N2')
    assert lab.hosts['N1'].cluster_state == 'paused' and lab.hosts['SA'].cluster_name is None
    assert 'root/MSCluster' in lab.hosts['N1'].namespaces and 'root/MSCluster' not in lab.hosts['SA'].namespaces
    assert hvsim_cluster.lab.hosts['HV-SA-01'].namespaces == ['root/virtualization/v2']
