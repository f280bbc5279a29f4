# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP(S) listeners: one threaded server per host and scheme, POST /wsman plus the loopback control endpoint.

Per request: read a bounded body, authenticate (per-connection state, NTLM is connection-bound), decrypt,
parse, count, apply injected misbehaviour, let the responder answer, encrypt, send.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from hvsim import control, soap
from hvsim.auth import AuthPolicy, ConnectionAuth, EncryptionError
from hvsim.faults import Counters, FaultBook, FaultRule
from hvsim.lab import Lab
from hvsim.wsman import WsmanResponder, operation_key
from hvsim.xmlutil import UnsafeXmlError

LOG = logging.getLogger('hvsim')
SOAP_CONTENT_TYPE = 'application/soap+xml;charset=UTF-8'
MAX_BODY = 4 * 1024 * 1024  # hard cap on any HTTP body, before decryption
IDLE_TIMEOUT = 30  # seconds a keep-alive connection may sit idle
REPLY_FAULTS = ('drop', 'raw', 'http_status', 'timeout', 'wmi_fault')  # in order of precedence
MIGRATE_OP = 'Invoke:MigrateVirtualSystemToHost'
MIGRATION_OPS = (MIGRATE_OP, 'Invoke:MoveToNewNodeParams', 'Invoke:MoveToNewNode')  # migration_fail applies to these


class HostRuntime:
    """Everything one simulated host needs at run time besides the lab: responder, faults, counters."""

    def __init__(self, lab: Lab, host_name: str, users: list[tuple[str, str]], control_enabled: bool = True):
        self.lab = lab
        self.host_name = host_name
        self.users = users
        self.control_enabled = control_enabled
        self.responder = WsmanResponder(lab, host_name)
        self.faults = FaultBook()
        self.counters = Counters()
        self.stopping = threading.Event()

    @property
    def host(self):
        """The lab's host record."""
        return self.lab.host(self.host_name)

    def policy(self) -> AuthPolicy:
        """What this host accepts, read fresh so lab changes apply to new requests."""
        host = self.host
        return AuthPolicy(self.users, basic=host.basic_auth, negotiate=host.negotiate_auth, allow_unencrypted=host.allow_unencrypted)

    def inject(self, kind: str, op: str | None = None, nth: int = 1, times: int | None = None, **params) -> int | None:
        """Install a misbehaviour (see faults.py); 'migration_limit' fills the host's migration slots instead."""
        if kind == 'migration_limit':
            with self.lab.lock:
                host = self.host
                host.phantom_migrations = 0
                host.phantom_migrations = max(0, int(params.get('count', host.migration.max_vm - self.lab.active_migrations(host))))
            return None
        if op is None:
            op = MIGRATE_OP if kind == 'migration_fail' else '*'
        return self.faults.add(FaultRule(kind, op, nth, times, dict(params))).rule_id

    def clear_faults(self) -> None:
        """Remove every rule and any filled migration slot."""
        self.faults.clear()
        with self.lab.lock:
            self.host.phantom_migrations = 0


class _Server(ThreadingHTTPServer):
    """A listener bound to one runtime; tracks open connections so stop() can cut keep-alive ones."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, runtime: HostRuntime, ssl_context: ssl.SSLContext | None):
        self.runtime = runtime
        self.ssl_context = ssl_context
        self.secure = ssl_context is not None
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, WsmanHandler)

    def handle_error(self, request, client_address):
        LOG.debug('connection from %s ended with an error', client_address, exc_info=True)

    def verify_request(self, request, client_address):
        # A cluster node that is down answers nothing: the connection is accepted and closed at once, before TLS.
        return not self.runtime.host.unreachable

    def close_connections(self) -> None:
        """Shut every open connection (keep-alive clients would otherwise hold handler threads)."""
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class WsmanHandler(BaseHTTPRequestHandler):
    """One HTTP connection; the auth state is per instance, i.e. per connection."""

    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm holds the body
    # back until the client's delayed ACK (about 40 ms a request), which no real WinRM service does.
    disable_nagle_algorithm = True

    protocol_version = 'HTTP/1.1'
    server_version = 'Microsoft-HTTPAPI/2.0'
    sys_version = ''
    timeout = IDLE_TIMEOUT
    close_connection = True  # BaseHTTPRequestHandler.handle() manages it per request
    server: _Server

    def setup(self):
        if self.server.ssl_context is not None:
            # The TLS handshake runs here, in the connection's thread, not in the accept loop.
            self.request.settimeout(IDLE_TIMEOUT)
            self.request = self.server.ssl_context.wrap_socket(self.request, server_side=True)
        super().setup()
        self.auth = ConnectionAuth(self.server.runtime.policy())
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self):
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        LOG.debug('%s %s', self.address_string(), format % args)

    # Plumbing

    def _read_body(self) -> bytes | None:
        length = self.headers.get('Content-Length')
        if length is None:
            if self.headers.get('Transfer-Encoding'):
                self._send(411, b'', close=True)
                return None
            return b''
        try:
            size = int(length)
        except ValueError:
            self._send(400, b'', close=True)
            return None
        if size < 0 or size > MAX_BODY:
            self._send(413, b'', close=True)
            return None
        return self.rfile.read(size)

    def _send(self, status: int, body: bytes, headers=(), content_type: str | None = SOAP_CONTENT_TYPE,
              encrypt: bool = False, close: bool = False) -> None:
        if encrypt:
            body = self.auth.wrap(body)
            content_type = self.auth.encrypted_content_type  # the protocol the client encrypted with
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if body and content_type:
            self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(body)))
        if close:
            self.send_header('Connection', 'close')
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _drop(self) -> None:
        """Close without a response, as a crashed or cut-off server would."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # HTTP methods

    def do_POST(self):  # pylint: disable=invalid-name
        """WS-Management requests and control calls."""
        if self.path.startswith('/hvsim/'):
            self._control('POST')
        elif self.path.split('?', 1)[0].lower() == '/wsman':
            self._wsman()
        else:
            self._read_body()
            self._send(404, b'', close=True)

    def do_GET(self):  # pylint: disable=invalid-name
        """Control calls only; WinRM answers GET /wsman with 405."""
        if self.path.startswith('/hvsim/'):
            self._control('GET')
        else:
            self._send(405 if self.path.lower().startswith('/wsman') else 404, b'')

    def do_DELETE(self):  # pylint: disable=invalid-name
        """Control calls only."""
        if self.path.startswith('/hvsim/'):
            self._control('DELETE')
        else:
            self._send(405, b'')

    def _control(self, method: str) -> None:
        body = self._read_body()
        if body is None:
            return
        runtime = self.server.runtime
        if not runtime.control_enabled or not ipaddress.ip_address(self.client_address[0]).is_loopback:
            self._send(403, b'', close=True)
            return
        status, payload = control.handle(runtime, method, self.path, body)
        self._send(status, payload, content_type='application/json')

    def _wsman(self) -> None:
        runtime = self.server.runtime
        body = self._read_body()
        if body is None:
            return
        if runtime.host.unreachable:  # went down while this keep-alive connection was open
            self._drop()
            return
        refuse = bool(runtime.faults.take('*', ('auth_fail',)))
        self.auth.policy = runtime.policy()
        outcome = self.auth.process(self.headers.get('Authorization'), bool(body), self.server.secure, refuse)
        if outcome.status is not None:
            runtime.counters.count_auth(outcome.kind)
            self._send(outcome.status, b'', outcome.headers)
            return
        encrypted = 'multipart/encrypted' in self.headers.get('Content-Type', '').lower()
        if encrypted:
            try:
                payload = self.auth.unwrap(body)
            except EncryptionError as exc:
                LOG.debug('rejecting an encrypted body: %s', exc)
                runtime.counters.count_auth('bad_encryption')
                self._send(400, b'', close=True)
                return
        else:
            payload = body
            if payload and not self.server.secure and not runtime.host.allow_unencrypted:
                # AllowUnencrypted=false: a plaintext SOAP body over HTTP is refused like bad credentials.
                self.auth.reset()
                runtime.counters.count_auth('rejected_unencrypted')
                self._send(401, b'', runtime.policy().challenge_headers())
                return
        if not payload:
            runtime.counters.count_auth('handshake')
            self._send(200, b'', outcome.headers, encrypt=False)
            return
        self._serve(runtime, payload, encrypted, outcome.headers)

    def _serve(self, runtime: HostRuntime, payload: bytes, encrypted: bool, headers) -> None:
        host = runtime.host
        if len(payload) > host.max_envelope_size:
            runtime.counters.count('Invalid')
            fault = soap.encoding_limit(f'The request is {len(payload)} bytes; MaxEnvelopeSizekb allows {host.max_envelope_size}.')
            self._send(500, soap.fault_envelope(fault, '', host.name), headers, encrypt=encrypted)
            return
        try:
            request = soap.parse_request(payload, host.max_envelope_size)
        except UnsafeXmlError as exc:
            runtime.counters.count('Invalid')
            fault = soap.WsmanFault('w:InvalidBody', f'The WS-Management service cannot process the request because the XML is invalid: {exc}',
                                    wsman_code=2150858819)
            self._send(400, soap.fault_envelope(fault, '', host.name), headers, encrypt=encrypted)
            return
        except soap.WsmanFault as fault:
            runtime.counters.count('Invalid')
            self._send(500, soap.fault_envelope(fault, '', host.name), headers, encrypt=encrypted)
            return
        op = operation_key(request)
        runtime.counters.count(op)
        reply = self._misbehave(runtime, op, request, 'before')
        if reply is None:
            fail_at = fail_message = None
            if op in MIGRATION_OPS:
                for rule in runtime.faults.take(op, ('migration_fail',)):
                    fail_at = max(0, min(100, int(rule.params.get('percent', 50))))
                    fail_message = rule.params.get('message')
            try:
                reply = (200, runtime.responder.handle(request, fail_at, fail_message), SOAP_CONTENT_TYPE, encrypted)
            except soap.WsmanFault as fault:
                reply = (500, soap.fault_envelope(fault, request.message_id, host.name), SOAP_CONTENT_TYPE, encrypted)
            except Exception as exc:  # pylint: disable=broad-exception-caught
                LOG.exception('hvsim failed on %s', op)
                fault = soap.WsmanFault('w:InternalError', f'hvsim internal error: {exc}', code='s:Receiver', wsman_code=2150858752)
                reply = (500, soap.fault_envelope(fault, request.message_id, host.name), SOAP_CONTENT_TYPE, encrypted)
            reply = self._misbehave(runtime, op, request, 'after') or reply
        if reply == 'drop':
            self._drop()
            return
        status, data, content_type, encrypt = reply
        self._send(status, data, headers, content_type=content_type, encrypt=encrypt and encrypted)

    def _misbehave(self, runtime: HostRuntime, op: str, request: soap.WsmanRequest, phase: str):
        """Apply latency (before only) and the first reply-replacing rule of this phase; None when none fires."""
        machine = runtime.host_name
        if phase == 'before':
            for rule in runtime.faults.take(op, ('call',)):
                rule.params['action']()
            for rule in runtime.faults.take(op, ('latency',)):
                delay = float(rule.params.get('ms', 0)) / 1000.0
                budget = request.operation_timeout
                if rule.params.get('honour_timeout', True) and budget is not None and delay > budget:
                    runtime.stopping.wait(budget)
                    return 500, soap.fault_envelope(soap.timed_out(), request.message_id, machine), SOAP_CONTENT_TYPE, True
                runtime.stopping.wait(delay)
        firing = runtime.faults.take(op, REPLY_FAULTS, phase)
        if not firing:
            return None
        rule = min(firing, key=lambda item: REPLY_FAULTS.index(item.kind))
        params = rule.params
        if rule.kind == 'drop':
            return 'drop'
        if rule.kind == 'raw':
            data = params.get('body', b'')
            data = data.encode('utf-8') if isinstance(data, str) else bytes(data)
            return int(params.get('status', 200)), data, params.get('content_type', SOAP_CONTENT_TYPE), bool(params.get('encrypt', True))
        if rule.kind == 'http_status':
            data = params.get('body', b'')
            data = data.encode('utf-8') if isinstance(data, str) else bytes(data)
            return int(params.get('status', 503)), data, params.get('content_type', 'text/html'), False
        if rule.kind == 'timeout':
            runtime.stopping.wait(float(params.get('delay_ms', 0)) / 1000.0)
            return 500, soap.fault_envelope(soap.timed_out(), request.message_id, machine), SOAP_CONTENT_TYPE, True
        fault = soap.wmi_error(int(params.get('code', 2147749889)), str(params.get('message', 'Generic failure ')),
                               params.get('wsman_code'))
        return 500, soap.fault_envelope(fault, request.message_id, machine), SOAP_CONTENT_TYPE, True


def make_ssl_context(cert: str, key: str) -> ssl.SSLContext:
    """Server-side TLS context for a certificate/key pair."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


class Listener:
    """A running server thread for one host and scheme."""

    def __init__(self, runtime: HostRuntime, bind: str, port: int, ssl_context: ssl.SSLContext | None = None):
        self.server = _Server((bind, port), runtime, ssl_context)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={'poll_interval': 0.05},
                                       name=f'hvsim-{runtime.host_name}-{"https" if ssl_context else "http"}', daemon=True)

    def start(self) -> None:
        """Begin serving."""
        self.thread.start()

    def stop(self) -> None:
        """Stop accepting, cut open connections, release the port."""
        self.server.shutdown()
        self.server.close_connections()
        self.server.server_close()
        self.thread.join(timeout=5)
