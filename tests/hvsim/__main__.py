# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a lab until SIGINT/SIGTERM: PYTHONPATH=tests python -m hvsim --lab tests/hvsim/labs/demo.yml [--https]."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

if __name__ == '__main__' and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C while Python imports the simulator: end at once, no traceback

from hvsim import kerberos  # noqa: E402  pylint: disable=wrong-import-position
from hvsim.lab import LabError  # noqa: E402  pylint: disable=wrong-import-position
from hvsim.simulator import DEFAULT_PASSWORD, DEFAULT_USER, Simulator  # noqa: E402  pylint: disable=wrong-import-position

DEMO = Path(__file__).resolve().parent / 'labs' / 'demo.yml'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(prog='python -m hvsim', description='Simulated Hyper-V hosts speaking WS-Management.')
    parser.add_argument('--lab', default=str(DEMO), help='lab YAML file (default: the demo lab)')
    parser.add_argument('--https', action='store_true', help='also serve HTTPS (self-signed CA); the inventory then uses it')
    parser.add_argument('--no-http', action='store_true', help='serve HTTPS only')
    parser.add_argument('--user', default=DEFAULT_USER, help=f'account accepted by every host (default {DEFAULT_USER})')
    parser.add_argument('--password', default=DEFAULT_PASSWORD, help='its password')
    parser.add_argument('--transport', choices=('ntlm', 'basic'), default='ntlm', help='ansible_winrm_transport in the inventory')
    parser.add_argument('--state-dir', help='where the CA and certificates go (default: a temporary directory)')
    parser.add_argument('--port-base', type=int, help='fixed ports: host i gets HTTP base+2i and HTTPS base+2i+1')
    parser.add_argument('--migration-duration', type=float, help='seconds every migration job takes (overrides the lab)')
    parser.add_argument('--inventory', help='also write the inventory to this file')
    parser.add_argument('--inventory-format', choices=('ini', 'yaml'), default='ini')
    parser.add_argument('--json', help='write endpoints, CA and control URLs as JSON to this file once listening')
    parser.add_argument('--no-control', action='store_true', help='disable the /hvsim/ control endpoint')
    parser.add_argument('--kerberos-keytab', metavar='KEYTAB',
                        help='also accept Kerberos tickets for the HTTP/<name> principals in this keytab (KRB5_CONFIG names '
                             'the realm and its clock skew); each login and refusal is printed')
    parser.add_argument('--auth-methods', metavar='LIST',
                        help='with --kerberos-keytab: what every host offers, some of basic,ntlm,kerberos '
                             '(e.g. kerberos for a domain that turned NTLM off; default: the lab\'s, plus Kerberos)')
    options = parser.parse_args(argv)
    if options.no_http and not options.https:
        parser.error('--no-http needs --https')
    if options.auth_methods and not options.kerberos_keytab:
        parser.error('--auth-methods needs --kerberos-keytab')
    try:
        options.auth_methods = kerberos.parse_methods(options.auth_methods)
    except ValueError as exc:
        parser.error(str(exc))
    return options


def _say(event) -> None:
    """One Kerberos login or refusal, as a line (tests running hvsim in a process of its own read them)."""
    if isinstance(event, kerberos.KerberosRefusal):
        print(f'hvsim: {event.host} refused a Kerberos ticket: {event.reason}', flush=True)
    else:
        print(f'hvsim: {event.host} accepted Kerberos from {event.principal}{" (delegated)" if event.delegated else ""}',
              flush=True)


def main(argv: list[str] | None = None) -> int:
    """Start, print endpoints and inventory, wait for a signal, stop. A stop is one line, whenever the signal comes
    (while the lab starts too); the exit status is 130 for Ctrl-C (SIGINT, the shell's convention), 0 for SIGTERM."""
    options = parse_args(argv)
    # A list, not a threading.Event: the handler runs in the main thread between two bytecodes, possibly while that
    # thread holds the Event's lock inside wait(), and Event.set() would then wait for it forever (./dev passes a
    # Ctrl-C on every 50 ms until hvsim stops, which made that happen).
    received: list[int] = []

    def on_signal(signum, _frame) -> None:
        received.append(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    try:
        simulator = Simulator.from_lab(
            options.lab, migration_duration_s=options.migration_duration, user=options.user, password=options.password,
            https=options.https, http=not options.no_http, state_dir=options.state_dir, control=not options.no_control,
            port_base=options.port_base,
        )
        simulator.start()
        if options.kerberos_keytab:
            if not Path(options.kerberos_keytab).is_file():
                raise OSError(f'no keytab {options.kerberos_keytab}')
            kerberos.enable(simulator, kerberos.KerberosService(options.kerberos_keytab, report=_say), options.auth_methods)
    except (LabError, OSError, ValueError) as exc:
        print(f'hvsim: {exc}', file=sys.stderr)
        return 2
    try:
        if not received:
            _announce(simulator, options)
        while not received:
            time.sleep(0.1)
    finally:
        simulator.stop()
    print('hvsim: stopped', flush=True)
    return 128 + signal.SIGINT if received[:1] == [signal.SIGINT] else 0


def _announce(simulator: Simulator, options: argparse.Namespace) -> None:
    """Endpoints, the inventory (printed, and written where asked), the JSON description."""
    text = simulator.inventory(options.inventory_format, options.transport)
    print(f'hvsim: lab {simulator.lab.name!r}, {len(simulator.hosts)} host(s), user {options.user}')
    for name, handle in simulator.hosts.items():
        urls = '  '.join(url for url in (handle.http_endpoint, handle.https_endpoint) if url)
        print(f'  {name:<12} {urls}  control {handle.control_url}')
    for name, nodes in simulator.describe()['clusters'].items():
        print(f'cluster {name}: nodes {", ".join(nodes)} (root/MSCluster on each)')
    if simulator.ca_file:
        print(f'CA certificate: {simulator.ca_file}')
    print(f'# Ansible inventory ({options.inventory_format})')
    print(text, end='')
    if options.inventory:
        Path(options.inventory).write_text(text, encoding='utf-8')
        print(f'hvsim: inventory written to {options.inventory}')
    if options.json:
        Path(options.json).write_text(json.dumps(simulator.describe(), indent=2) + '\n', encoding='utf-8')
    print('hvsim: running; stop with Ctrl-C or SIGTERM', flush=True)


if __name__ == '__main__':
    sys.exit(main())
