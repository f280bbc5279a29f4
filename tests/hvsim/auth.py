# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Authentication as WinRM does it: Basic, and Negotiate (NTLM or Kerberos, pyspnego acceptor) with MS-WSMV
message encryption.

NTLM authenticates a TCP connection, so ConnectionAuth lives as long as the HTTP keep-alive connection.
pyspnego's NTLM acceptor reads its users from the file named by NTLM_USER_FILE when it validates a
response, so one process-wide file holds every simulator's users and the variable is set under a lock
right before each step; each host then checks the authenticated principal against its own users.
Kerberos (kerberos.py) is offered only when the simulator has a keytab; a Kerberos context seals messages with
the WinRM variant of GSS wrap (a header of its own length), under the protocol name the client used.
"""

from __future__ import annotations

import atexit
import base64
import binascii
import os
import shutil
import struct
import tempfile
import threading
from dataclasses import dataclass, field

import spnego
from spnego import ContextReq
from spnego.exceptions import SpnegoError

from hvsim.kerberos import KerberosService, realm_user, refusal_reason, same_account

BOUNDARY = b'--Encrypted Boundary'
PROTOCOL = 'application/HTTP-SPNEGO-session-encrypted'
# MS-WSMV 2.2.9.1.2: the Kerberos scheme's name; pywinrm's Kerberos sends the SPNEGO one, both are answered in kind.
KERBEROS_PROTOCOL = 'application/HTTP-Kerberos-session-encrypted'
PROTOCOLS = (PROTOCOL, KERBEROS_PROTOCOL)
ENCRYPTED_CONTENT_TYPE = f'multipart/encrypted;protocol="{PROTOCOL}";boundary="Encrypted Boundary"'
_OCTET = b'\tContent-Type: application/octet-stream\r\n'
# Basic credentials as a Windows host reads them: in its ANSI code page (windows-1252 on an en-US host), since its
# challenge names no charset (RFC 7617 section 2.1); docs/wsman-wire.md, Authentication.
BASIC_CHARSET = 'cp1252'


class EncryptionError(ValueError):
    """An encrypted body that cannot be framed, verified or decrypted."""


def split_user(user: str) -> tuple[str, str]:
    """'DOMAIN\\user' -> ('DOMAIN', 'user'); 'user' or 'user@realm' -> ('', same)."""
    domain, sep, name = user.partition('\\')
    return (domain, name) if sep else ('', user)


class _UserFile:
    """The process-wide NTLM_USER_FILE (DOMAIN:user:password lines)."""

    lock = threading.Lock()
    path: str | None = None
    lines: list[str] = []

    @classmethod
    def register(cls, users: list[tuple[str, str]]) -> None:
        with cls.lock:
            if cls.path is None:
                directory = tempfile.mkdtemp(prefix='hvsim-ntlm-')
                atexit.register(shutil.rmtree, directory, True)
                cls.path = os.path.join(directory, 'users')
            for user, password in users:
                domain, name = split_user(user)
                if ':' in user or ':' in password or '\n' in user + password:
                    raise ValueError('hvsim users and passwords cannot contain ":" or newlines (NTLM_USER_FILE format)')
                line = f'{domain}:{name}:{password}'
                if line not in cls.lines:
                    cls.lines.append(line)
            with open(cls.path, 'w', encoding='utf-8') as handle:
                handle.write('\n'.join(cls.lines) + '\n')
            os.environ['NTLM_USER_FILE'] = cls.path

    @classmethod
    def step(cls, context, token: bytes):
        """One acceptor step with NTLM_USER_FILE pointing at our file (someone may have changed it)."""
        with cls.lock:
            if cls.path:
                os.environ['NTLM_USER_FILE'] = cls.path
            return context.step(token)


def register_users(users: list[tuple[str, str]]) -> str:
    """Add users to the NTLM user file; returns its path (also exported as NTLM_USER_FILE)."""
    _UserFile.register(users)
    return _UserFile.path or ''


@dataclass
class AuthPolicy:
    """What a host accepts."""

    users: list[tuple[str, str]]
    basic: bool = True
    negotiate: bool = True
    allow_unencrypted: bool = False
    kerberos: KerberosService | None = None  # accept Kerberos tickets for the keytab's SPNs
    ntlm: bool = True  # inside Negotiate; False as in a domain that turned NTLM off
    host: str = ''  # for the Kerberos record

    @property
    def offers_negotiate(self) -> bool:
        """Negotiate carries NTLM, Kerberos or both."""
        return self.negotiate and (self.ntlm or self.kerberos is not None)

    def challenge_headers(self) -> list[tuple[str, str]]:
        """WWW-Authenticate headers of a bare 401, as WinRM sends them."""
        headers = []
        if self.offers_negotiate:
            headers.append(('WWW-Authenticate', 'Negotiate'))
        if self.kerberos is not None:
            headers.append(('WWW-Authenticate', 'Kerberos'))
        if self.basic:
            headers.append(('WWW-Authenticate', 'Basic realm="WSMAN"'))
        return headers

    def basic_ok(self, user: str, password: str) -> bool:
        """Username case-insensitive (domain too), password exact."""
        domain, name = split_user(user)
        for known, secret in self.users:
            known_domain, known_name = split_user(known)
            if (known_domain.lower(), known_name.lower()) == (domain.lower(), name.lower()) and secret == password:
                return True
        return False

    def principal_ok(self, principal: str | None) -> bool:
        """Whether an NTLM principal ('DOMAIN\\user' or 'user') or a Kerberos one ('user@REALM') is one of this
        host's users."""
        if not principal:
            return False
        kerberos = realm_user(principal)
        if kerberos:
            return any(same_account(split_user(known), *kerberos) for known, _password in self.users)
        domain, name = split_user(principal)
        return any(
            (split_user(known)[0].lower(), split_user(known)[1].lower()) == (domain.lower(), name.lower())
            for known, _password in self.users
        )


@dataclass
class AuthOutcome:
    """status None: go on and serve the request; otherwise answer with status and headers now."""

    kind: str  # challenge, handshake, rejected, ok
    status: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    principal: str | None = None


class ConnectionAuth:
    """Authentication state of one HTTP connection."""

    def __init__(self, policy: AuthPolicy):
        self.policy = policy
        self.context = None
        self.principal: str | None = None
        self.protocol = PROTOCOL  # of the encrypted bodies, as the client named it

    def reset(self) -> None:
        """Forget the connection's security context."""
        self.context = None
        self.principal = None
        self.protocol = PROTOCOL

    @property
    def kerberos(self) -> bool:
        """The connection's context is Kerberos (not NTLM)."""
        return self.context is not None and self.context.negotiated_protocol == 'kerberos'

    @property
    def encrypted_content_type(self) -> str:
        """Content-Type of an encrypted reply: the protocol the client encrypted with."""
        return ENCRYPTED_CONTENT_TYPE.replace(PROTOCOL, self.protocol)

    @property
    def sealed(self) -> bool:
        """A completed Negotiate context exists, so bodies can be encrypted."""
        return self.context is not None and self.context.complete

    def _reject(self) -> AuthOutcome:
        self.reset()
        return AuthOutcome('rejected', 401, self.policy.challenge_headers())

    def process(self, authorization: str | None, has_body: bool, secure: bool, refuse: bool = False) -> AuthOutcome:
        """Handle the Authorization header of one request; refuse=True rejects whatever the credentials
        (after a normal Negotiate challenge, as a host does with a wrong password)."""
        if not authorization:
            if self.sealed and not refuse:
                return AuthOutcome('ok', principal=self.principal)
            if self.sealed:
                return self._reject()
            return AuthOutcome('challenge', 401, self.policy.challenge_headers())
        scheme, _sep, credentials = authorization.strip().partition(' ')
        scheme_lower = scheme.lower()
        if scheme_lower == 'basic' and self.policy.basic:
            return self._reject() if refuse else self._basic(credentials.strip(), secure)
        if (scheme_lower in ('negotiate', 'ntlm') and self.policy.offers_negotiate) or \
                (scheme_lower == 'kerberos' and self.policy.kerberos is not None):
            outcome = self._negotiate(scheme, credentials.strip(), has_body)
            if refuse and outcome.status in (None, 200):  # the context completed: refuse it like a wrong password
                return self._reject()
            return outcome
        return self._reject()

    def _basic(self, credentials: str, secure: bool) -> AuthOutcome:
        self.reset()
        try:
            user, _sep, password = base64.b64decode(credentials, validate=True).decode(BASIC_CHARSET).partition(':')
        except (binascii.Error, UnicodeDecodeError):
            return self._reject()
        # AllowUnencrypted=false: WinRM answers Basic over plain HTTP with 401 whatever the password.
        if not secure and not self.policy.allow_unencrypted:
            return self._reject()
        if not self.policy.basic_ok(user, password):
            return self._reject()
        return AuthOutcome('ok', principal=user)

    def _negotiate(self, scheme: str, credentials: str, has_body: bool) -> AuthOutcome:
        try:
            token = base64.b64decode(credentials, validate=True)
        except binascii.Error:
            return self._reject()
        if self.context is None or self.context.complete:
            self.reset()
            if not self.policy.ntlm and token.startswith(b'NTLMSSP\0'):
                return self._reject()  # NTLM turned off: a raw NTLM token is refused at once
            self.context = spnego.server(protocol='negotiate')
        try:
            out = _UserFile.step(self.context, token)
        except (SpnegoError, ValueError, KeyError, struct.error, AttributeError) as exc:
            # AttributeError: pyspnego's gssapi acceptor when MIT refuses the AP-REQ
            self._record_refusal(token, exc)
            return self._reject()
        headers = [('WWW-Authenticate', f'{scheme} {base64.b64encode(out).decode()}')] if out else []
        if not self.context.complete:
            return AuthOutcome('handshake', 401, headers)
        if not self._protocol_allowed():
            return self._reject()
        principal = self.context.client_principal
        if not self.policy.principal_ok(principal):
            return self._reject()
        self.principal = principal
        self._record_login()
        if not has_body:
            return AuthOutcome('handshake', 200, headers, principal)
        return AuthOutcome('ok', None, headers, principal)

    def _protocol_allowed(self) -> bool:
        """NTLM only where the host allows it; Kerberos only with a keytab."""
        return self.policy.kerberos is not None if self.kerberos else self.policy.ntlm

    def _record_login(self) -> None:
        if self.kerberos and self.policy.kerberos is not None:
            delegated = bool(self.context.context_attr & ContextReq.delegate)
            self.policy.kerberos.login(self.policy.host, self.principal or '', delegated)

    def _record_refusal(self, token: bytes, exc: Exception) -> None:
        """Keep the acceptor's reason for a refused Kerberos token (tests read it; the client only sees 401)."""
        if self.policy.kerberos is not None and not token.startswith(b'NTLMSSP\0'):
            self.policy.kerberos.refuse(self.policy.host, refusal_reason(token, str(exc)))

    # Message encryption (MS-WSMV 2.2.9.1.1, as pywinrm frames it)

    def unwrap(self, body: bytes) -> bytes:
        """Decrypt a multipart/encrypted body with the connection's context."""
        if not self.sealed:
            raise EncryptionError('encrypted body on a connection without a security context')
        if body.endswith(BOUNDARY + b'--\r\n'):
            body = body[:-len(BOUNDARY + b'--\r\n')]
        parts = [part for part in body.split(BOUNDARY + b'\r\n') if part]
        if not parts or len(parts) % 2:
            raise EncryptionError('encrypted body does not have header/payload part pairs')
        message = b''
        for index in range(0, len(parts), 2):
            header, payload = parts[index], parts[index + 1]
            protocol = next((name for name in PROTOCOLS if name.encode() in header), None)
            if protocol is None or b'Length=' not in header:
                raise EncryptionError('encrypted part header lacks the protocol or the original length')
            self.protocol = protocol
            try:
                expected = int(header.split(b'Length=')[1].split(b'\r\n')[0].strip())
            except ValueError as exc:
                raise EncryptionError('encrypted part header has a bad Length') from exc
            if not payload.startswith(_OCTET) or len(payload) < len(_OCTET) + 4:
                raise EncryptionError('encrypted payload lacks its octet-stream header')
            data = payload[len(_OCTET):]
            (sig_len,) = struct.unpack('<I', data[:4])
            if sig_len > len(data) - 4:
                raise EncryptionError('signature length exceeds the payload')
            try:
                plain = self._unseal(data[4:4 + sig_len], data[4 + sig_len:])
            except SpnegoError as exc:
                raise EncryptionError(f'cannot decrypt: {exc}') from exc
            if len(plain) != expected:
                raise EncryptionError(f'decrypted length {len(plain)} differs from the announced {expected}')
            message += plain
        return message

    def _unseal(self, signature: bytes, data: bytes) -> bytes:
        if self.kerberos:
            return self.context.unwrap_winrm(signature, data)
        return self.context.unwrap(signature + data).data

    def _seal(self, message: bytes) -> tuple[bytes, bytes]:
        """(signature, encrypted data): NTLM's 16-byte signature, or Kerberos' wrap token header."""
        if self.kerberos:
            sealed = self.context.wrap_winrm(message)
            return sealed.header, sealed.data
        sealed = self.context.wrap(message, encrypt=True).data
        return sealed[:16], sealed[16:]

    def wrap(self, message: bytes) -> bytes:
        """Encrypt a reply in the same framing."""
        signature, data = self._seal(message)
        return (
            BOUNDARY + b'\r\n'
            + f'\tContent-Type: {self.protocol}\r\n'.encode()
            + f'\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length={len(message)}\r\n'.encode()
            + BOUNDARY + b'\r\n' + _OCTET
            + struct.pack('<I', len(signature)) + signature + data
            + BOUNDARY + b'--\r\n'
        )
