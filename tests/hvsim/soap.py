# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SOAP 1.2 / WS-Management envelopes: parse a request's headers, build responses and faults.

Fault shapes follow docs/wsman-wire.md; where Windows' wsmerror.h contradicts it (the enumeration-context
fault) the Windows value is used, see WsmanFault factories below.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from hvsim.xmlutil import ANONYMOUS, NS, attr, local_name, qname, safe_fromstring, text

FAULT_ACTION = 'http://schemas.dmtf.org/wbem/wsman/1/wsman/fault'
ADDRESSING_FAULT_ACTION = 'http://schemas.xmlsoap.org/ws/2004/08/addressing/fault'
_DURATION = re.compile(r'^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$')


@dataclass
class WsmanRequest:
    """The parts of a request envelope the responders use."""

    action: str
    resource_uri: str
    message_id: str
    selectors: dict[str, str]
    body: Element | None
    max_envelope_size: int | None = None
    operation_timeout: float | None = None
    options: dict[str, str] = field(default_factory=dict)


class WsmanFault(Exception):
    """A SOAP fault to send back (HTTP 500)."""

    def __init__(self, subcode: str, reason: str, *, code: str = 's:Sender', wsman_code: int | None = None,
                 wmi_code: int | None = None, wmi_message: str | None = None, action: str = FAULT_ACTION,
                 error_type: str = 'HRESULT'):
        super().__init__(reason)
        self.error_type = error_type  # MSFT_WmiError.error_Type: HRESULT, or Win32 for a cluster's Win32 error code
        self.subcode = subcode
        self.reason = reason
        self.code = code
        self.wsman_code = wsman_code
        self.wmi_code = wmi_code
        self.wmi_message = wmi_message
        self.action = action


# Fault factories: the codes are the ones docs/wsman-wire.md gives, except where noted.


def invalid_selectors(detail: str = '') -> WsmanFault:
    """Selectors that match no instance, or are missing/unexpected."""
    reason = 'The WS-Management service cannot process the request because the request contained invalid selectors for the resource. '
    return WsmanFault('w:InvalidSelectors', reason + detail, wsman_code=2150858843)


def resource_not_found() -> WsmanFault:
    """Selectors that name every key but match no instance, as Windows answers a Get or an Invoke (MS-WSMV 4.10;
    wsmerror.h ERROR_WSMAN_RESOURCE_NOT_FOUND 0x80338000, its message text)."""
    return WsmanFault('a:DestinationUnreachable', 'The WS-Management service cannot process the request. The service cannot find the '
                      'resource identified by the resource URI and selectors. ', wsman_code=2150858752, action=ADDRESSING_FAULT_ACTION)


def invalid_namespace(namespace: str) -> WsmanFault:
    """Namespace unknown on the host (Hyper-V role missing, or not a cluster node)."""
    return WsmanFault('w:InternalError', 'Invalid namespace ', code='s:Receiver', wsman_code=2150858752,
                      wmi_code=2147749902, wmi_message=f'Invalid namespace {namespace}')


def invalid_class(class_name: str) -> WsmanFault:
    """Class unknown in the namespace."""
    return WsmanFault('w:InternalError', 'Invalid class ', code='s:Receiver', wsman_code=2150858752,
                      wmi_code=2147749904, wmi_message=f'Invalid class {class_name}')


def invalid_query(detail: str) -> WsmanFault:
    """WQL that does not parse: WMI's WBEM_E_INVALID_QUERY (0x80041017)."""
    return WsmanFault('w:InternalError', 'Invalid query ', code='s:Receiver', wsman_code=2150858778,
                      wmi_code=2147749911, wmi_message=f'Invalid query: {detail}')


def wmi_error(code: int, message: str, wsman_code: int | None = None, error_type: str = 'HRESULT') -> WsmanFault:
    """A WMI provider failure carrying MSFT_WmiError.error_Code (an HRESULT, or a Win32 code with error_type 'Win32')."""
    return WsmanFault('w:InternalError', message, code='s:Receiver', wsman_code=wsman_code if wsman_code is not None else code,
                      wmi_code=code, wmi_message=message, error_type=error_type)


def timed_out() -> WsmanFault:
    """w:TimedOut, WSManFault 2150858793 (ERROR_WSMAN_OPERATION_TIMEDOUT)."""
    return WsmanFault('w:TimedOut', 'The WS-Management service cannot complete the operation within the time specified in OperationTimeout.',
                      code='s:Receiver', wsman_code=2150858793)


def invalid_enumeration_context() -> WsmanFault:
    """Unknown or expired context. wsmerror.h: wsen subcode, Receiver, 0x8033801B (the wire doc's 2150858776 is
    ERROR_WSMAN_ENUMERATE_FILTERING_NOT_SUPPORTED)."""
    return WsmanFault('n:InvalidEnumerationContext',
                      'The WS-Enumeration context in the enumeration is not valid. Enumeration may have been completed or canceled.',
                      code='s:Receiver', wsman_code=2150858779)


def action_not_supported(action: str) -> WsmanFault:
    """Unknown WS-Addressing action."""
    return WsmanFault('a:ActionNotSupported', f'The WS-Management service does not support the action {action}.',
                      wsman_code=2150858771, action=ADDRESSING_FAULT_ACTION)


def destination_unreachable(detail: str) -> WsmanFault:
    """Resource URI that names nothing WMI-shaped."""
    return WsmanFault('a:DestinationUnreachable', f'The WS-Management service cannot process the request. {detail}',
                      wsman_code=2150858752, action=ADDRESSING_FAULT_ACTION)


def invalid_body(detail: str) -> WsmanFault:
    """Body absent or not what the action needs (ERROR_WSMAN_INVALID_SOAP_BODY)."""
    reason = 'The WS-Management service cannot process the request because the request packet does not have a valid SOAP body.'
    return WsmanFault('w:InvalidBody', f'{reason} {detail}', wsman_code=2150858791)


def encoding_limit(detail: str) -> WsmanFault:
    """An envelope over MaxEnvelopeSize (ERROR_WSMAN_ENVELOPE_TOO_LARGE)."""
    reason = 'The WS-Management service cannot process the request because the envelope is larger than the maximum size allowed.'
    return WsmanFault('w:EncodingLimit', f'{reason} {detail}', wsman_code=2150858790)


def access_denied() -> WsmanFault:
    """Authenticated but not allowed."""
    return WsmanFault('w:AccessDenied', 'Access is denied. ', wsman_code=5)


# Parsing


def parse_duration(value: str | None) -> float | None:
    """xs:duration as WS-Man uses it (PT60S, PT1M30.5S) in seconds; None when absent or unreadable."""
    if not value:
        return None
    match = _DURATION.match(value.strip())
    if not match or not any(match.groups()):
        return None
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


def parse_request(data: bytes, limit: int) -> WsmanRequest:
    """Parse an envelope; raises UnsafeXmlError for bad XML and WsmanFault for a bad envelope."""
    root = safe_fromstring(data, limit)
    if root.tag != qname('s', 'Envelope'):
        raise WsmanFault('s:VersionMismatch' if local_name(root.tag) == 'Envelope' else 'w:InvalidBody',
                         'The WS-Management service does not support the SOAP version or the document is not an envelope.',
                         code='s:VersionMismatch' if local_name(root.tag) == 'Envelope' else 's:Sender', wsman_code=2150858765)
    header = root.find(qname('s', 'Header'))
    body = root.find(qname('s', 'Body'))
    if header is None or body is None:
        raise invalid_body('The envelope needs a Header and a Body.')

    def header_text(prefix: str, name: str) -> str:
        element = header.find(qname(prefix, name))
        return (element.text or '').strip() if element is not None else ''

    action = header_text('a', 'Action')
    if not action:
        raise WsmanFault('a:MessageInformationHeaderRequired', 'The request does not have all the expected SOAP headers (Action).',
                         wsman_code=2150858769, action=ADDRESSING_FAULT_ACTION)
    selectors = {}
    selector_set = header.find(qname('w', 'SelectorSet'))
    if selector_set is not None:
        for selector in selector_set.findall(qname('w', 'Selector')):
            name = selector.get('Name')
            if not name:
                raise invalid_selectors('A selector has no Name.')
            selectors[name] = (selector.text or '').strip()
    options = {}
    option_set = header.find(qname('w', 'OptionSet'))
    if option_set is not None:
        for option in option_set.findall(qname('w', 'Option')):
            options[option.get('Name', '')] = option.text or ''
    max_size = header_text('w', 'MaxEnvelopeSize')
    return WsmanRequest(
        action=action,
        resource_uri=header_text('w', 'ResourceURI'),
        message_id=header_text('a', 'MessageID'),
        selectors=selectors,
        body=body[0] if len(body) else None,
        max_envelope_size=int(max_size) if max_size.isdigit() else None,
        operation_timeout=parse_duration(header_text('w', 'OperationTimeout')),
        options=options,
    )


# Building

_ENVELOPE_NS = ' '.join(f'xmlns:{prefix}={attr(NS[prefix])}' for prefix in ('s', 'a', 'n', 'w', 'x', 'xsi', 'cim'))


def envelope(action: str, relates_to: str, body: str) -> bytes:
    """A response envelope around body (already serialized)."""
    relates = f'<a:RelatesTo>{text(relates_to)}</a:RelatesTo>' if relates_to else ''
    document = (
        f'<s:Envelope xml:lang="en-US" {_ENVELOPE_NS}><s:Header>'
        f'<a:Action>{text(action)}</a:Action>'
        f'<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>'
        f'<a:To>{ANONYMOUS}</a:To>{relates}'
        f'</s:Header><s:Body>{body}</s:Body></s:Envelope>'
    )
    return document.encode('utf-8')


def fault_envelope(fault: WsmanFault, relates_to: str, machine: str) -> bytes:
    """The fault as an envelope: WSManFault detail, plus MSFT_WmiError for WMI errors."""
    detail = ''
    if fault.wsman_code is not None:
        detail += (
            f'<f:WSManFault xmlns:f={attr(NS["f"])} Code="{fault.wsman_code}" Machine={attr(machine)}>'
            f'<f:Message>{text(fault.reason)}</f:Message></f:WSManFault>'
        )
    if fault.wmi_code is not None:
        detail += (
            f'<p:MSFT_WmiError b:IsCIM_Error="true" xmlns:b={attr(NS["b"])} xmlns:p={attr(NS["e"])} xsi:type="p:MSFT_WmiError_Type">'
            '<p:CIMStatusCode xsi:type="cim:cimUnsignedInt">1</p:CIMStatusCode>'
            '<p:ErrorSourceFormat xsi:type="cim:cimUnsignedShort">0</p:ErrorSourceFormat>'
            '<p:ErrorType xsi:type="cim:cimUnsignedShort">0</p:ErrorType>'
            f'<p:Message xsi:type="cim:cimString">{text(fault.wmi_message or fault.reason)}</p:Message>'
            f'<p:MessageID xsi:type="cim:cimString">{text(fault.error_type)} 0x{fault.wmi_code:08x}</p:MessageID>'
            '<p:PerceivedSeverity xsi:type="cim:cimUnsignedShort">0</p:PerceivedSeverity>'
            '<p:ProbableCause xsi:type="cim:cimUnsignedShort">0</p:ProbableCause>'
            '<p:error_Category xsi:type="cim:cimUnsignedInt">30</p:error_Category>'
            f'<p:error_Code xsi:type="cim:cimUnsignedInt">{fault.wmi_code}</p:error_Code>'
            f'<p:error_Type xsi:type="cim:cimString">{text(fault.error_type)}</p:error_Type>'
            f'<p:error_WindowsErrorMessage xsi:type="cim:cimString">{text(fault.wmi_message or fault.reason)}</p:error_WindowsErrorMessage>'
            '</p:MSFT_WmiError>'
        )
    subcode = (
        f'<s:Subcode><s:Value>{text(fault.subcode)}</s:Value></s:Subcode>'
        if fault.subcode and fault.subcode != fault.code else ''
    )
    body = (
        f'<s:Fault><s:Code><s:Value>{text(fault.code)}</s:Value>{subcode}</s:Code>'
        f'<s:Reason><s:Text xml:lang="en-US">{text(fault.reason)}</s:Text></s:Reason>'
        f'<s:Detail>{detail}</s:Detail></s:Fault>'
    )
    return envelope(fault.action, relates_to, body)
