# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""wsman_errors: SOAP faults as Hyper-V hosts send them (docs/wsman-wire.md, Faults) become typed
errors whose codes, messages and retryable / namespace_missing / access_denied are right."""

from __future__ import annotations

import pytest

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.errors import (
    AuthenticationError,
    CertificateError,
    ResponseError,
    TransportError,
    WSManError,
    WSManFault,
    fault_from_envelope,
)
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.soap import NS, parse_document

ENDPOINT = "https://hv01.example.com:5986/wsman"
XMLNS = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in NS.items())


def fault_envelope(subcode, reason="", wsman_code=None, wsman_message="", wmi_code=None, wmi_message=""):
    """A fault envelope in the shape of docs/wsman-wire.md; parts left out are omitted."""
    wsman = wmi = ""
    if wsman_code is not None:
        wsman = f'<f:WSManFault Code="{wsman_code}" Machine="hv01"><f:Message>{wsman_message}</f:Message></f:WSManFault>'
    if wmi_code is not None:
        wmi = (f'<e:MSFT_WmiError xsi:type="e:MSFT_WmiError_Type"><e:Message>{wmi_message}</e:Message>'
               f"<e:error_Code>{wmi_code}</e:error_Code></e:MSFT_WmiError>")
    detail = f"<s:Detail>{wsman}{wmi}</s:Detail>" if wsman or wmi else ""
    return (
        f'<s:Envelope {XMLNS}><s:Header><a:Action>http://schemas.dmtf.org/wbem/wsman/1/wsman/fault</a:Action>'
        f"</s:Header><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>{subcode}</s:Value>"
        f'</s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">{reason}</s:Text></s:Reason>{detail}'
        "</s:Fault></s:Body></s:Envelope>"
    )


def fault(text, http_status=500):
    return fault_from_envelope(parse_document(text.encode(), 512000), endpoint=ENDPOINT, http_status=http_status)


INVALID_SELECTORS = fault_envelope(
    "w:InvalidSelectors",
    "The WS-Management service cannot process the request because the request contained invalid selectors "
    "for the resource. ",
    2150858843, "The selectors match no instance.",
)
TIMED_OUT = fault_envelope(
    "w:TimedOut", "The WS-Management service cannot complete the operation within the time specified in "
    "OperationTimeout.", 2150858793,
)
INVALID_NAMESPACE = fault_envelope(
    "w:InternalError", "", 2150858752, "The WS-Management service cannot process the request.",
    2147749902, "Invalid namespace ",
)
INVALID_CLASS = fault_envelope("w:InternalError", "Invalid class", 2150858752, "", 2147749904, "Invalid class ")
UNREACHABLE = fault_envelope("a:DestinationUnreachable", "No route can be determined to reach the destination.")
ACCESS_DENIED = fault_envelope("w:AccessDenied", "Access is denied.", 5, "Access is denied. ")
WMI_ACCESS_DENIED = fault_envelope("w:InternalError", "", 2150859193, "", 2147749891, "Access denied ")
PROVIDER_FAILURE = fault_envelope("w:InternalError", "", 2150859193, "", 2147942405, "Generic failure ")
BAD_CONTEXT = fault_envelope("w:InvalidEnumerationContext", "The enumeration context is not valid.", 2150858776)
TIMEOUT_CODE_ONLY = fault_envelope("w:InternalError", "", 2150858793, "The operation timed out.")

# envelope: (subcode, wsman_code, wmi_code, retryable, namespace_missing, access_denied, message fragments)
FAULTS = {
    "invalid-selectors": (INVALID_SELECTORS, "InvalidSelectors", 2150858843, None, False, False, False,
                          ["invalid selectors", "[w:InvalidSelectors, WSManFault 2150858843]"]),
    "timed-out": (TIMED_OUT, "TimedOut", 2150858793, None, True, False, False,
                  ["OperationTimeout", "w:TimedOut", "WSManFault 2150858793"]),
    "timed-out-by-code": (TIMEOUT_CODE_ONLY, "InternalError", 2150858793, None, True, False, False,
                          ["The operation timed out", "WSManFault 2150858793"]),
    "bad-enumeration-context": (BAD_CONTEXT, "InvalidEnumerationContext", 2150858776, None, True, False, False,
                                ["w:InvalidEnumerationContext", "WSManFault 2150858776"]),
    "invalid-namespace": (INVALID_NAMESPACE, "InternalError", 2150858752, 2147749902, False, True, False,
                          ["cannot process the request", "Invalid namespace",
                           "WMI error 2147749902 (0x8004100E)", "WSManFault 2150858752"]),
    "invalid-class": (INVALID_CLASS, "InternalError", 2150858752, 2147749904, False, True, False,
                      ["Invalid class", "WMI error 2147749904 (0x80041010)"]),
    # a:DestinationUnreachable without a WMI error says nothing of the namespace
    "destination-unreachable": (UNREACHABLE, "DestinationUnreachable", None, None, False, False, False,
                                ["No route", "a:DestinationUnreachable"]),
    "access-denied": (ACCESS_DENIED, "AccessDenied", 5, None, False, False, True,
                      ["Access is denied.", "[w:AccessDenied, WSManFault 5]"]),
    "wmi-access-denied": (WMI_ACCESS_DENIED, "InternalError", 2150859193, 2147749891, False, False, True,
                          ["Access denied", "WMI error 2147749891 (0x80041003)"]),
    "provider-failure": (PROVIDER_FAILURE, "InternalError", 2150859193, 2147942405, False, False, False,
                         ["Generic failure", "WSManFault 2150859193", "WMI error 2147942405 (0x80070005)"]),
}


@pytest.mark.parametrize(
    "text, subcode, wsman_code, wmi_code, retryable, namespace_missing, access_denied, fragments",
    FAULTS.values(), ids=FAULTS.keys(),
)
def test_fault_from_envelope(text, subcode, wsman_code, wmi_code, retryable, namespace_missing, access_denied,
                             fragments):
    error = fault(text)
    assert isinstance(error, WSManFault)
    assert (error.subcode, error.wsman_code, error.wmi_code) == (subcode, wsman_code, wmi_code)
    assert (error.retryable, error.namespace_missing, error.access_denied) == (retryable, namespace_missing, access_denied)
    assert (error.endpoint, error.http_status) == (ENDPOINT, 500)
    assert str(error) == error.message
    for fragment in fragments:
        assert fragment in error.message


@pytest.mark.parametrize("text", [
    f'<s:Envelope {XMLNS}><s:Header/><s:Body><n:PullResponse><n:Items/><n:EndOfSequence/></n:PullResponse>'
    "</s:Body></s:Envelope>",
    f"<s:Envelope {XMLNS}><s:Header/><s:Body/></s:Envelope>",
    f"<s:Envelope {XMLNS}/>",
], ids=["pull-response", "empty-body", "no-body"])
def test_no_fault_is_none(text):
    assert fault(text, http_status=200) is None


def test_reason_comes_from_the_wsman_fault_message_when_the_soap_reason_is_empty():
    error = fault(fault_envelope("w:InternalError", "  ", 2150859193, "  The provider failed.  "))
    assert error.message == "The provider failed. [w:InternalError, WSManFault 2150859193]"


def test_fault_without_any_message():
    assert fault(fault_envelope("")).message == "no message in the fault"


def test_unreadable_codes_are_none():
    error = fault(fault_envelope("w:InternalError", "odd", "0x80338029", "", "not-a-number"))
    assert (error.wsman_code, error.wmi_code) == (None, None)
    assert error.message == "odd [w:InternalError]"


@pytest.mark.parametrize("error_class, retryable", [
    (WSManError, False), (TransportError, True), (AuthenticationError, False), (CertificateError, False),
    (ResponseError, False), (WSManFault, False),
])
def test_error_classes(error_class, retryable):
    error = error_class("it failed", endpoint=ENDPOINT)
    assert isinstance(error, WSManError)
    assert (error.retryable, error.endpoint, error.message, str(error)) == (retryable, ENDPOINT, "it failed", "it failed")
