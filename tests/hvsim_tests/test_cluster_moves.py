# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MSCluster_ResourceGroup.MoveToNewNodeParams / MoveToNewNode: a real live migration between the nodes, queued
beyond the limits, the refusals with their Win32 codes, failures that return to the source, lost replies, and
Hyper-V's own migration of a clustered VM recorded as a violation."""

from __future__ import annotations

import struct

import pytest
from requests.exceptions import ConnectionError as RequestsConnectionError
from winrm.exceptions import WinRMTransportError, WSManFaultError

from hvsim_tests.cluster_wire import (
    GROUP, FLAGS, call, clusprop, clusprop_entry, move, private_properties, text, vm_resource, wait_until, watch,
)
from hvsim_tests.test_migration import poll
from hvsim_tests.wsman_client import GET, migrate_params

SLOW_S = 2.0
WIN32_FAULT = 2150858752


def slow(sim, *nodes: str) -> None:
    for node in nodes:
        sim.lab.host(node).migration.duration_s = SLOW_S  # the per-test reset restores it


def vm_names(cluster_client, node: str) -> set[str]:
    found, _trips = cluster_client(node).enumerate("SELECT * FROM Msvm_ComputerSystem WHERE Caption = 'Virtual Machine'")
    return {item['ElementName'] for item in found}


def done(sim, group: str) -> dict:
    wait_until(lambda: not sim.cluster_group(group)['moving'])
    return sim.cluster_group(group)


def test_a_move_is_a_live_migration_between_the_nodes(cluster_client, hvsim_cluster):
    slow(hvsim_cluster, 'HVC-N1')
    wsman = cluster_client('HVC-N2')  # any node takes the call for the whole cluster
    output = move(wsman, 'sql01', 'HVC-N2')
    assert output.tag == f'{{{GROUP}}}MoveToNewNodeParams_OUTPUT' and not len(output)  # void: no ReturnValue
    seen = watch(wsman, 'sql01', hvsim_cluster)
    states = [state for state, _owner in seen]
    assert states[0] == '1' and {'2', '3'} <= set(states) and states[-1] == '0'
    running = [int(state) for state in states[:-1]]
    assert running == sorted(running) and '0' not in states[:-1]  # 1 -> 2 -> 3, then 0
    owners = [owner for _state, owner in seen]
    assert set(owners[:-1]) == {'HVC-N1'} and owners[-1] == 'HVC-N2'  # the owner changes at the end
    assert 'sql01' in vm_names(cluster_client, 'HVC-N2') and 'sql01' not in vm_names(cluster_client, 'HVC-N1')
    group = wsman.send(GET, GROUP, selectors={'Name': 'sql01'})
    assert (text(group, 'OwnerNode'), text(group, 'State')) == ('HVC-N2', '0')
    (record,) = hvsim_cluster.cluster_moves()
    assert (record['method'], record['state'], record['via']) == ('MoveToNewNodeParams', 'completed', 'HVC-N2')
    assert record['properties'] == {'Virtual Machine': 4, 'Virtual Machine Configuration': 4}
    assert (record['migration_type'], record['flags'], record['source'], record['destination']) == (4, FLAGS, 'HVC-N1', 'HVC-N2')
    peaks = hvsim_cluster.peak_migrations()
    assert (peaks['HVC-N1'], peaks['HVC-N2'], peaks['HVC-N3']) == (1, 1, 0)
    assert hvsim_cluster.migration_requests() == {} and hvsim_cluster.cluster_violations() == []


def test_moves_beyond_a_nodes_limit_queue_and_nothing_is_refused(cluster_client, hvsim_cluster):
    slow(hvsim_cluster, 'HVC-N1')
    wsman = cluster_client('HVC-N1')
    for group in ('sql01', 'app01', 'file01'):  # HVC-N1 and HVC-N2 allow 2 live migrations each
        move(wsman, group, 'HVC-N2')
    assert [record['state'] for record in hvsim_cluster.cluster_moves()] == ['running', 'running', 'queued']
    queued = hvsim_cluster.cluster_group('file01')
    assert queued['moving'] and queued['migration_state'] == 0 and queued['owner_node'] == 'HVC-N1'
    assert private_properties(vm_resource(wsman, 'file01'))['MigrationState'] == '0'
    for group in ('sql01', 'app01', 'file01'):
        assert done(hvsim_cluster, group)['owner_node'] == 'HVC-N2'
    assert [record['state'] for record in hvsim_cluster.cluster_moves()] == ['completed'] * 3
    peaks = hvsim_cluster.peak_migrations()
    assert (peaks['HVC-N1'], peaks['HVC-N2']) == (2, 2)
    first, _second, third = hvsim_cluster.cluster_moves()
    assert third['started'] >= first['finished']  # it started when a slot freed


def test_a_hyperv_migration_fills_a_slot_the_cluster_waits_for(cluster_client, hvsim_cluster):
    hvsim_cluster.inject('HVC-N2', 'migration_limit')
    move(cluster_client('HVC-N1'), 'app01', 'HVC-N2')
    assert hvsim_cluster.cluster_moves()[0]['state'] == 'queued'
    hvsim_cluster.clear_faults('HVC-N2')
    assert done(hvsim_cluster, 'app01')['owner_node'] == 'HVC-N2'


@pytest.mark.parametrize('group, node, setup, code, message', [
    ('app01', 'NOPE', None, 5042, 'The cluster node was not found.'),
    ('app01', 'HV-SA-01', None, 5042, 'The cluster node was not found.'),  # a host, but not a node of HVC
    ('app01', 'HVC-N2', ('HVC-N2', 'down'), 5050, 'The cluster node is down.'),
    ('app01', 'HVC-N2', ('HVC-N2', 'paused'), 5070, 'The cluster node is paused.'),
    ('file01', 'HVC-N3', None, 5015, 'The operation failed because either the specified cluster node is not the owner of the resource, '
                                     'or the node is not a possible owner of the resource.'),
])
def test_refusals_are_faults_with_the_win32_code(cluster_client, hvsim_cluster, group, node, setup, code, message):
    if setup:
        hvsim_cluster.set_node_state(*setup)
    with pytest.raises(WSManFaultError) as caught:
        move(cluster_client('HVC-N1'), group, node)
    assert caught.value.fault_subcode == 'w:InternalError'
    assert (caught.value.wsman_fault_code, caught.value.wmierror_code) == (WIN32_FAULT, code)
    assert caught.value.reason == message
    (record,) = hvsim_cluster.cluster_moves()
    assert (record['state'], record['refused_code'], record['node_name']) == ('refused', code, node)
    assert hvsim_cluster.cluster_group(group)['owner_node'] == 'HVC-N1' and hvsim_cluster.jobs() == []


def test_a_group_already_moving_is_refused(cluster_client, hvsim_cluster):
    slow(hvsim_cluster, 'HVC-N1')
    wsman = cluster_client('HVC-N3')
    move(wsman, 'app01', 'HVC-N2')
    with pytest.raises(WSManFaultError) as caught:
        move(wsman, 'app01', 'HVC-N3')
    assert caught.value.wmierror_code == 5908
    assert caught.value.reason == 'The group is unable to accept the request since it is moving to another node.'
    assert [record['state'] for record in hvsim_cluster.cluster_moves()] == ['running', 'refused']
    assert done(hvsim_cluster, 'app01')['owner_node'] == 'HVC-N2'


@pytest.mark.parametrize('buffer', [
    b'',  # handled below: an empty buffer is the cluster's default (live), not malformed
    struct.pack('<I', 2) + clusprop_entry('Virtual Machine', 4),  # count says 2, one entry
    clusprop()[:-3],  # truncated endmark
    struct.pack('<I', 1) + clusprop_entry('Virtual Machine', 4, syntax=0x00010003),  # not LIST_VALUE_DWORD
    struct.pack('<I', 1) + clusprop_entry('Memory', 4),  # not a migration property
    clusprop() + b'\0\0\0\0',  # bytes after the list
    clusprop(migration_type=9),  # no such migration type
])
def test_malformed_parameters_are_refused(cluster_client, hvsim_cluster, buffer):
    wsman = cluster_client('HVC-N1')
    if not buffer:
        call(wsman, GROUP, 'app01', 'MoveToNewNodeParams', '<p:NodeName>HVC-N3</p:NodeName><p:Flags>14</p:Flags>')
        assert hvsim_cluster.cluster_moves()[0]['migration_type'] == 4
        return
    with pytest.raises(WSManFaultError) as caught:
        move(wsman, 'app01', 'HVC-N3', buffer=buffer)
    assert (caught.value.wmierror_code, caught.value.reason) == (87, 'The parameter is incorrect.')
    assert hvsim_cluster.cluster_moves()[0]['state'] == 'refused' and hvsim_cluster.jobs() == []


def test_move_to_the_current_owner_succeeds_without_a_migration(cluster_client, hvsim_cluster):
    move(cluster_client('HVC-N2'), 'app02', 'HVC-N2')
    assert hvsim_cluster.cluster_moves()[0]['state'] == 'completed' and hvsim_cluster.jobs() == []


def test_move_to_new_node_moves_live_too(cluster_client, hvsim_cluster):
    call(cluster_client('HVC-N2'), GROUP, 'app02', 'MoveToNewNode', '<p:NodeName>HVC-N3</p:NodeName><p:TimeOut>60</p:TimeOut>')
    assert done(hvsim_cluster, 'app02')['owner_node'] == 'HVC-N3'
    (record,) = hvsim_cluster.cluster_moves()
    assert (record['method'], record['migration_type'], record['properties']) == ('MoveToNewNode', 4, None)


def test_a_failing_move_returns_to_the_source(cluster_client, hvsim_cluster):
    hvsim_cluster.inject('HVC-N2', 'migration_fail', op='Invoke:MoveToNewNodeParams', percent=40, times=1)
    wsman = cluster_client('HVC-N2')
    move(wsman, 'app01', 'HVC-N3')
    seen = watch(wsman, 'app01', hvsim_cluster)
    assert seen[-1] == ('5', 'HVC-N1')
    assert 'app01' in vm_names(cluster_client, 'HVC-N1') and 'app01' not in vm_names(cluster_client, 'HVC-N3')
    assert text(wsman.send(GET, GROUP, selectors={'Name': 'app01'}), 'State') == '0'  # online on its source
    record = hvsim_cluster.cluster_moves()[0]
    assert record['state'] == 'failed' and 'interrupted at 40 percent' in record['error']
    assert hvsim_cluster.jobs()[0]['percent'] == 40
    move(wsman, 'app01', 'HVC-N3')  # the failure is kept until the next migration
    assert hvsim_cluster.cluster_group('app01')['migration_state'] != 5
    group = done(hvsim_cluster, 'app01')
    assert (group['owner_node'], group['migration_state']) == ('HVC-N3', 0)


def test_an_incompatible_node_fails_the_move(cluster_client, hvsim_cluster):
    move(cluster_client('HVC-N1'), 'sql01', 'HVC-N3')  # AVX-512 in use; HVC-N3 is Broadwell
    group = done(hvsim_cluster, 'sql01')
    assert (group['owner_node'], group['host'], group['migration_state']) == ('HVC-N1', 'HVC-N1', 5)
    assert "processor-specific features not supported on physical computer 'HVC-N3'" in hvsim_cluster.cluster_moves()[0]['error']


def test_a_lost_reply_after_the_move_started(cluster_client, hvsim_cluster):
    slow(hvsim_cluster, 'HVC-N1')
    hvsim_cluster.inject('HVC-N1', 'drop', op='Invoke:MoveToNewNodeParams', phase='after', times=1)
    wsman = cluster_client('HVC-N1')
    with pytest.raises((WinRMTransportError, RequestsConnectionError)):
        move(wsman, 'app01', 'HVC-N2')
    assert hvsim_cluster.cluster_moves()[0]['state'] == 'running'  # performed, only the reply was lost
    with pytest.raises(WSManFaultError) as caught:  # a blind retry finds it moving
        move(cluster_client('HVC-N1'), 'app01', 'HVC-N2')
    assert caught.value.wmierror_code == 5908
    assert done(hvsim_cluster, 'app01')['owner_node'] == 'HVC-N2'


def test_hyperv_migration_of_a_clustered_vm_is_recorded(cluster_client, hvsim_cluster):
    wsman = cluster_client('HVC-N2')
    for vm in ('app02', 'tools01'):
        result = wsman.invoke('HVC-N2', 'MigrateVirtualSystemToHost', migrate_params(hvsim_cluster.guid(vm), 'HVC-N3'))
        assert poll(wsman, result['Job']['InstanceID'])[-1]['JobState'] == '7'
    (violation,) = hvsim_cluster.cluster_violations()
    assert (violation['vm'], violation['group'], violation['source'], violation['destination']) == ('app02', 'app02', 'HVC-N2', 'HVC-N3')
    group = hvsim_cluster.cluster_group('app02')
    assert (group['host'], group['owner_node']) == ('HVC-N3', 'HVC-N2')  # the cluster was not told
