# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A WS-Management client for WMI over WinRM: Enumerate/Pull, Get and Invoke.

pywinrm's transport does authentication (NTLM, Kerberos, CredSSP, Basic, certificates) and
message encryption; the envelopes are ours (wsman_xml). Reads are retried on transient faults
with a bounded backoff; a request that changes state is sent once, whatever happens.
"""

from __future__ import annotations

import re
import time
import typing as t
import uuid

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman import kerberos
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman import soap as wsman_xml
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.settings import BASIC_TRANSPORTS, WinRMSettings
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.errors import (
    AuthenticationError,
    CertificateError,
    CredentialEncodingError,
    KerberosError,
    MismatchedReply,
    ResponseError,
    TransportError,
    WSManError,
    WSManFault,
    fault_from_envelope,
    relates_to,
)
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.soap import NS, Instance

try:
    import requests
    from winrm.exceptions import InvalidCredentialsError, WinRMError, WinRMTransportError
    from winrm.protocol import Protocol
except ImportError as import_error:  # reported when a client is created, with the fix
    IMPORT_ERROR: ImportError | None = import_error
else:
    IMPORT_ERROR = None

MAX_RESPONSE_BYTES = 8 * 1024 * 1024  # WinRM's own envelopes are at most 500 KB; pulls add up
# A WinRM server closes a keep-alive connection idle for longer than its timeout (http.sys: 2 minutes, hvsim: 30 s),
# and the authenticated, encrypting session goes with it: a session idle this long is dropped before the next request.
IDLE_SESSION_S = 20.0
MAX_ELEMENTS = 100


class _ResponseTooLarge(Exception):
    pass


def _bound_stream(raw: t.Any, limit: int) -> None:
    """Make a urllib3 response refuse to deliver more than `limit` bytes to requests."""
    stream = raw.stream

    def bounded(*args: t.Any, **kwargs: t.Any) -> t.Iterator[bytes]:
        received = 0
        for chunk in stream(*args, **kwargs):
            received += len(chunk)
            if received > limit:
                raise _ResponseTooLarge(f"the response is larger than the {limit} bytes allowed")
            yield chunk

    raw.stream = bounded


class WSManClient:
    """One host's WinRM endpoint. Create it per host and reuse it: it keeps the session."""

    def __init__(
        self,
        settings: WinRMSettings,
        *,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        read_attempts: int = 3,
        backoff_s: float = 0.5,
        sleep: t.Callable[[float], None] = time.sleep,
    ):
        if IMPORT_ERROR is not None:
            raise WSManError(
                f"pywinrm is required on the Ansible controller (pip install pywinrm): {IMPORT_ERROR}"
            )
        self.settings = settings
        self.endpoint = settings.endpoint
        self.max_response_bytes = max_response_bytes
        self.read_attempts = read_attempts
        self.backoff_s = backoff_s
        self._sleep = sleep
        self._protocol: t.Any = None
        self._last_used = 0.0  # time.monotonic() of the last request's end

    # Transport

    def _transport(self) -> t.Any:
        if self._protocol is None:
            self._kerberos_login()
            protocol = Protocol(**self.settings.protocol_kwargs())
            session = protocol.transport.build_session()  # authenticates when encryption needs it
            # build_session read the environment's proxies and CA bundle for this endpoint; requests would scan
            # os.environ again three times a request (resolve_proxies), a fifth of the client's CPU in a large read.
            session.trust_env = False
            adapter = session.get_adapter(self.endpoint)
            build_response = adapter.build_response

            def bounded_build_response(request: t.Any, response: t.Any) -> t.Any:
                _bound_stream(response, self.max_response_bytes)
                return build_response(request, response)

            adapter.build_response = bounded_build_response  # same adapter: keeps the authenticated connection
            self._protocol = protocol
        return self._protocol.transport

    def _check_basic_encoding(self) -> None:
        """Basic sends the user name and password in Latin-1 (requests; RFC 7617 leaves the charset to the server, and
        WinRM's challenge names none): refuse, before connecting, credentials that Latin-1 cannot write."""
        settings = self.settings
        if settings.transport not in BASIC_TRANSPORTS or settings.cert_pem:
            return
        for what, value in (("user name", settings.username), ("password", settings.password)):
            try:
                (value or "").encode("latin-1")
            except UnicodeEncodeError:
                raise CredentialEncodingError(
                    f"{self.endpoint}: the {what} has characters outside Latin-1 (ISO-8859-1), which Basic "
                    "authentication cannot carry (a Windows host reads Basic credentials in its ANSI code page). "
                    "Use transport ntlm, kerberos or credssp, which carry them in Unicode, or Latin-1 characters only.",
                    endpoint=self.endpoint) from None

    def _kerberos_login(self) -> None:
        """With transport kerberos and a password, get the ticket pywinrm will use (it cannot use a password)."""
        settings = self.settings
        if settings.transport == "kerberos" and settings.password and settings.username:
            try:
                kerberos.use_password(settings.username, settings.password, settings.kerberos_delegation)
            except kerberos.KerberosLoginError as exc:
                raise KerberosError(f"{self.endpoint}: {exc}", endpoint=self.endpoint) from None

    def _kerberos_message(self, text: str) -> str:
        settings = self.settings
        return kerberos.explain(text, host=settings.host, username=settings.username,
                                spn_host=settings.kerberos_hostname_override)

    def _post(self, document: str) -> bytes:
        """Send one envelope. After a transport failure, or when the session sat idle long enough for the
        server to close its connection, the session is dropped: NTLM/Kerberos contexts are bound to the
        connection, so the next request authenticates anew."""
        if self._protocol is not None and time.monotonic() - self._last_used > IDLE_SESSION_S:
            self.close()
        try:
            return self._send(document)
        except TransportError:
            self.close()
            raise
        finally:
            self._last_used = time.monotonic()

    def _send(self, document: str) -> bytes:
        """Send one envelope; map every failure to a typed error naming the endpoint."""
        where = self.endpoint
        self._check_basic_encoding()
        try:
            return self._transport().send_message(document)
        except InvalidCredentialsError:
            if self.settings.transport == "kerberos":
                message = kerberos.rejected(self.settings.host, self.settings.kerberos_hostname_override)
                raise KerberosError(f"{where}: {message}", endpoint=where) from None
            raise AuthenticationError(f"{where} rejected the credentials (HTTP 401)", endpoint=where) from None
        except KerberosError:
            raise
        except WinRMTransportError as exc:
            return self._error_reply(exc.code, exc.response_text.encode("utf-8"))
        except UnicodeDecodeError as exc:
            # pywinrm decodes an HTTP error's body as UTF-8 (decrypted first, with message encryption): a fault in
            # UTF-16, or a proxy's page in Latin-1, fails there. The bytes and the status are still at hand.
            response = getattr(exc.__context__, "response", None)
            if not isinstance(exc.__context__, requests.HTTPError) or response is None:
                raise TransportError(f"{where}: a reply that is not text ({exc.reason})", endpoint=where) from None
            return self._error_reply(response.status_code, bytes(exc.object))
        except _ResponseTooLarge as exc:
            raise ResponseError(f"{where}: {exc}", endpoint=where) from None
        except requests.exceptions.SSLError as exc:
            raise CertificateError(f"{where}: TLS certificate validation failed ({_cause(exc)})", endpoint=where) from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                requests.exceptions.ChunkedEncodingError) as exc:
            raise TransportError(f"{where}: {_cause(exc)}", endpoint=where) from None
        except WinRMError as exc:
            raise TransportError(f"{where}: {exc}", endpoint=where) from None
        except Exception as exc:  # pylint: disable=broad-exception-caught  # e.g. NTLM/decryption errors
            if isinstance(exc, PermissionError) and "NTLM challenge" in str(exc):
                raise AuthenticationError(
                    f"{where} did not take NTLM (HTTP 401 without an NTLM challenge): the host accepts Kerberos only, "
                    "as in a domain that turned NTLM off. Fix: use transport kerberos (ansible_winrm_transport="
                    "kerberos, ansible_user USER@REALM) and the host's FQDN.", endpoint=where) from None
            kerberos_text = kerberos.transport_error_text(exc)
            if kerberos_text is not None:  # pykerberos' own words: not worth another try, but worth explaining
                raise KerberosError(f"{where}: {self._kerberos_message(kerberos_text)}", endpoint=where) from None
            raise TransportError(f"{where}: {type(exc).__name__}: {_cause(exc)}", endpoint=where) from None

    def _error_reply(self, status: int, body: bytes) -> t.NoReturn:
        """An HTTP error status (WinRM sends faults with 500, some with 400): a SOAP fault when the body holds one."""
        where = self.endpoint
        if body:
            try:
                root = wsman_xml.parse_document(body, self.max_response_bytes)
            except wsman_xml.XMLRefused:
                root = None
            fault = root is not None and fault_from_envelope(root, endpoint=where, http_status=status)
            if fault:
                raise fault
        if status in (502, 503, 504):  # a busy or restarting service: worth another try
            raise TransportError(f"{where} answered HTTP {status} (temporarily unavailable){_what_body(body)}",
                                 endpoint=where)
        raise ResponseError(f"{where} answered HTTP {status} without a SOAP fault{_what_body(body)}", endpoint=where)

    def _request(self, *, action: str, resource_uri: str, body: str = "",
                 selectors: dict[str, str] | None = None) -> t.Any:
        document, message_id = wsman_xml.envelope(
            endpoint=self.endpoint,
            action=action,
            resource_uri=resource_uri,
            body=body,
            selectors=selectors,
            timeout_s=self.settings.operation_timeout_sec,
        )
        try:
            data = self._post(document)
        except WSManFault as fault:  # an HTTP error status carrying a fault
            if fault.relates_to is not None:
                self._check_relates_to(fault.relates_to, message_id)
            raise
        try:
            root = wsman_xml.parse_document(data, self.max_response_bytes)
        except wsman_xml.XMLRefused as exc:
            raise ResponseError(f"{self.endpoint}: {exc}", endpoint=self.endpoint) from None
        if root.tag != f"{{{NS['s']}}}Envelope":  # an HTML page, or a SOAP 1.1 envelope from something not WinRM
            raise ResponseError(f"{self.endpoint}: the reply has no SOAP body: it is <{wsman_xml.local_name(root.tag)}>, "
                                f"not a SOAP 1.2 envelope{_what_body(data)}", endpoint=self.endpoint)
        body_element = root.find("s:Body", NS)
        if body_element is None:
            raise ResponseError(f"{self.endpoint}: the reply has no SOAP body", endpoint=self.endpoint)
        fault = fault_from_envelope(root, endpoint=self.endpoint, http_status=200)
        if fault is None or fault.relates_to is not None:  # data must say which request it answers; a fault may not
            self._check_relates_to(relates_to(root), message_id)
        if fault:
            raise fault
        return body_element

    def _check_relates_to(self, related: str | None, message_id: str) -> None:
        """A reply answers the request whose MessageID its RelatesTo names (WS-Addressing 2004/08 section 3: it MUST
        be present in a reply). Any other reply is not read, and the connection it came on is dropped."""
        if related is not None and _same_message_id(related, message_id):
            return
        self.close()
        named = f"answers {related!r}" if related else "names no request (no RelatesTo)"
        raise MismatchedReply(
            f"{self.endpoint}: the host answered another request: the reply {named}, not {message_id}, the request "
            "sent; nothing was read from it. Run again; if it recurs, look for a proxy or load balancer in front of "
            "the host that mixes up replies.", endpoint=self.endpoint)

    def _read(self, operation: t.Callable[[], t.Any]) -> t.Any:
        """Run a read, again after a transient failure, a bounded number of times."""
        for attempt in range(1, self.read_attempts + 1):
            try:
                return operation()
            except WSManError as exc:
                if not exc.retryable or attempt == self.read_attempts:
                    raise
                self._sleep(self.backoff_s * 2 ** (attempt - 1))
        raise AssertionError("unreachable")  # pragma: no cover

    # Operations

    def enumerate(self, namespace: str, wql: str) -> list[Instance]:
        """All instances a WQL query selects (Enumerate, then Pull to EndOfSequence)."""
        return self._read(lambda: self._enumerate_once(namespace, wql))

    def _enumerate_once(self, namespace: str, wql: str) -> list[Instance]:
        resource_uri = wsman_xml.class_uri(namespace, "*")
        body = self._request(action=wsman_xml.ENUMERATE, resource_uri=resource_uri,
                             body=wsman_xml.enumerate_body(wql, MAX_ELEMENTS))
        response = self._child(body, "n:EnumerateResponse")
        items = self._items(response, "w:Items")
        ended = response.find("w:EndOfSequence", NS) is not None
        context = response.findtext("n:EnumerationContext", default="", namespaces=NS)
        while not ended:
            if not context:
                raise ResponseError(f"{self.endpoint}: an enumeration without a context did not end",
                                    endpoint=self.endpoint)
            body = self._request(action=wsman_xml.PULL, resource_uri=resource_uri,
                                 body=wsman_xml.pull_body(context, MAX_ELEMENTS))
            response = self._child(body, "n:PullResponse")
            items.extend(self._items(response, "n:Items"))
            ended = response.find("n:EndOfSequence", NS) is not None
            context = response.findtext("n:EnumerationContext", default="", namespaces=NS)
        return items

    def get(self, namespace: str, class_name: str, selectors: dict[str, str]) -> Instance:
        def once() -> Instance:
            body = self._request(action=wsman_xml.GET, resource_uri=wsman_xml.class_uri(namespace, class_name),
                                 selectors=selectors)
            element = next(iter(body), None)
            if element is None:
                raise ResponseError(f"{self.endpoint}: Get {class_name} returned nothing", endpoint=self.endpoint)
            return wsman_xml.parse_instance(element)

        return self._read(once)

    def invoke(self, namespace: str, class_name: str, method: str, selectors: dict[str, str],
               parameters: dict[str, t.Any], *, read_only: bool) -> dict[str, t.Any]:
        """Call a method; returns the out parameters (ReturnValue included) as wire values.

        Only read_only methods are retried; a method that changes state is sent exactly once.
        """
        resource_uri = wsman_xml.class_uri(namespace, class_name)

        def once() -> dict[str, t.Any]:
            body = self._request(action=f"{resource_uri}/{method}", resource_uri=resource_uri, selectors=selectors,
                                 body=wsman_xml.invoke_body(resource_uri, method, parameters))
            output = next(iter(body), None)
            if output is None or wsman_xml.local_name(output.tag) != f"{method}_OUTPUT":
                raise ResponseError(f"{self.endpoint}: {method} returned no {method}_OUTPUT", endpoint=self.endpoint)
            return wsman_xml.collect_properties(output)

        return self._read(once) if read_only else once()

    def _child(self, body: t.Any, path: str) -> t.Any:
        element = body.find(path, NS)
        if element is None:
            raise ResponseError(f"{self.endpoint}: expected {path} in the reply", endpoint=self.endpoint)
        return element

    def _items(self, response: t.Any, path: str) -> list[Instance]:
        container = response.find(path, NS)
        try:
            return [] if container is None else [wsman_xml.parse_item(item) for item in container]
        except ValueError as exc:
            raise ResponseError(f"{self.endpoint}: {exc}", endpoint=self.endpoint) from None

    def close(self) -> None:
        if self._protocol is not None:
            self._protocol.transport.close_session()
            self._protocol = None


def _same_message_id(related: str, message_id: str) -> bool:
    """The same message: equal URIs, uuid: URIs compared as UUIDs (a host may write the hex digits in capitals)."""
    def normal(text: str) -> str:
        text = text.strip()
        if text[:5].lower() == "uuid:":
            try:
                return "uuid:" + str(uuid.UUID(text[5:]))
            except ValueError:
                return text
        return text

    return normal(related) == normal(message_id)


def _what_body(body: bytes) -> str:
    """What a reply that is not WS-Management held, for its error: a proxy's or IIS's page names itself in its title."""
    if not body.strip():
        return " (an empty body)"
    title = re.search(rb"<title[^>]*>([^<]{1,200})", body, re.IGNORECASE)
    if title is None:
        return ""
    text = " ".join(title.group(1).decode("utf-8", "replace").split())
    return f" (a page titled {text[:80]!r})" if text else ""


def _cause(exc: BaseException) -> str:
    """The root reason of a requests/urllib3 error (they nest MaxRetryError -> NewConnectionError ...)."""
    reason: t.Any = exc.args[0] if exc.args else exc
    while getattr(reason, "reason", None) is not None:
        reason = reason.reason
    return str(reason)
