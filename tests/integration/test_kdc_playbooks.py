# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/migrate.yml over Kerberos against the demo lab and a real MIT KDC: with a ticket from kinit, with
ansible_user/ansible_password (delegation off and on), on the psrp connection's settings, and as AWX runs it
with a machine credential. Neither the password nor the ticket shows in any output, event or file."""

from __future__ import annotations

import json
import os
import sys

import ansible_runner
import pytest
import yaml

from integration.test_awx_runner import ROOT, SSH_PASSWORD_PROMPT, Job, survey_extra_vars
from integration.test_migrate_playbook import PLAYBOOK, recap_totals
from kdc import ticket_forms

FQDN = {'HV-OLD-01': 'hv-old-01.lab.example', 'HV-OLD-02': 'hv-old-02.lab.example',
        'HV-NEW-01': 'hv-new-01.lab.example', 'HV-NEW-02': 'hv-new-02.lab.example'}


def winrm_host(handle, user: str | None, password: str | None, delegation: bool = False) -> dict:
    """A host reached over HTTP (WinRM message encryption) with Kerberos, by its SPN's name."""
    variables = {
        'ansible_host': 'localhost', 'ansible_port': handle.http_port, 'ansible_connection': 'winrm',
        'ansible_winrm_scheme': 'http', 'ansible_winrm_transport': 'kerberos',
        # hvsim listens on loopback: the SPN is the host's FQDN, as it would be in DNS
        'ansible_winrm_kerberos_hostname_override': FQDN[handle.name],
        'ansible_winrm_kerberos_delegation': delegation,
    }
    if user:
        variables['ansible_user'] = user
    if password:
        variables['ansible_password'] = password
    return variables


def psrp_host(handle, user: str, password: str) -> dict:
    """The same over the psrp connection's Kerberos settings."""
    return {
        'ansible_host': 'localhost', 'ansible_port': handle.http_port, 'ansible_connection': 'psrp',
        'ansible_psrp_protocol': 'http', 'ansible_psrp_auth': 'kerberos', 'ansible_psrp_negotiate_delegate': True,
        'ansible_psrp_negotiate_hostname_override': FQDN[handle.name],
        'ansible_user': user, 'ansible_password': password,
    }


def write_inventory(path, hosts: dict) -> str:
    path.write_text(yaml.safe_dump({'all': {'children': {'hyperv': {'hosts': hosts}}}}))
    return str(path)


def assert_secrets_nowhere(texts: list[str], secrets: list[bytes], paths=()) -> None:
    """No secret (password, ticket forms) in these texts nor in any file under these paths."""
    for secret in secrets:
        assert not any(secret in text.encode() for text in texts)
        for root in paths:
            leaked = [str(path) for path in root.rglob('*') if path.is_file() and secret in path.read_bytes()]
            assert leaked == []


@pytest.fixture
def migrate(run_playbook, tmp_path, monkeypatch):
    """migrate(hosts, *args) -> (CompletedProcess, recap totals)."""
    monkeypatch.setenv('ANSIBLE_SHOW_CUSTOM_STATS', '1')

    def run(hosts: dict, *args: str):
        inventory = write_inventory(tmp_path / 'hosts.yml', hosts)
        result = run_playbook(PLAYBOOK, '-i', inventory, '-e', 'limit_poll=0.2', *args)
        return result, recap_totals(result.stdout)

    return run


def test_kdc_migrate_blocked_and_moved_with_a_ticket_from_kinit(kdc_lab, kdc, migrate, tmp_path):
    kdc.kinit()
    hosts = {name: winrm_host(handle, kdc.user, None) for name, handle in kdc_lab.hosts.items()}
    blocked, _recap = migrate(hosts, '-e', 'vm=db01', '-e', 'destination=HV-OLD-01')
    assert blocked.returncode == 2 and 'BLOCKED: db01 may not move from HV-NEW-01 to HV-OLD-01' in blocked.stdout, \
        (kdc_lab.kerberos.refusals, blocked.stdout[-3000:])
    moved, recap = migrate(hosts, '-e', 'vm=web01', '-e', 'destination=HV-NEW-01')
    assert moved.returncode == 0, moved.stdout[-3000:]
    assert recap['changed'] == 1 and 'web01: MOVED from HV-OLD-01 to HV-NEW-01' in moved.stdout
    assert kdc_lab.where('web01') == 'HV-NEW-01'
    assert {login.principal for login in kdc_lab.kerberos.logins} == {kdc.user}
    assert {login.host for login in kdc_lab.kerberos.logins} >= {'HV-OLD-01', 'HV-NEW-01'}
    tickets = ticket_forms(kdc.ccache)
    assert len(tickets) >= 2 * 5  # the TGT and at least one service ticket
    assert_secrets_nowhere([blocked.stdout, moved.stdout], tickets, [tmp_path])


@pytest.mark.parametrize('delegation', [False, True], ids=['delegation-off', 'delegation-on'])
def test_kdc_migrate_moves_with_user_and_password(kdc_lab, kdc, migrate, tmp_path, delegation):
    hosts = {name: winrm_host(handle, kdc.user, kdc.password, delegation) for name, handle in kdc_lab.hosts.items()}
    result, recap = migrate(hosts, '-e', 'vm=web01', '-e', 'destination=HV-NEW-01')
    assert result.returncode == 0, (kdc_lab.kerberos.refusals, result.stdout[-3000:])  # hvsim's reasons for a 401
    assert recap['changed'] == 1 and kdc_lab.where('web01') == 'HV-NEW-01'
    assert {(login.principal, login.delegated) for login in kdc_lab.kerberos.logins} == {(kdc.user, delegation)}
    assert not kdc.ccache.exists()  # the ticket stayed in the worker's memory
    (tmp_path / 'hosts.yml').unlink()  # the inventory holds the password, by the test's own choice
    assert_secrets_nowhere([result.stdout], [kdc.password.encode()], [tmp_path])


def test_kdc_migrate_on_the_psrp_connection_settings(kdc_lab, kdc, migrate):
    hosts = {name: psrp_host(handle, kdc.user, kdc.password) for name, handle in kdc_lab.hosts.items()}
    result, _recap = migrate(hosts, '-e', 'vm=web01', '-e', 'destination=HV-NEW-01', '-e', 'mode=gate')
    assert result.returncode == 0, result.stdout[-3000:]
    assert 'web01: ALLOWED from HV-OLD-01 to HV-NEW-01' in result.stdout
    assert {(login.principal, login.delegated) for login in kdc_lab.kerberos.logins} == {(kdc.user, True)}
    assert kdc.password not in result.stdout


def test_kdc_awx_machine_credential_blocked_and_moved(kdc_lab, kdc, tmp_path):
    """AWX: -u USER@REALM --ask-pass, the password answered at the prompt; the inventory holds no credential."""
    hosts = {name: winrm_host(handle, None, None, delegation=True) for name, handle in kdc_lab.hosts.items()}
    jobs = []
    for number, answers in enumerate(({'vms': 'db01', 'destination': 'HV-OLD-01'}, {'vms': 'web01'}), 1):
        private_data_dir = tmp_path / f'job{number}'
        (private_data_dir / 'inventory').mkdir(parents=True)
        write_inventory(private_data_dir / 'inventory' / 'hosts.yml', hosts)
        runner = ansible_runner.run(
            private_data_dir=str(private_data_dir), project_dir=str(ROOT), playbook='playbooks/migrate.yml',
            cmdline=ansible_runner.utils.args2cmdline('-u', kdc.user, '--ask-pass'),
            passwords={SSH_PASSWORD_PROMPT: kdc.password},
            extravars={'ansible_python_interpreter': sys.executable, 'limit_poll': 0.2, **survey_extra_vars(answers)},
            envvars={'ANSIBLE_NOCOLOR': '1'}, suppress_env_files=True, quiet=True, timeout=300,
        )
        jobs.append(Job(runner, private_data_dir))
    blocked, moved = jobs
    assert (blocked.status, blocked.rc) == ('failed', 2), blocked.stdout[-3000:]
    assert blocked.artifacts['migration_gate_decisions']['db01']['verdict'] == 'blocked'
    assert (moved.status, moved.rc) == ('successful', 0), moved.stdout[-3000:]
    assert moved.artifacts['migration_gate_decisions']['web01']['moved'] is True
    assert kdc_lab.where('web01') == 'HV-NEW-01'
    assert {(login.principal, login.delegated) for login in kdc_lab.kerberos.logins} == {(kdc.user, True)}
    for job in jobs:
        assert job.command[1:4] == ['-u', kdc.user, '--ask-pass']
        assert_secrets_nowhere([job.stdout, json.dumps(job.events)], [kdc.password.encode()], [job.private_data_dir])
    assert not kdc.ccache.exists() and os.environ['KRB5CCNAME'] == f'FILE:{kdc.ccache}'
