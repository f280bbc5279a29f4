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


RUNNING = 'hvsim: running; stop with Ctrl-C or SIGTERM\n'


def test_ctrl_c_stops_with_one_line_and_the_shells_status(cli):
    process, _described = cli()
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=10)[0]
    assert process.returncode == 130, output  # 128 + SIGINT, as a shell reports a program ended by Ctrl-C
    assert output.split(RUNNING, 1)[1] == 'hvsim: stopped\n', output


def start_dev_hvsim(tmp_path):
    """`./dev hvsim` in a process group of its own, as a terminal runs it in the foreground."""
    described = tmp_path / 'dev-hvsim.json'
    # The test stops it. pylint: disable-next=consider-using-with
    process = subprocess.Popen([str(TESTS.parent / 'dev'), 'hvsim', '--json', str(described)], cwd=TESTS.parent,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    return process, described


def ctrl_c(process) -> str:
    """What a terminal's Ctrl-C does: SIGINT to the whole foreground process group; the output then."""
    os.killpg(process.pid, signal.SIGINT)
    try:
        return process.communicate(timeout=30)[0]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate(timeout=5)


def test_ctrl_c_on_dev_hvsim_is_one_line_not_a_traceback(tmp_path):
    process, described = start_dev_hvsim(tmp_path)
    deadline = time.monotonic() + 60
    while not described.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    output = ctrl_c(process)
    assert RUNNING in output, output
    assert output.split(RUNNING, 1)[1] == 'hvsim: stopped\n', output
    assert process.returncode == 130, output


def hvsim_child(pid: int) -> bool:
    """Whether the process has started `python -m hvsim` (./dev's setup runs other children before)."""
    for child in Path(f'/proc/{pid}/task/{pid}/children').read_text(encoding='ascii').split():
        try:
            if b'\0-m\0hvsim\0' in Path(f'/proc/{child}/cmdline').read_bytes():
                return True
        except OSError:  # ended meanwhile
            continue
    return False


def test_ctrl_c_while_hvsim_imports_under_dev_is_one_line_not_a_traceback(tmp_path):
    """SIGINT the moment ./dev has started hvsim, while Python still imports it (the import takes about a second):
    hvsim starts with SIGINT ignored, ./dev passes the signal on until hvsim's handler takes it."""
    process, _described = start_dev_hvsim(tmp_path)
    deadline = time.monotonic() + 60
    while not hvsim_child(process.pid) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    output = ctrl_c(process)
    assert 'Traceback' not in output and 'KeyboardInterrupt' not in output, output
    assert output.splitlines()[-1:] == ['hvsim: stopped'], output
    assert RUNNING not in output or output.split(RUNNING, 1)[1] == 'hvsim: stopped\n', output
    assert process.returncode == 130, output
