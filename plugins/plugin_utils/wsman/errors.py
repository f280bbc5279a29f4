# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed errors of the WS-Management client, and the parsing of SOAP faults into them."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.soap import NS, local_name

TIMED_OUT = 2150858793  # WSManFault code of w:TimedOut
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
    ):
        super().__init__(message, endpoint=endpoint)
        self.subcode = subcode
        self.wsman_code = wsman_code
        self.wmi_code = wmi_code
        self.http_status = http_status

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return self.subcode in ("TimedOut", "InvalidEnumerationContext") or self.wsman_code == TIMED_OUT

    @property
    def namespace_missing(self) -> bool:
        return self.wmi_code in (WBEM_E_INVALID_NAMESPACE, WBEM_E_INVALID_CLASS) or self.subcode == "DestinationUnreachable"

    @property
    def access_denied(self) -> bool:
        return self.subcode == "AccessDenied" or self.wmi_code == WBEM_E_ACCESS_DENIED or self.wsman_code == 5


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def fault_from_envelope(root: ET.Element, *, endpoint: str, http_status: int | None) -> WSManFault | None:
    """The WSManFault in a parsed envelope, or None when it holds no s:Fault."""
    fault = root.find("s:Body/s:Fault", NS)
    if fault is None:
        return None
    subcode = local_name((fault.findtext("s:Code/s:Subcode/s:Value", default="", namespaces=NS)).split(":")[-1])
    reason = (fault.findtext("s:Reason/s:Text", default="", namespaces=NS) or "").strip()
    detail = fault.find("s:Detail", NS)
    wsman_code = wmi_code = None
    wmi_message = ""
    if detail is not None:
        wsman_fault = detail.find("f:WSManFault", NS)
        if wsman_fault is not None:
            wsman_code = _int(wsman_fault.get("Code"))
            reason = reason or (wsman_fault.findtext("f:Message", default="", namespaces=NS) or "").strip()
        wmi_error = detail.find(".//e:MSFT_WmiError", NS)
        if wmi_error is not None:
            wmi_code = _int(wmi_error.findtext("e:error_Code", namespaces=NS))
            wmi_message = (wmi_error.findtext("e:Message", default="", namespaces=NS) or "").strip()
    # WMI providers often repeat the fault's reason as MSFT_WmiError.Message: say it once.
    parts = [reason] + ([wmi_message] if wmi_message and wmi_message not in reason else [])
    message = " ".join(part for part in parts if part) or "no message in the fault"
    codes = ", ".join(
        label for label in (
            subcode and f"w:{subcode}",
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
    )
