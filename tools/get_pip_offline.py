"""Stand-in for get-pip.py so ansible-test can bootstrap its venvs without ci-files.testing.ansible.com.

ansible-test runs the cached script ~/.ansible/test/cache/get_pip_<ver>.py via runpy as __main__, with
argv like ``--disable-pip-version-check pip==24.2 --no-setuptools --no-wheel``. `./dev setup` copies
this file there. We seed pip from the interpreter's bundled wheel (ensurepip) and let that pip
install the requested packages from the package index, which is reachable.
"""

from __future__ import annotations

import ensurepip
import os
import subprocess
import sys

# get-pip.py options that pip install does not understand; dropping them matches their meaning
# (do not install setuptools/wheel) because pip install only installs what it is asked for.
GET_PIP_ONLY = {'--no-setuptools', '--no-wheel'}


def main(argv: list[str]) -> int:
    """Install the bundled pip, then the requested packages; return pip's exit code."""
    # ensurepip scrubs PIP_* from os.environ; keep the user's pip settings (index, certs) for the install.
    env = dict(os.environ)
    ensurepip.bootstrap(upgrade=True)
    args = [arg for arg in argv if arg not in GET_PIP_ONLY]
    return subprocess.call([sys.executable, '-m', 'pip', 'install', *args], env=env)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
