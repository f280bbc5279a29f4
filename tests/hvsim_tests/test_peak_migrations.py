# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Simulator.peak_migrations and migration_requests: what load tests assert on (limits held, nothing sent twice)."""

from __future__ import annotations

from hvsim_tests.test_migration import poll, slow, start


def test_overlapping_jobs_count_on_both_hosts_and_refusals_do_not(client, hvsim_lab):
    assert hvsim_lab.peak_migrations() == dict.fromkeys(hvsim_lab.hosts, 0)
    slow(hvsim_lab, 'HV-OLD-01')
    first, result = start(client, hvsim_lab, 'web01', 'HV-OLD-01', 'HV-NEW-01')
    _second, other = start(client, hvsim_lab, 'app01', 'HV-OLD-01', 'HV-NEW-01')
    assert hvsim_lab.peak_migrations()['HV-OLD-01'] == 2  # both running now
    # Both hosts are at their limit of 2: a third request is refused, and never ran
    third, refused = start(client, hvsim_lab, 'db01', 'HV-NEW-01', 'HV-OLD-01')
    assert 'migration limit of 2 was reached' in poll(third, refused['Job']['InstanceID'])[-1]['ErrorDescription']
    for job in (result, other):
        assert poll(first, job['Job']['InstanceID'])[-1]['JobState'] == '7'
    assert hvsim_lab.peak_migrations() == {'HV-OLD-01': 2, 'HV-OLD-02': 0, 'HV-NEW-01': 2, 'HV-NEW-02': 0}
    requests = hvsim_lab.migration_requests()
    assert [job['state'] for job in requests[hvsim_lab.guid('db01')]] == [10]
    assert [job['state'] for job in requests[hvsim_lab.guid('web01')]] == [7]


def test_one_job_after_another_is_a_peak_of_one(client, hvsim_lab):
    wsman, result = start(client, hvsim_lab, 'web01', 'HV-OLD-01', 'HV-NEW-01')
    poll(wsman, result['Job']['InstanceID'])
    wsman, result = start(client, hvsim_lab, 'web01', 'HV-NEW-01', 'HV-NEW-02')
    poll(wsman, result['Job']['InstanceID'])
    assert hvsim_lab.peak_migrations() == {'HV-OLD-01': 1, 'HV-OLD-02': 0, 'HV-NEW-01': 1, 'HV-NEW-02': 1}
    assert [job['destination'] for job in hvsim_lab.migration_requests()[hvsim_lab.guid('web01')]] == ['HV-NEW-01', 'HV-NEW-02']
