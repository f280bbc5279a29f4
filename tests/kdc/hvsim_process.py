# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hvsim in a process of its own whose clock is set off (libfaketime), accepting Kerberos with the KDC's keytab:
a Windows host whose time drifted from the domain's.

    with HvsimProcess(directory, kdc, clock_offset_s=600) as lab:
        lab.endpoint('HV-OLD-01')          # http://127.0.0.1:<port>/wsman
        lab.output()                       # what it printed: one line per Kerberos login or refusal

Run as a module (python -m kdc.hvsim_process ARGS), it is `python -m hvsim ARGS` with time.sleep made of a timed
wait: under libfaketime with the monotonic clock left real, glibc's clock_nanosleep fails with EINVAL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from kdc import Kdc, KdcError, clock_env, stop_process

TESTS = Path(__file__).resolve().parent.parent


class HvsimProcess:
    """python -m hvsim --kerberos-keytab ... under a clock clock_offset_s seconds off; stopped on exit."""

    def __init__(self, directory: str | os.PathLike, kdc: Kdc, clock_offset_s: int = 0, methods: str | None = None):
        self.dir = Path(directory)
        self.kdc = kdc
        self.clock_offset_s = clock_offset_s
        self.methods = methods
        self.process: subprocess.Popen | None = None
        self.description: dict = {}
        self.log = self.dir / 'hvsim.out'
        self.json = self.dir / 'hvsim.json'

    def __enter__(self) -> 'HvsimProcess':
        self.dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, '-m', 'kdc.hvsim_process', '--json', str(self.json),
                   '--kerberos-keytab', str(self.kdc.keytab), '--migration-duration', '1']
        if self.methods:
            command += ['--auth-methods', self.methods]
        env = {**self.kdc.full_env(), **clock_env(self.clock_offset_s),
               'PYTHONPATH': os.pathsep.join([str(TESTS), os.environ.get('PYTHONPATH', '')])}
        with open(self.log, 'wb') as out:
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not self.json.exists() or not self.json.stat().st_size:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise KdcError(f'hvsim (clock {self.clock_offset_s:+d} s) did not start: {self.output()[-2000:]}')
            time.sleep(0.05)
        time.sleep(0.05)  # the file is written in one go; let it be closed
        self.description = json.loads(self.json.read_text(encoding='utf-8'))
        return self

    def __exit__(self, *exc_info) -> None:
        stop_process(self.process)
        self.process = None

    def endpoint(self, host: str = 'HV-OLD-01') -> str:
        """The host's HTTP endpoint."""
        return self.description['hosts'][host]['http']

    def port(self, host: str = 'HV-OLD-01') -> int:
        """The host's HTTP port."""
        return int(self.endpoint(host).rsplit(':', 1)[1].split('/')[0])

    def output(self) -> str:
        """Everything the process printed so far."""
        return self.log.read_text(encoding='utf-8', errors='replace') if self.log.exists() else ''


def _sleep(seconds: float) -> None:
    threading.Event().wait(seconds)


if __name__ == '__main__':
    time.sleep = _sleep
    from hvsim.__main__ import main  # pylint: disable=ungrouped-imports

    sys.exit(main(sys.argv[1:]))
