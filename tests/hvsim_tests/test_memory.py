# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hvsim's memory (issue 15): the classes in root/cimv2 and root/virtualization/v2, the bookkeeping that follows the
VMs (held by running ones, reserved on a migration's destination from its start, moved when it completes), and the
migration Hyper-V fails for want of memory. Over real sockets, with the tests' own small WS-Man client."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from winrm.exceptions import WSManFaultError

from hvsim.lab import Lab, LabError
from hvsim.pytest_fixtures import fresh
from hvsim.simulator import Simulator
from hvsim_tests.wsman_client import GET, V2, WMI, Client, migrate_params

MEMORY_LAB = Path(__file__).resolve().parents[1] / 'hvsim' / 'labs' / 'memory.yml'
DEMO_LAB = Path(__file__).resolve().parents[1] / 'hvsim' / 'labs' / 'demo.yml'
CIMV2 = WMI + 'root/cimv2/*'
JOB = V2 + 'Msvm_MigrationJob'
KB = 1024
DEADLINE_S = 10.0


@pytest.fixture(scope='module')
def memory_session():
    simulator = Simulator.from_lab(MEMORY_LAB, migration_duration_s=0.3)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def lab(memory_session):  # pylint: disable=redefined-outer-name
    """The memory lab in its initial state for this test."""
    yield from fresh(memory_session)


def connect(sim: Simulator, host: str) -> Client:
    user, password = sim.users[0]
    return Client(sim.hosts[host].http_endpoint, user, password)


def free_mb(sim: Simulator, host: str) -> int:
    (system,), _trips = connect(sim, host).enumerate('SELECT * FROM Win32_OperatingSystem', resource=CIMV2)
    return int(system['FreePhysicalMemory']) // KB


def migrate(sim: Simulator, vm: str, source: str, destination: str) -> str:
    result = connect(sim, source).invoke(source, 'MigrateVirtualSystemToHost', migrate_params(sim.guid(vm, source), destination))
    assert result['ReturnValue'] == 4096, result
    return result['Job']['InstanceID']


def finished(sim: Simulator, source: str, job_id: str) -> dict:
    """The job once it has left JobState 4 (polled by Get, bounded)."""
    wsman = connect(sim, source)
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        element = wsman.send(GET, JOB, selectors={'InstanceID': job_id})
        job = {child.tag.rsplit('}', 1)[-1]: child.text for child in element}
        if job['JobState'] != '4':
            return job
        time.sleep(0.05)
    raise AssertionError(f'job {job_id} still running after {DEADLINE_S} s')


# The classes


def test_the_host_reports_its_memory_and_processors_in_root_cimv2(lab):
    wsman = connect(lab, 'HV-MEM-01')
    (system,), _trips = wsman.enumerate('SELECT * FROM Win32_OperatingSystem', resource=CIMV2)
    assert int(system['TotalVisibleMemorySize']) == 65536 * KB and int(system['FreePhysicalMemory']) == 6144 * KB
    (computer,), _trips = wsman.enumerate('SELECT * FROM Win32_ComputerSystem', resource=CIMV2)
    assert computer['NumberOfLogicalProcessors'] == '56' and int(computer['TotalPhysicalMemory']) == 65536 << 20
    assert computer['Name'] == 'HV-MEM-01'


@pytest.mark.parametrize('query, resource', [
    ('SELECT * FROM Msvm_Memory', CIMV2),               # Hyper-V's classes are not in root/cimv2
    ('SELECT * FROM Win32_OperatingSystem', V2 + '*'),  # nor Windows' in root/virtualization/v2
])
def test_each_namespace_has_its_own_classes(lab, query, resource):
    with pytest.raises(WSManFaultError) as raised:
        connect(lab, 'HV-MEM-01').enumerate(query, resource=resource)
    assert raised.value.wmierror_code == 2147749904  # WBEM_E_INVALID_CLASS


def test_root_cimv2_is_there_without_the_hyperv_role(hvsim_factory):
    sim = hvsim_factory({'hosts': [{'name': 'PLAIN01', 'hyperv_role': False, 'memory': {'total_mb': 8192, 'host_mb': 2048}}]})
    assert free_mb(sim, 'PLAIN01') == 6144


def test_memory_settings_of_vms_checkpoints_and_the_pool_defaults(lab):
    guid = lab.guid('res01b')
    wsman = connect(lab, 'HV-MEM-01')
    every, _trips = wsman.enumerate('SELECT * FROM Msvm_MemorySettingData')
    ids = [item['InstanceID'] for item in every]
    assert len(ids) == 1 + 2 + 2 and any(item.startswith('Microsoft:Definition\\') for item in ids)  # defaults, 2 VMs, 2 checkpoints
    own, _trips = wsman.enumerate(f"SELECT * FROM Msvm_MemorySettingData WHERE InstanceID LIKE 'Microsoft:{guid}%'")
    assert [(item['VirtualQuantity'], item['Reservation'], item['Limit'], item['DynamicMemoryEnabled'], item['AllocationUnits'])
            for item in own] == [('16384', '8192', '32768', 'true', 'byte * 2^20')]
    (processor,), _trips = wsman.enumerate(f"SELECT * FROM Msvm_ProcessorSettingData WHERE InstanceID LIKE 'Microsoft:{guid}%'")
    assert processor['VirtualQuantity'] == '4'


def test_msvm_memory_holds_what_running_vms_have_now(lab):
    found, _trips = connect(lab, 'HV-MEM-02').enumerate('SELECT * FROM Msvm_Memory')
    by_system = {item['SystemName']: int(item['NumberOfBlocks']) * int(item['BlockSize']) >> 20 for item in found}
    assert by_system == {'HV-MEM-02': 65536, lab.guid('res02a'): 40960, lab.guid('res02b'): 14336}  # res02c is off
    (dynamic,), _trips = connect(lab, 'HV-MEM-01').enumerate(f"SELECT * FROM Msvm_Memory WHERE SystemName = '{lab.guid('res01b')}'")
    assert dynamic['NumberOfBlocks'] == '22528'  # Dynamic Memory gave it more than its startup 16384


def test_existing_labs_keep_plenty_of_memory(hvsim_lab):
    lab = hvsim_lab.lab
    assert all(host.memory_mb == 1048576 and host.logical_processors == 64 for host in lab.hosts.values())
    assert all(vm.memory.startup_mb == 2048 and not vm.memory.dynamic and vm.processors == 2 for vm in lab.vms.values())
    assert min(lab.free_mb(host) for host in lab.hosts.values()) > 1000000


# The bookkeeping


def test_starting_and_stopping_a_vm_takes_and_gives_back_its_memory(lab):
    lab.set_vm_state('res03a', 'off')
    assert free_mb(lab, 'HV-MEM-03') == 45056 + 16384
    lab.set_vm_state('res02c', 'running')  # 16 GiB more than HV-MEM-02 has free: the lab overcommits, free stops at 0
    assert free_mb(lab, 'HV-MEM-02') == 0
    lab.set_vm_state('res02c', 'saved')
    assert free_mb(lab, 'HV-MEM-02') == 6144


def test_a_migration_reserves_on_its_destination_from_its_start_and_moves_the_memory_when_it_completes(lab):
    lab.lab.host('HV-MEM-SRC').migration.duration_s = 1.5  # the reset restores it
    job_id = migrate(lab, 'wave07', 'HV-MEM-SRC', 'HV-MEM-04')
    assert free_mb(lab, 'HV-MEM-04') == 61440 - 10240  # reserved while it runs
    assert free_mb(lab, 'HV-MEM-SRC') == 59392  # the VM still holds its memory on its source
    job = finished(lab, 'HV-MEM-SRC', job_id)
    assert (job['JobState'], job['ErrorCode']) == ('7', '0')
    assert lab.where('wave07') == 'HV-MEM-04'
    assert free_mb(lab, 'HV-MEM-04') == 61440 - 10240 and free_mb(lab, 'HV-MEM-SRC') == 59392 + 10240


def test_two_migrations_cannot_both_count_on_the_same_free_memory(hvsim_factory):
    vms = [{'name': name, 'host': 'SRC', 'memory': {'startup_mb': 6144}} for name in ('a', 'b')]
    sim = hvsim_factory({'defaults': {'migration': {'listeners': ['10.0.0.9']}},
                         'hosts': [{'name': 'SRC'}, {'name': 'DST', 'memory': {'total_mb': 12288, 'host_mb': 2048}}],
                         'vms': vms}, migration_duration_s=5.0)
    first = migrate(sim, 'a', 'SRC', 'DST')
    second = finished(sim, 'SRC', migrate(sim, 'b', 'SRC', 'DST'))
    assert (second['JobState'], second['ErrorCode']) == ('10', '32778')  # 10240 free, 6144 of it reserved for a
    assert sim.jobs('SRC')[0]['id'] == first and sim.jobs('SRC')[0]['state'] == 4


# The failure


def test_a_migration_to_a_host_without_room_fails_as_hyperv_fails_it(lab):
    job = finished(lab, 'HV-MEM-SRC', migrate(lab, 'wave01', 'HV-MEM-SRC', 'HV-MEM-01'))
    guid = lab.guid('wave01')
    assert (job['JobState'], job['ErrorCode'], job['PercentComplete']) == ('10', '32778', '0')
    assert job['ErrorSummaryDescription'] == "Virtual machine migration operation for 'wave01' failed at migration destination 'HV-MEM-01'."
    assert job['ErrorDescription'] == (
        f"Virtual machine migration operation for 'wave01' failed at migration destination 'HV-MEM-01'. (Virtual machine ID {guid}) "
        f"Not enough memory in the system to start the virtual machine wave01 with ram size 8192 megabytes. (Virtual machine ID {guid}) "
        f"'wave01' could not initialize memory: Ran out of memory (0x8007000E). (Virtual machine ID {guid})")
    assert lab.where('wave01') == 'HV-MEM-SRC' and free_mb(lab, 'HV-MEM-01') == 6144


def test_the_vm_that_fits_nowhere_fails_on_the_emptiest_host(lab):
    job = finished(lab, 'HV-MEM-SRC', migrate(lab, 'big01', 'HV-MEM-SRC', 'HV-MEM-04'))
    assert job['ErrorCode'] == '32778' and 'with ram size 63488 megabytes' in job['ErrorDescription']


def test_a_vm_that_holds_no_memory_moves_to_a_full_host(lab):
    job = finished(lab, 'HV-MEM-SRC', migrate(lab, 'off01', 'HV-MEM-SRC', 'HV-MEM-01'))
    assert (job['JobState'], job['ErrorCode']) == ('7', '0') and lab.where('off01') == 'HV-MEM-01'
    assert free_mb(lab, 'HV-MEM-01') == 6144


def test_the_wave_fits_spread_and_not_on_the_favourite_hosts(lab):
    """Naive placement sends the wave to HV-MEM-01/02 (the closest processors): every one of those jobs fails. Spread
    over HV-MEM-03/04 (first fit, in turn), every VM lands."""
    lab.lab.host('HV-MEM-SRC').migration.max_vm = 16
    for name in ('HV-MEM-01', 'HV-MEM-02', 'HV-MEM-03', 'HV-MEM-04'):
        lab.lab.host(name).migration.max_vm = 16
    waves = [f'wave0{index}' for index in range(1, 9)]
    naive = [finished(lab, 'HV-MEM-SRC', migrate(lab, vm, 'HV-MEM-SRC', ('HV-MEM-01', 'HV-MEM-02')[index % 2]))
             for index, vm in enumerate(waves)]
    assert {job['ErrorCode'] for job in naive} == {'32778'}
    placed = {}
    for vm in waves:
        destination = next(name for name in ('HV-MEM-03', 'HV-MEM-04') if free_mb(lab, name) - 2048 >= lab.lab.vm(vm).assigned_mb)
        placed[vm] = destination
        assert finished(lab, 'HV-MEM-SRC', migrate(lab, vm, 'HV-MEM-SRC', destination))['ErrorCode'] == '0'
    assert set(placed.values()) == {'HV-MEM-03', 'HV-MEM-04'}
    assert all(lab.where(vm) == placed[vm] for vm in waves)


# The lab keys


@pytest.mark.parametrize('change, message', [
    ({'vms': [{'name': 'v', 'host': 'H', 'memory': {'startup_mb': 4096, 'minimum_mb': 1024}}]},
     r'vms\[0\]\.memory\.minimum_mb: only Dynamic Memory \(dynamic: true\) has a minimum_mb'),
    ({'vms': [{'name': 'v', 'host': 'H', 'memory': {'dynamic': True, 'startup_mb': 1024, 'minimum_mb': 2048}}]},
     r'expected minimum_mb <= startup_mb <= maximum_mb, got 2048 <= 1024 <= 1024'),
    ({'vms': [{'name': 'v', 'host': 'H', 'memory': {'dynamic': True, 'startup_mb': 1024, 'maximum_mb': 2048, 'assigned_mb': 4096}}]},
     r'vms\[0\]\.memory\.assigned_mb: 4096 is outside 1024-2048'),
    ({'vms': [{'name': 'v', 'host': 'H', 'memory': {'size_mb': 1}}]}, r'vms\[0\]\.memory: unknown key\(s\) size_mb'),
    ({'vms': [{'name': 'v', 'host': 'H', 'processors': 0}]}, r'vms\[0\]\.processors: must be >= 1'),
    ({'hosts': [{'name': 'H', 'memory': {'total_mb': 4096, 'host_mb': 8192}}]}, r'hosts\[0\]\.memory\.host_mb: 8192 is more than total_mb 4096'),
    ({'hosts': [{'name': 'H', 'logical_processors': 'many'}]}, r"hosts\[0\]\.logical_processors: expected an integer, got 'many'"),
])
def test_lab_memory_keys_are_checked(change, message):
    definition = {'hosts': [{'name': 'H'}], **change}
    with pytest.raises(LabError, match=message):
        Lab.load(definition)


def test_dynamic_memory_defaults_to_its_startup():
    lab = Lab.load({'hosts': [{'name': 'H'}], 'vms': [{'name': 'v', 'host': 'H', 'memory': {'dynamic': True, 'startup_mb': 1024}}]})
    memory = lab.vm('v').memory
    assert (memory.minimum, memory.maximum, memory.running_mb, lab.vm('v').assigned_mb) == (1024, 1024, 1024, 1024)


def test_the_control_endpoint_shows_each_host_s_free_memory(lab):
    state = lab.lab.snapshot()
    assert {name: host['free_mb'] for name, host in state['hosts'].items()} == {
        'HV-MEM-SRC': 59392, 'HV-MEM-01': 6144, 'HV-MEM-02': 6144, 'HV-MEM-03': 45056, 'HV-MEM-04': 61440}
    assert next(vm for vm in state['vms'] if vm['name'] == 'off01')['assigned_mb'] is None
