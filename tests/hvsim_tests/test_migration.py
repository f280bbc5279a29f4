# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MigrateVirtualSystemToHost: jobs that progress, move the VM, count against limits, and fail like Hyper-V."""

from __future__ import annotations

import time

import pytest

from hvsim_tests.wsman_client import GET, V2, migrate_params

JOB = V2 + 'Msvm_MigrationJob'
DEADLINE_S = 10.0
SLOW_S = 2.0  # for tests that look at a job while it runs: room for a loaded machine


def poll(wsman, job_id: str) -> list[dict]:
    """Poll the job every 50 ms until it leaves JobState 4 (bounded); returns every observation."""
    seen = []
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        element = wsman.send(GET, JOB, selectors={'InstanceID': job_id})
        job = {child.tag.rsplit('}', 1)[-1]: child.text for child in element}
        seen.append(job)
        if job['JobState'] != '4':
            return seen
        time.sleep(0.05)
    raise AssertionError(f'job {job_id} still running after {DEADLINE_S} s: {seen[-1]}')


def start(client, hvsim_lab, vm: str, source: str, destination: str, **kwargs) -> tuple[object, dict]:
    wsman = client(source)
    result = wsman.invoke(source, 'MigrateVirtualSystemToHost', migrate_params(hvsim_lab.guid(vm, source), destination, **kwargs))
    return wsman, result


def slow(hvsim_lab, host: str) -> None:
    hvsim_lab.lab.host(host).migration.duration_s = SLOW_S  # the per-test reset restores it


def test_job_progresses_and_the_vm_moves_keeping_its_state(client, hvsim_lab):
    slow(hvsim_lab, 'HV-OLD-01')
    wsman, result = start(client, hvsim_lab, 'web01', 'HV-OLD-01', 'HV-NEW-01', addresses=['10.10.2.21'])
    assert result['ReturnValue'] == 4096
    assert hvsim_lab.lab.active_migrations(hvsim_lab.lab.host('HV-OLD-01')) == 1
    assert hvsim_lab.lab.active_migrations(hvsim_lab.lab.host('HV-NEW-01')) == 1
    (service,), _trips = client('HV-NEW-01').enumerate('SELECT * FROM Msvm_VirtualSystemMigrationService')
    assert service['ActiveVirtualSystemMigrationCount'] == '1'
    seen = poll(wsman, result['Job']['InstanceID'])
    percents = [int(job['PercentComplete']) for job in seen]
    assert percents == sorted(percents) and seen[-1]['JobState'] == '7' and percents[-1] == 100
    assert seen[-1]['ErrorCode'] == '0' and seen[-1]['VirtualSystemName'] == hvsim_lab.guid('web01')
    assert hvsim_lab.where('web01') == 'HV-NEW-01' and hvsim_lab.vm_state('web01') == 2
    assert hvsim_lab.lab.active_migrations(hvsim_lab.lab.host('HV-NEW-01')) == 0
    found, _trips = client('HV-NEW-01').enumerate("SELECT * FROM Msvm_ComputerSystem WHERE ElementName = 'web01'")
    assert found[0]['EnabledState'] == '2'
    found, _trips = client('HV-OLD-01').enumerate("SELECT * FROM Msvm_ComputerSystem WHERE ElementName = 'web01'")
    assert found == []


def test_saved_vm_moves_by_destination_address(client, hvsim_lab):
    wsman, result = start(client, hvsim_lab, 'app01', 'HV-NEW-02', '10.10.1.21', migration_type=32771)
    assert poll(wsman, result['Job']['InstanceID'])[-1]['JobState'] == '7'
    guid = hvsim_lab.guid('app01', 'HV-NEW-01')
    assert hvsim_lab.vm_state(guid) == 32769


def test_jobs_finish_without_polling(hvsim_lab, client):
    _wsman, result = start(client, hvsim_lab, 'web01', 'HV-OLD-01', 'HV-NEW-01')
    job = hvsim_lab.wait_for_job(result['Job']['InstanceID'], timeout=DEADLINE_S)
    assert job['state'] == 7 and hvsim_lab.where('web01') == 'HV-NEW-01'


def test_destination_at_its_limit_fails_the_job(client, hvsim_lab):
    hvsim_lab.inject('HV-NEW-01', 'migration_limit')
    wsman, result = start(client, hvsim_lab, 'web01', 'HV-OLD-01', 'HV-NEW-01')
    assert result['ReturnValue'] == 4096
    final = poll(wsman, result['Job']['InstanceID'])[-1]
    assert (final['JobState'], final['ErrorCode']) == ('10', '32768')
    assert 'The migration limit of 2 was reached' in final['ErrorDescription']
    assert final['ErrorSummaryDescription'] == "Virtual machine migration operation for 'web01' failed at migration destination 'HV-NEW-01'."
    assert hvsim_lab.where('web01') == 'HV-OLD-01'


def test_concurrent_migrations_fill_the_slot(client, hvsim_lab):
    # HV-NEW-02 takes one live migration at a time: the second concurrent one fails.
    slow(hvsim_lab, 'HV-OLD-01')
    first = start(client, hvsim_lab, 'web01', 'HV-OLD-01', 'HV-NEW-02')
    second = start(client, hvsim_lab, 'app01', 'HV-OLD-01', 'HV-NEW-02')
    assert poll(*[first[0], first[1]['Job']['InstanceID']])[-1]['JobState'] == '7'
    failed = poll(second[0], second[1]['Job']['InstanceID'])[-1]
    assert failed['JobState'] == '10' and 'migration limit of 1 was reached' in failed['ErrorDescription']


def test_migration_disabled(client, hvsim_lab):
    wsman, result = start(client, hvsim_lab, 'web01', 'HV-OLD-01', 'HV-OLD-02')
    final = poll(wsman, result['Job']['InstanceID'])[-1]
    assert final['JobState'] == '10' and 'not been configured to accept live migrations' in final['ErrorDescription']
    _wsman, result = start(client, hvsim_lab, 'legacy01', 'HV-OLD-02', 'HV-NEW-01')
    assert result == {'ReturnValue': 32775}


def test_incompatible_vm_fails_with_the_reason(client, hvsim_lab):
    wsman, result = start(client, hvsim_lab, 'db01', 'HV-NEW-01', 'HV-OLD-01')
    final = poll(wsman, result['Job']['InstanceID'])[-1]
    assert final['JobState'] == '10' and 'processor-specific features' in final['ErrorDescription']
    assert hvsim_lab.where('db01') == 'HV-NEW-01'


def test_unknown_destination_and_wrong_listener_address(client, hvsim_lab):
    wsman, result = start(client, hvsim_lab, 'web01', 'HV-OLD-01', 'hv99.lab.example')
    assert 'No such host is known' in poll(wsman, result['Job']['InstanceID'])[-1]['ErrorDescription']
    wsman, result = start(client, hvsim_lab, 'web01', 'HV-OLD-01', 'HV-NEW-01', addresses=['10.99.99.99'])
    assert 'migration listeners' in poll(wsman, result['Job']['InstanceID'])[-1]['ErrorDescription']


def test_injected_failure_midway(client, hvsim_lab):
    hvsim_lab.inject('HV-OLD-01', 'migration_fail', percent=40, times=1)
    wsman, result = start(client, hvsim_lab, 'web01', 'HV-OLD-01', 'HV-NEW-01')
    final = poll(wsman, result['Job']['InstanceID'])[-1]
    assert (final['JobState'], final['PercentComplete'], final['ErrorCode']) == ('10', '40', '32768')
    assert hvsim_lab.where('web01') == 'HV-OLD-01'
    assert hvsim_lab.lab.active_migrations(hvsim_lab.lab.host('HV-NEW-01')) == 0
    wsman, result = start(client, hvsim_lab, 'web01', 'HV-OLD-01', 'HV-NEW-01')  # times=1: the next one succeeds
    assert poll(wsman, result['Job']['InstanceID'])[-1]['JobState'] == '7'


@pytest.mark.parametrize('vm, source, destination, kwargs, code', [
    ('web01', 'HV-OLD-01', 'HV-OLD-01', {}, 32773),  # already there
    ('web01', 'HV-OLD-01', '', {}, 32773),
    ('web01', 'HV-OLD-01', 'HV-NEW-01', {'migration_type': 32769}, 32770),  # storage only: not modelled
])
def test_request_level_return_codes(client, hvsim_lab, vm, source, destination, kwargs, code):
    _wsman, result = start(client, hvsim_lab, vm, source, destination, **kwargs)
    assert result == {'ReturnValue': code}


def test_busy_and_invalid_state(client, hvsim_lab):
    slow(hvsim_lab, 'HV-OLD-01')
    _wsman, first = start(client, hvsim_lab, 'web01', 'HV-OLD-01', 'HV-NEW-01')
    assert first['ReturnValue'] == 4096
    assert start(client, hvsim_lab, 'web01', 'HV-OLD-01', 'HV-NEW-02')[1] == {'ReturnValue': 32774}
    hvsim_lab.set_vm_state(hvsim_lab.guid('app01', 'HV-OLD-01'), 32773)  # saving
    assert start(client, hvsim_lab, 'app01', 'HV-OLD-01', 'HV-NEW-02')[1] == {'ReturnValue': 32775}
