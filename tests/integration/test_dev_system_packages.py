"""System packages on a user's machine (issue 13): `./dev setup` and `./dev test` install Debian packages only with
--system, `./dev demo` never; without them each set of tests that needs them is skipped, said in one line; a held
dpkg lock and a failing apt-get are one line each, never apt's output or a traceback."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import checks  # tools/, put on sys.path by tests/conftest.py

DEV = Path(checks.ROOT) / 'dev'


@pytest.fixture(name='dev')
def dev_fixture(monkeypatch):
    """The ./dev script as a module, with checks.setup and the commands recorded instead of run."""
    saved = signal.getsignal(signal.SIGINT)
    loader = importlib.machinery.SourceFileLoader('dev_script', str(DEV))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader('dev_script', loader))
    try:
        loader.exec_module(module)
    finally:
        signal.signal(signal.SIGINT, saved)  # ./dev sets SIGINT's handler when it starts
    calls = []
    monkeypatch.setattr(module.checks, 'setup', lambda **kwargs: calls.append(('setup', kwargs)))
    for name in module.COMMANDS:
        monkeypatch.setitem(module.COMMANDS, name, lambda args, name=name: calls.append((name, list(args))) or 0)

    def run(*argv: str) -> list:
        calls.clear()
        monkeypatch.setattr(sys, 'argv', ['./dev', *argv])
        try:
            assert module.main() == 0
        finally:
            signal.signal(signal.SIGINT, saved)
        return list(calls)

    return run


@pytest.mark.parametrize('argv, system, args', [
    (['setup'], False, []),
    (['setup', '--system'], True, []),
    (['test'], False, []),
    (['test', '--system', '-k', 'kdc'], True, ['-k', 'kdc']),
    (['demo'], False, []),
    (['demo', '--system'], False, ['--system']),  # the demo never installs; the word goes to ansible-playbook
    (['hvsim'], False, []),
    (['lint'], False, []),
])
def test_system_packages_are_installed_only_when_asked(dev, argv, system, args):
    setup, command = dev(*argv)
    assert setup == ('setup', {'other_cores': argv[0] in ('setup', 'test'), 'system': system})
    assert command == (argv[0], args)


@pytest.fixture(name='missing')
def missing_fixture(monkeypatch):
    """Every system package set missing, and apt_install recorded instead of run."""
    sets = [(tests, packages, True) for tests, packages, _missing in checks.system_package_sets()]
    monkeypatch.setattr(checks, 'system_package_sets', lambda: sets)
    installed = []
    monkeypatch.setattr(checks, 'apt_install', lambda packages, **_kwargs: installed.append(tuple(packages)) or True)
    for step in ('setup_core', 'link_collection', 'install_get_pip', 'install_kerberos_requirements'):
        monkeypatch.setattr(checks, step, lambda *args, **kwargs: None)
    return installed


def test_without_system_nothing_is_installed_and_each_skip_is_one_line(missing, capsys):
    checks.setup(other_cores=True, system=False)
    assert missing == []
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3, lines
    assert lines[0].startswith("Skipped: the fleet report's rendering test") and 'without chromium' in lines[0]
    assert lines[1].startswith('Skipped: the Kerberos tests (pytest -k kdc), without krb5-kdc')
    assert lines[2].startswith('Skipped: the Kerberos clock tests') and 'without faketime' in lines[2]
    assert all('./dev setup --system installs them' in line for line in lines)


def test_commands_other_than_setup_and_test_say_nothing_of_the_tests(missing, capsys):
    checks.setup(other_cores=False, system=False)
    assert missing == [] and capsys.readouterr().out == ''


def test_with_system_each_missing_set_is_installed(missing):
    checks.setup(other_cores=True, system=True)
    assert missing == [checks.CHROMIUM_APT, checks.KERBEROS_APT, checks.FAKETIME_APT]


@pytest.fixture(name='apt')
def apt_fixture(monkeypatch, tmp_path):
    """A fake apt-get (a script: exit code and output given), root, and apt's locks in tmp_path."""
    locks = tuple(tmp_path / name for name in ('lock-frontend', 'lock'))
    for lock in locks:
        lock.write_text('')
    monkeypatch.setattr(checks, 'APT_LOCKS', locks)
    monkeypatch.setattr(checks, 'APT_LOG', tmp_path / 'apt-get.log')
    monkeypatch.setattr(checks.os, 'geteuid', lambda: 0)
    calls = tmp_path / 'calls'

    def fake(code: int = 0, output: str = '') -> Path:
        script = tmp_path / 'apt-get'
        script.write_text(f'#!/bin/sh\necho "$@" >> {calls}\ncat <<"EOF"\n{output}\nEOF\nexit {code}\n')
        script.chmod(0o755)
        monkeypatch.setattr(checks.shutil, 'which', lambda name, **_kwargs: str(script) if name == 'apt-get' else None)
        return calls

    fake.locks = locks
    return fake


def hold(lock: Path, seconds: float) -> subprocess.Popen:
    """Another process holding lock (fcntl, as dpkg does) for seconds; returns once it holds it."""
    code = textwrap.dedent(f'''
        import fcntl, os, sys, time
        handle = os.open({str(lock)!r}, os.O_RDWR)
        fcntl.lockf(handle, fcntl.LOCK_EX)
        print('held', flush=True)
        time.sleep({seconds})
    ''')
    # The test waits for it. pylint: disable-next=consider-using-with
    process = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == 'held\n'
    return process


def test_a_held_dpkg_lock_is_one_line_and_apt_is_not_run(apt, capsys):
    calls = apt()
    holder = hold(apt.locks[0], 30)
    try:
        assert checks.apt_install(['chromium'], wait_s=0.5) is False
    finally:
        holder.kill()
        holder.wait()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f'{apt.locks[0]} is held by another process (apt, dpkg or unattended-upgrades): waiting '
                               'up to 0.5 s ... still held, not waiting longer: chromium not installed'), lines
    assert not calls.exists()  # apt-get was never started, so it printed nothing


def test_a_lock_freed_within_the_bound_is_waited_for_in_one_line(apt, capsys):
    calls = apt()
    holder = hold(apt.locks[1], 0.5)
    try:
        assert checks.apt_install(['faketime'], wait_s=20) is True
    finally:
        holder.wait()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f'{apt.locks[1]} is held') and lines[0].endswith(' s.'), lines
    assert 'free after' in lines[0]
    assert calls.read_text().split()[:2] == ['install', '-y'] and 'DPkg::Lock::Timeout=20' in calls.read_text()


def test_a_failing_apt_get_is_one_line_its_output_kept_in_a_log(apt, capsys):
    alarming = ('Reading package lists...\nW: Some index files failed to download. They have been ignored.\n'
                'E: Unable to locate package chromium')
    calls = apt(100, alarming)
    assert checks.apt_install(['chromium']) is False
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f'Not installed: chromium (apt-get failed: E: Unable to locate package chromium; its output is in '
                     f'{checks.APT_LOG}).'], lines
    assert [line.split()[0] for line in calls.read_text().splitlines()] == ['install', 'update', 'install']
    assert 'W: Some index files' in checks.APT_LOG.read_text()


def test_without_root_apt_is_not_run_and_it_is_one_line(apt, monkeypatch, capsys):
    calls = apt()
    monkeypatch.setattr(checks.os, 'geteuid', lambda: 1000)
    assert checks.apt_install(checks.KERBEROS_APT) is False
    assert capsys.readouterr().out == ('Not installed: krb5-kdc krb5-admin-server krb5-user libkrb5-dev (apt-get as root '
                                       'is needed; install them with your package manager).\n')
    assert not calls.exists()


def test_ci_runs_exactly_the_readme_test_command():
    readme = (Path(checks.ROOT) / 'README.md').read_text(encoding='utf-8')
    quick_start = readme.split('## Quick start', 1)[1].split('\n## ', 1)[0]
    commands = [line.split('#')[0].strip() for line in quick_start.split('```sh', 1)[1].split('```', 1)[0].splitlines()
                if line.strip()]
    assert commands == ['./dev demo', './dev test --system'], commands
    ci = (Path(checks.ROOT) / '.ci' / 'run').read_text(encoding='utf-8')
    assert ci.rstrip().splitlines()[-1] == f'exec {commands[1]}'
