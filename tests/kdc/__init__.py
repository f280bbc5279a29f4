# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A throwaway MIT Kerberos KDC on loopback, for the tests that authenticate with Kerberos against hvsim.

    with Kdc(tmp_dir) as kdc:                      # kdb5_util create -s, principals, krb5kdc -n
        kdc.env                                    # KRB5_CONFIG, KRB5CCNAME, KRB5_KTNAME, ... for this KDC only
        kdc.kinit(kdc.user, kdc.password)          # a ticket in kdc.ccache

Everything lives in its own directory: krb5.conf (KRB5_CONFIG), kdc.conf (KRB5_KDC_PROFILE), the database and its
stash, the keytab hvsim accepts with, the credential cache and the replay cache. The machine's /etc/krb5.conf
and /etc/krb5kdc are never read or written. Tools come from Debian's krb5-kdc, krb5-admin-server and krb5-user.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

REALM = 'LAB.EXAMPLE'  # the demo lab's hosts are hv-*.lab.example and its users LAB\...
USER = 'hvadmin'
TOOLS = ('kdb5_util', 'kadmin.local', 'krb5kdc', 'kinit', 'klist', 'kdestroy', 'kvno')
SBIN = ('/usr/sbin', '/usr/local/sbin')
INSTALL_HINT = ('./dev setup --system installs them (Debian: apt-get install krb5-kdc krb5-admin-server krb5-user libkrb5-dev; '
                'pip: requirements-kerberos.txt)')


# libfaketime (Debian: faketime) sets a process's clock off, for the clock skew and expired ticket tests. The
# multi-threaded variant, preloaded directly (the faketime wrapper would be a parent process to stop as well);
# monotonic clocks stay real, or Python's sleeps hang.
FAKETIME_LIBS = ('/usr/lib/*/faketime/libfaketimeMT.so.1', '/usr/lib/faketime/libfaketimeMT.so.1',
                 '/usr/local/lib/faketime/libfaketimeMT.so.1')
FAKETIME_HINT = './dev setup --system installs it (Debian: apt-get install faketime)'


def faketime_library() -> str | None:
    """Path of libfaketimeMT, or None."""
    return next((path for pattern in FAKETIME_LIBS for path in sorted(glob.glob(pattern))), None)


def faketime_missing() -> str | None:
    """What this machine lacks to run a process with its clock set off, or None."""
    return None if faketime_library() else f'missing libfaketime; {FAKETIME_HINT}'


def clock_env(offset_s: int) -> dict[str, str]:
    """Variables that run a process with its wall clock offset_s seconds off (none for 0)."""
    if not offset_s:
        return {}
    library = faketime_library()
    if library is None:
        raise KdcError(faketime_missing())
    return {'LD_PRELOAD': library, 'FAKETIME': f'{offset_s:+d}', 'FAKETIME_DONT_FAKE_MONOTONIC': '1'}


def stop_process(process: subprocess.Popen | None) -> None:
    """End a child process: SIGTERM, then SIGKILL if it has not ended within 10 s."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def tool(name: str) -> str | None:
    """Path of a Kerberos program; the KDC's live in sbin, which a non-root PATH may lack."""
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(SBIN))


def missing() -> str | None:
    """What this machine lacks to run a KDC and Kerberos clients against it, or None."""
    absent = [name for name in TOOLS if tool(name) is None]
    try:
        import gssapi  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
        # pykerberos, which pywinrm's Kerberos transport uses
        import kerberos  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
        import krb5  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    except ImportError as exc:
        absent.append(f'Python module {exc.name}')
    return f'missing {", ".join(absent)}; {INSTALL_HINT}' if absent else None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the KDC binds it for TCP and UDP)."""
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


class KdcError(RuntimeError):
    """The KDC could not be set up or started; the message holds the tool's output."""


class Kdc:
    """One realm: a user principal, HTTP/<name> service principals, a keytab for hvsim, krb5kdc running."""

    def __init__(self, directory: str | os.PathLike, *, realm: str = REALM, services: tuple[str, ...] = (),
                 others: tuple[str, ...] = (), clockskew_s: int = 300):
        self.dir = Path(directory)
        self.realm = realm
        self.user = f'{USER}@{realm}'
        self.password = 'Krb-' + secrets.token_urlsafe(12)  # never printed; tests assert it leaks nowhere
        self.services = services  # host names whose HTTP/<name> keys go into the keytab
        self.others = others  # HTTP/<name> principals the KDC knows but hvsim has no key for
        self.clockskew_s = clockskew_s
        self.port = 0
        self.process: subprocess.Popen | None = None
        self.krb5_conf = self.dir / 'krb5.conf'
        self.kdc_conf = self.dir / 'kdc.conf'
        self.keytab = self.dir / 'hvsim.keytab'
        self.ccache = self.dir / 'ccache'
        self.log = self.dir / 'kdc.log'

    # Life cycle

    def start(self) -> 'Kdc':
        """Write the configuration, create the database and principals, start krb5kdc and wait until it listens."""
        problem = missing()
        if problem:
            raise KdcError(problem)
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / 'rcache').mkdir(exist_ok=True)
        self.port = free_port()
        self.write_config()
        master = secrets.token_urlsafe(16)
        self._run(['kdb5_util', 'create', '-s', '-r', self.realm, '-P', master], secret=master)
        self.add_principal(self.user, self.password)
        for name in self.services + self.others:
            self.add_principal(f'HTTP/{name}@{self.realm}')
        if self.services:
            self._run(['kadmin.local', '-r', self.realm, '-q',
                       'ktadd -k {} -norandkey {}'.format(self.keytab, ' '.join(f'HTTP/{name}' for name in self.services))])
        self.start_again()
        return self

    def start_again(self, clock_offset_s: int = 0) -> None:
        """Run krb5kdc again on the same port and database (after stop()), its clock clock_offset_s seconds off."""
        self.process = subprocess.Popen([tool('krb5kdc'), '-n', '-r', self.realm],
                                        env=self.full_env({**os.environ, **clock_env(clock_offset_s)}),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self._wait_listening()

    def stop(self) -> None:
        """Stop krb5kdc (the directory stays: its owner removes it)."""
        stop_process(self.process)
        self.process = None

    def __enter__(self) -> 'Kdc':
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # Configuration

    @property
    def env(self) -> dict[str, str]:
        """The variables that point every Kerberos library and tool at this realm only."""
        return {
            'KRB5_CONFIG': str(self.krb5_conf),
            'KRB5_KDC_PROFILE': str(self.kdc_conf),
            'KRB5CCNAME': f'FILE:{self.ccache}',
            'KRB5_KTNAME': f'FILE:{self.keytab}',  # the acceptor's keys (hvsim), as a host's keytab
            'KRB5RCACHEDIR': str(self.dir / 'rcache'),  # replay cache; not /var/tmp
            'KRB5_TRACE': '/dev/null',
        }

    def write_config(self) -> None:
        """krb5.conf for clients and acceptors, kdc.conf for the KDC and kadmin.local."""
        self.krb5_conf.write_text(f"""[libdefaults]
    default_realm = {self.realm}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    udp_preference_limit = 1
    forwardable = false
    clockskew = {self.clockskew_s}

[realms]
    {self.realm} = {{
        kdc = 127.0.0.1:{self.port}
    }}

[domain_realm]
    .lab.example = {self.realm}
    lab.example = {self.realm}
    localhost = {self.realm}
""", encoding='utf-8')
        self.kdc_conf.write_text(f"""[kdcdefaults]
    kdc_listen = 127.0.0.1:{self.port}
    kdc_tcp_listen = 127.0.0.1:{self.port}

[realms]
    {self.realm} = {{
        database_name = {self.dir / 'principal'}
        key_stash_file = {self.dir / 'stash'}
        acl_file = {self.dir / 'kadm5.acl'}
        max_life = 10h
        max_renewable_life = 1d
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    }}

[logging]
    kdc = FILE:{self.log}
    admin_server = FILE:{self.dir / 'kadmin.log'}
    default = FILE:{self.dir / 'krb5lib.log'}
""", encoding='utf-8')

    # Principals and tickets

    def add_principal(self, principal: str, password: str | None = None, *options: str) -> None:
        """A principal with this password, or with a random key (services)."""
        key = f'-pw "{password}"' if password else '-randkey'
        self._run(['kadmin.local', '-r', self.realm, '-q', f'addprinc {" ".join(options)} {key} {principal}'],
                  secret=password)

    def modify_principal(self, principal: str, *options: str) -> None:
        """kadmin's modprinc, e.g. ('-maxlife', '20 seconds')."""
        self._run(['kadmin.local', '-r', self.realm, '-q', f'modprinc {" ".join(options)} {principal}'])

    def kinit(self, principal: str | None = None, password: str | None = None, *options: str,
              ccache: str | os.PathLike | None = None, clock_offset_s: int = 0) -> None:
        """kinit with the password on standard input (never on a command line), into kdc.ccache or ccache."""
        env = {**os.environ, **self.env, **clock_env(clock_offset_s)}
        if ccache is not None:
            env['KRB5CCNAME'] = f'FILE:{ccache}'
        self._run(['kinit', *options, principal or self.user], env=env,
                  stdin=(password or self.password) + '\n', secret=password or self.password)

    def kvno(self, *services: str, clock_offset_s: int = 0) -> None:
        """Service tickets (e.g. HTTP/localhost) into kdc.ccache, with the TGT there."""
        self._run(['kvno', *services], env={**os.environ, **self.env, **clock_env(clock_offset_s)})

    def past_tickets(self, *services: str, ago_s: int = 3600, lifetime: str = '10m') -> None:
        """A TGT and service tickets in kdc.ccache as the KDC issued them ago_s seconds ago, for lifetime, i.e.
        long expired: krb5kdc runs a while with its clock set back (libfaketime), as do kinit and kvno."""
        self.stop()
        try:
            self.start_again(clock_offset_s=-ago_s)
            self.kinit(None, None, '-l', lifetime, clock_offset_s=-ago_s)
            self.kvno(*services, clock_offset_s=-ago_s)
        finally:
            self.stop()
            self.start_again()

    def kdestroy(self) -> None:
        """Empty the default credential cache."""
        subprocess.run([tool('kdestroy'), '-q'], env=self.full_env(), check=False, capture_output=True)

    def full_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """base (default os.environ) with this realm's variables."""
        return {**(os.environ if base is None else base), **self.env}

    # Plumbing

    def _run(self, cmd: list[str], *, env: dict[str, str] | None = None, stdin: str | None = None,
             secret: str | None = None) -> None:
        result = subprocess.run([tool(cmd[0]) or cmd[0], *cmd[1:]], env={**self.full_env(), **(env or {})}, input=stdin,
                                text=True, capture_output=True, check=False, timeout=60)
        if result.returncode:
            said = (result.stdout + result.stderr).replace(secret, '********') if secret else result.stdout + result.stderr
            shown = ' '.join(cmd[:2])
            raise KdcError(f'{shown} failed (exit code {result.returncode}): {said.strip()}')

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise KdcError(f'krb5kdc exited with {self.process.returncode}: {self._log_tail()}')
            try:
                with socket.create_connection(('127.0.0.1', self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise KdcError(f'krb5kdc did not listen on 127.0.0.1:{self.port} within 20 s: {self._log_tail()}')

    def _log_tail(self) -> str:
        return self.log.read_text(encoding='utf-8', errors='replace')[-2000:] if self.log.exists() else '(no log)'


def ticket_forms(ccache: str | os.PathLike) -> list[bytes]:
    """Every ticket in a credential cache as it could leak: raw, hex, and base64 (a part of a larger base64 text,
    such as an Authorization header, has one of three alignments, so each is trimmed to what all of them share)."""
    import base64  # pylint: disable=import-outside-toplevel
    import krb5  # pylint: disable=import-outside-toplevel

    context = krb5.init_context()
    cache = krb5.cc_resolve(context, f'FILE:{ccache}'.encode())
    forms = []
    for credential in cache:
        ticket = bytes(credential.ticket)
        if len(ticket) < 64:
            continue  # a cache's configuration entries (e.g. the KDC time offset) hold no ticket
        forms += [ticket, ticket.hex().encode()]
        for shift in range(3):
            forms.append(base64.b64encode(ticket[shift:])[4:-4])
    return forms
