# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed errors of the WS-Management client, and the parsing of SOAP faults into them."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.soap import NS, local_name

TIMED_OUT = 2150858793  # WSManFault code of w:TimedOut
RESOURCE_NOT_FOUND = 2150858752  # 0x80338000 ERROR_WSMAN_RESOURCE_NOT_FOUND: no instance for the URI and selectors
CANNOT_PROCESS_FILTER = 2150858778  # 0x8033801A ERROR_WSMAN_ENUMERATE_CANNOT_PROCESS_FILTER
WBEM_E_ACCESS_DENIED = 2147749891  # 0x80041003
WBEM_E_INVALID_NAMESPACE = 2147749902  # 0x8004100E
WBEM_E_INVALID_CLASS = 2147749904  # 0x80041010


class WSManError(Exception):
    """A request to a host's WinRM service failed. `retryable`: a read may be sent again."""

    retryable = False

    def __init__(self, message: str, *, endpoint: str = ""):
        super().__init__(message)
        self.message = message
        self.endpoint = endpoint


class TransportError(WSManError):
    """No answer: the host is unreachable, refused the connection, dropped it or did not reply in time."""

    retryable = True


class AuthenticationError(WSManError):
    """HTTP 401: the host rejected the credentials."""


class KerberosError(AuthenticationError):
    """Kerberos failed, on the controller (no ticket, unknown realm or SPN, KDC unreachable, clock skew) or at
    the host (HTTP 401 to the ticket); the message names the cause and the fix (wsman/kerberos.py)."""


class CertificateError(WSManError):
    """The host's TLS certificate failed validation."""


class ResponseError(WSManError):
    """The reply could not be used: too large, not XML, refused (DTD), or not the expected shape."""


class MismatchedReply(ResponseError):
    """The reply's RelatesTo names another request than the one sent (or a data reply names none): it answers
    something else, so nothing is read from it."""


class CredentialEncodingError(WSManError):
    """The credentials cannot be written in the encoding the transport sends them in (Basic: Latin-1)."""


class WSManFault(WSManError):
    """A SOAP fault, with the WS-Management and WMI error codes it carried."""

    def __init__(
        self,
        message: str,
        *,
        endpoint: str = "",
        subcode: str = "",
        wsman_code: int | None = None,
        wmi_code: int | None = None,
        http_status: int | None = None,
        relates_to: str | None = None,
    ):
        super().__init__(message, endpoint=endpoint)
        self.subcode = subcode
        self.wsman_code = wsman_code
        self.wmi_code = wmi_code
        self.http_status = http_status
        self.relates_to = relates_to  # the fault's RelatesTo header, None when it carried none

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return self.subcode in ("TimedOut", "InvalidEnumerationContext") or self.wsman_code == TIMED_OUT

    @property
    def namespace_missing(self) -> bool:
        """WMI says the namespace, or the class the request named in it, does not exist. Never a:DestinationUnreachable
        alone: with ERROR_WSMAN_RESOURCE_NOT_FOUND that is selectors matching no instance (instance_missing)."""
        return self.wmi_code == WBEM_E_INVALID_NAMESPACE or self.class_missing

    @property
    def class_missing(self) -> bool:
        """The class is unknown: WBEM_E_INVALID_CLASS, or a WQL filter WMI could not process, which it answers with
        n:CannotProcessFilter and no MSFT_WmiError ("The specified class does not exist in the given namespace")."""
        return self.wmi_code == WBEM_E_INVALID_CLASS or (self.subcode == "CannotProcessFilter" and self.wmi_code is None)

    @property
    def instance_missing(self) -> bool:
        """The selectors match no instance (the instance is gone, or the keys went stale): w:InvalidSelectors, or
        a:DestinationUnreachable with ERROR_WSMAN_RESOURCE_NOT_FOUND, as Windows answers a Get or an Invoke."""
        if self.subcode == "InvalidSelectors":
            return True
        return self.subcode == "DestinationUnreachable" and self.wsman_code == RESOURCE_NOT_FOUND

    @property
    def access_denied(self) -> bool:
        return self.subcode == "AccessDenied" or self.wmi_code == WBEM_E_ACCESS_DENIED or self.wsman_code == 5


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def relates_to(root: ET.Element) -> str | None:
    """The RelatesTo header of a reply, None when it has none."""
    text = root.findtext("s:Header/a:RelatesTo", namespaces=NS)
    return None if text is None else text.strip()


def _provider_message(wsman_fault: ET.Element) -> str:
    """The words of the WMI provider nested in a WSManFault's Message (f:ProviderFault, MS-WSMV 2.2.4.43): its own
    text, or the Message of the WSManFault inside it."""
    provider = wsman_fault.find("f:Message/f:ProviderFault", NS)
    if provider is None:
        return ""
    nested = provider.findtext("f:WSManFault/f:Message", default="", namespaces=NS).strip()
    return nested or (provider.text or "").strip()


def _join_messages(*messages: str) -> str:
    """The messages in order, each said once: WMI providers often repeat the fault's reason."""
    said: list[str] = []
    for message in messages:
        if message and not any(message in earlier for earlier in said):
            said.append(message)
    return " ".join(said)


def fault_from_envelope(root: ET.Element, *, endpoint: str, http_status: int | None) -> WSManFault | None:
    """The WSManFault in a parsed envelope, or None when it holds no s:Fault."""
    fault = root.find("s:Body/s:Fault", NS)
    if fault is None:
        return None
    subcode_value = (fault.findtext("s:Code/s:Subcode/s:Value", default="", namespaces=NS) or "").strip()
    subcode = local_name(subcode_value.split(":")[-1])
    reason = " ".join((fault.findtext("s:Reason/s:Text", default="", namespaces=NS) or "").split())
    detail = fault.find("s:Detail", NS)
    wsman_code = wmi_code = None
    wmi_message = provider_message = ""
    if detail is not None:
        wsman_fault = detail.find("f:WSManFault", NS)
        if wsman_fault is not None:
            wsman_code = _int(wsman_fault.get("Code"))
            reason = reason or (wsman_fault.findtext("f:Message", default="", namespaces=NS) or "").strip()
            provider_message = _provider_message(wsman_fault)
        wmi_error = detail.find(".//e:MSFT_WmiError", NS)
        if wmi_error is not None:
            wmi_code = _int(wmi_error.findtext("e:error_Code", namespaces=NS))
            wmi_message = (wmi_error.findtext("e:Message", default="", namespaces=NS) or "").strip()
    message = _join_messages(reason, provider_message, wmi_message) or "no message in the fault"
    codes = ", ".join(
        label for label in (
            subcode and (subcode_value if ":" in subcode_value else f"w:{subcode}"),
            wsman_code is not None and f"WSManFault {wsman_code}",
            wmi_code is not None and f"WMI error {wmi_code} (0x{wmi_code:08X})",
        ) if label
    )
    return WSManFault(
        f"{message} [{codes}]" if codes else message,
        endpoint=endpoint,
        subcode=subcode,
        wsman_code=wsman_code,
        wmi_code=wmi_code,
        http_status=http_status,
        relates_to=relates_to(root),
    )
