# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`python -m hvsim` as a separate process: endpoints, an inventory Ansible can read, control, clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from hvsim_tests.wsman_client import Client

TESTS = Path(__file__).resolve().parent.parent
DEMO = TESTS / 'hvsim' / 'labs' / 'demo.yml'


@pytest.fixture(name='cli')
def cli_fixture(tmp_path):
    """Start `python -m hvsim` with args; yields (process, json description); SIGTERM and bounded wait at teardown."""
    processes = []

    def start(*args: str):
        described = tmp_path / f'hvsim-{len(processes)}.json'
        env = dict(os.environ, PYTHONPATH=str(TESTS))
        command = [sys.executable, '-m', 'hvsim', '--lab', str(DEMO), '--json', str(described), *args]
        # The fixture stops it at teardown. pylint: disable-next=consider-using-with
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        processes.append(process)
        deadline = time.monotonic() + 20
        while not described.exists() or not described.read_text(encoding='utf-8').endswith('\n'):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f'hvsim did not start: {process.communicate(timeout=5)[0]}')
            time.sleep(0.05)
        return process, json.loads(described.read_text(encoding='utf-8'))

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=5)


def stop(process) -> str:
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=10)[0]
    assert process.returncode == 0, output
    return output


def test_cli_serves_prints_an_inventory_and_stops_on_sigterm(cli, tmp_path):
    inventory = tmp_path / 'inventory.ini'
    process, described = cli('--https', '--user', 'LAB\\ops', '--password', 'S3cret pass', '--inventory', str(inventory),
                             '--migration-duration', '0.2')
    assert set(described['hosts']) == {'HV-OLD-01', 'HV-OLD-02', 'HV-NEW-01', 'HV-NEW-02'}
    old01 = described['hosts']['HV-OLD-01']
    found, _trips = Client(old01['https'], 'LAB\\ops', 'S3cret pass', 'basic', ca_trust_path=described['ca_file']).enumerate(
        'SELECT * FROM Msvm_ComputerSystem')
    assert len(found) == 3
    with urllib.request.urlopen(old01['control'] + 'counters', timeout=5) as response:
        assert json.loads(response.read())['operations'] == {'Enumerate:Msvm_ComputerSystem': 1}

    # Ansible itself reads the written inventory: backslash and space survive, HTTPS validated with the CA.
    from ansible.inventory.manager import InventoryManager  # pylint: disable=import-outside-toplevel
    from ansible.parsing.dataloader import DataLoader  # pylint: disable=import-outside-toplevel
    manager = InventoryManager(loader=DataLoader(), sources=[str(inventory)])
    host = manager.get_host('HV-OLD-01')
    assert sorted(group.name for group in host.get_groups()) == ['all', 'hyperv']
    variables = host.get_vars()
    assert variables | {} == variables | {
        'ansible_host': '127.0.0.1', 'ansible_port': int(old01['https'].rsplit(':', 1)[1].split('/')[0]),
        'ansible_connection': 'winrm', 'ansible_winrm_scheme': 'https', 'ansible_winrm_transport': 'ntlm',
        'ansible_user': 'LAB\\ops', 'ansible_password': 'S3cret pass', 'ansible_winrm_ca_trust_path': described['ca_file'],
        'ansible_winrm_server_cert_validation': 'validate',
    }

    output = stop(process)
    assert '[hyperv]' in output and 'HV-NEW-02 ansible_host=127.0.0.1' in output and 'hvsim: stopped' in output
    assert not Path(described['ca_file']).exists()  # its temporary state directory is gone


def test_cli_yaml_inventory_over_http(cli):
    process, described = cli('--inventory-format', 'yaml')
    assert described['ca_file'] is None and all(host['https'] is None for host in described['hosts'].values())
    output = stop(process)
    assert 'ansible_winrm_scheme: http' in output and 'hyperv:' in output


def test_cli_rejects_a_bad_lab(tmp_path):
    lab = tmp_path / 'bad.yml'
    lab.write_text('hosts:\n  - name: A\n    colour: blue\n', encoding='utf-8')
    result = subprocess.run([sys.executable, '-m', 'hvsim', '--lab', str(lab)], capture_output=True, text=True, timeout=30,
                            env=dict(os.environ, PYTHONPATH=str(TESTS)), check=False)
    assert result.returncode == 2 and 'hosts[0]: unknown key(s) colour' in result.stderr
