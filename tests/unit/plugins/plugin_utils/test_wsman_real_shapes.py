# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reply shapes a real Windows WinRM/WMI host may send that hvsim does not: other namespace prefixes, declarations and
encodings, the enumeration's variants, loosely written values, method outputs, and HTTP error bodies that are not
SOAP. Each is read as it should be, or refused with an error naming the host and the cause (never a traceback, never
values taken untyped). Replies are real XML text, read by the real client; the HTTP layer by a tiny HTTP server over
a real socket, and by hvsim with NTLM message encryption. docs/wsman-wire.md records the forms and their sources."""

from __future__ import annotations

import http.server
import re
import threading
import typing as t

import pytest

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import HyperVError, HyperVHost
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.checks import check_blob
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.client import WSManClient
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.errors import (
    ResponseError,
    TransportError,
    WSManFault,
)
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.settings import WinRMSettings
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.soap import NS, EndpointReference, class_uri
from ansible_collections.vmgate.hyperv.tests.unit.plugins.plugin_utils.test_wsman_real_faults import Canned
from hvsim import pytest_fixtures
from hvsim.pytest_fixtures import HVSIM_PASSWORD, HVSIM_USER

hvsim_session = pytest_fixtures.hvsim_session
hvsim_lab = pytest_fixtures.hvsim_lab

V2 = "root/virtualization/v2"
SERVICE = class_uri(V2, "Msvm_VirtualSystemMigrationService")
SYSTEM = class_uri(V2, "Msvm_ComputerSystem")
JOB = class_uri(V2, "Msvm_MigrationJob")
VM_ID = "6C9A2A5F-7F1B-4D4B-9C1E-0F0E1D2C3B4A"
VM = {"Name": VM_ID, "CreationClassName": "Msvm_ComputerSystem"}
SERVICE_KEYS = {"CreationClassName": "Msvm_VirtualSystemMigrationService", "Name": "migrationwmi",
                "SystemCreationClassName": "Msvm_ComputerSystem", "SystemName": "HV01"}
# Prefixes as WinRM writes them (s, a, n, w, xsi, cim); tests that need others rename them in the text
XMLNS = " ".join(f'xmlns:{prefix}="{NS[prefix]}"' for prefix in ("s", "a", "n", "w", "xsi", "cim"))


def envelope(body: str, message_id: str) -> str:
    return (f"<s:Envelope {XMLNS}><s:Header><a:Action>{NS['n']}/EnumerateResponse</a:Action>"
            f"<a:RelatesTo>{message_id}</a:RelatesTo></s:Header><s:Body>{body}</s:Body></s:Envelope>")


def reply(body: str, shape: t.Callable[[str], str] = lambda text: text, encoding: str = "utf-8"):
    """A canned reply: the envelope around `body`, relating to the request, changed by `shape`, then encoded."""
    return lambda message_id: shape(envelope(body, message_id)).encode(encoding)


def computer_system(*properties: str, prefix: str = "p", type_attribute: bool = True) -> str:
    typed = f' xsi:type="{prefix}:Msvm_ComputerSystem_Type"' if type_attribute else ""
    inner = "".join(properties) or (f"<{prefix}:Caption>Virtual Machine</{prefix}:Caption><{prefix}:Name>{VM_ID}</{prefix}:Name>"
                                    f"<{prefix}:ElementName>web01</{prefix}:ElementName><{prefix}:EnabledState>2</{prefix}:EnabledState>")
    return f'<{prefix}:Msvm_ComputerSystem xmlns:{prefix}="{SYSTEM}"{typed}>{inner}</{prefix}:Msvm_ComputerSystem>'


def prop(name: str, text: str | None = None, attributes: str = "") -> str:
    if text is None:
        return f'<p:{name} xsi:nil="true"{attributes}/>'
    return f"<p:{name}{attributes}>{text}</p:{name}>"


def enumerated(items: str, end: str = "<w:EndOfSequence/>") -> str:
    return f"<n:EnumerateResponse><n:EnumerationContext>uuid:0A1B</n:EnumerationContext><w:Items>{items}</w:Items>{end}</n:EnumerateResponse>"


def pulled(items: str, last: bool) -> str:
    tail = "<n:EndOfSequence/>" if last else ""
    context = "" if last else "<n:EnumerationContext>uuid:0A1B</n:EnumerationContext>"
    return f"<n:PullResponse>{context}<n:Items>{items}</n:Items>{tail}</n:PullResponse>"


def in_turn(*replies: t.Any) -> t.Callable[[str], str]:
    """A Canned responder that answers each request with the next reply (each a function of the MessageID)."""
    answers = iter(replies)

    def respond(message_id: str) -> str:
        return next(answers)(message_id)
    return respond


def vms(*replies: t.Any) -> tuple[list[dict], Canned]:
    """The VMs a host with these replies reports, and the client (its `sent` counts the requests)."""
    client = Canned(in_turn(*replies))
    return HyperVHost(client).virtual_machines(None), client


WEB01 = {"Caption": "Virtual Machine", "Name": VM_ID, "ElementName": "web01", "EnabledState": 2, "OperationalStatus": []}


# --- Envelopes: prefixes, declarations, encodings, white space -----------------------------------------------------

def default_namespaces(text: str) -> str:
    """Every element in a default namespace, no prefixes (as another WS-Man stack may write it)."""
    text = text.replace(f"<s:Envelope {XMLNS}>", f'<Envelope xmlns="{NS["s"]}" {XMLNS}>')
    return re.sub(r"<(/?)([snwap]):(\w+)", lambda m: m[0] if m[1] else f'<{m[3]} xmlns="{_URIS[m[2]]}"',
                  text).replace("</s:", "</").replace("</n:", "</").replace("</w:", "</").replace("</a:", "</").replace("</p:", "</")


_URIS = {**NS, "p": SYSTEM}


ENVELOPE_SHAPES = {
    "s-prefix": lambda text: text,
    "env-prefix": lambda text: re.sub(r"\b(xmlns:)?s([:=])", r"\1env\2", text),
    "SOAP-ENV-prefix": lambda text: re.sub(r"\b(xmlns:)?s([:=])", r"\1SOAP-ENV\2", text),
    "wsman-wsen-wsa-prefixes": lambda text: re.sub(r"\b(xmlns:)?([nwa])([:=])",
                                                   lambda m: f"{m[1] or ''}{dict(n='wsen', w='wsman', a='wsa')[m[2]]}{m[3]}", text),
    "no-prefixes": default_namespaces,
    "declaration-utf-8": lambda text: '<?xml version="1.0" encoding="utf-8"?>\r\n' + text,
    "comments-crlf-indentation": lambda text: "<!-- reply -->\r\n" + text.replace("><", ">\r\n  <!-- c -->\r\n  <"),
}


@pytest.mark.parametrize("shape", ENVELOPE_SHAPES.values(), ids=ENVELOPE_SHAPES.keys())
def test_any_prefixes_comments_and_white_space_read_alike(shape):
    found, _client = vms(reply(enumerated(computer_system()), shape))
    assert found == [WEB01]


@pytest.mark.parametrize("encoding, declaration", [
    ("utf-16", '<?xml version="1.0" encoding="UTF-16"?>'),  # WinRM's UTF-16 replies: a BOM and this declaration
    ("utf-16-le", '<?xml version="1.0" encoding="UTF-16"?>'),
    ("utf-16-le", ""),
    ("utf-8-sig", '<?xml version="1.0" encoding="utf-8"?>'),
])
def test_utf_16_and_byte_order_marks(encoding, declaration):
    found, _client = vms(reply(enumerated(computer_system(prop("ElementName", "wéb01 網")).replace("<p:Name>", "")),
                               lambda text: declaration + text, encoding))
    assert found[0]["ElementName"] == "wéb01 網"


def test_other_prefixes_for_the_class_namespace_and_its_type():
    found, _client = vms(reply(enumerated(computer_system(prefix="q1") + computer_system(prefix="x", type_attribute=False))))
    assert found == [WEB01, WEB01]


# --- Enumerations ---------------------------------------------------------------------------------------------------

def test_a_context_with_end_of_sequence_is_not_pulled():
    found, client = vms(reply(enumerated(computer_system())))
    assert found == [WEB01] and client.sent == 1


def test_pages_of_many_items_are_pulled_to_the_end():
    found, client = vms(reply(enumerated(computer_system(), end="")), reply(pulled(computer_system() * 40, last=False)),
                        reply(pulled(computer_system() * 3, last=True)))
    assert len(found) == 44 and client.sent == 3


@pytest.mark.parametrize("first", [
    "<n:EnumerateResponse><n:EnumerationContext>uuid:0A1B</n:EnumerationContext></n:EnumerateResponse>",  # no Items
    enumerated("", end=""),  # an empty Items, more to come
], ids=["no-items", "empty-items"])
def test_an_enumeration_that_starts_empty_is_pulled(first):
    found, client = vms(reply(first), reply(pulled("", last=False)), reply(pulled(computer_system(), last=True)))
    assert found == [WEB01] and client.sent == 3


def test_an_empty_result():
    assert vms(reply(enumerated("")))[0] == []


def item(*parts: str) -> str:
    return f"<w:Item>{''.join(parts)}</w:Item>"


REFERENCE = (f"<a:EndpointReference><a:Address>{NS['a']}/role/anonymous</a:Address><a:ReferenceParameters>"
             f'<w:ResourceURI>{SYSTEM}</w:ResourceURI><w:SelectorSet><w:Selector Name="Name">{VM_ID}</w:Selector>'
             "</w:SelectorSet></a:ReferenceParameters></a:EndpointReference>")


@pytest.mark.parametrize("wrapped", [item(computer_system(), REFERENCE), item(REFERENCE, computer_system())],
                         ids=["object-then-epr", "epr-then-object"])
def test_items_wrapped_with_their_endpoint_reference_are_the_instances(wrapped):
    """EnumerationMode EnumerateObjectAndEPR (DSP0226 8.7) wraps each item in w:Item with its reference."""
    assert vms(reply(enumerated(wrapped)))[0] == [WEB01]


@pytest.mark.parametrize("only_reference", [item(REFERENCE), REFERENCE], ids=["item", "bare"])
def test_an_item_that_is_only_a_reference_is_refused(only_reference):
    with pytest.raises(ResponseError, match=r"^https://hv01\.example\.com:5986/wsman: .*endpoint reference but no instance"):
        vms(reply(enumerated(only_reference)))


def test_an_item_of_another_class_is_typed_as_the_class_asked_for():
    """A `*` enumeration with WQL may return a subclass, or anything: its values are checked all the same."""
    other = f'<o:Msvm_Other xmlns:o="{class_uri(V2, "Msvm_Other")}" xsi:type="o:Msvm_Other_Type">{{}}</o:Msvm_Other>'
    found, _client = vms(reply(enumerated(other.format("<o:EnabledState>3</o:EnabledState>"))))
    assert found == [{"EnabledState": 3, "OperationalStatus": []}]
    with pytest.raises(HyperVError, match=r"unusable Msvm_ComputerSystem: Msvm_ComputerSystem.EnabledState: 'abc' is not a uint16"):
        vms(reply(enumerated(other.format("<o:EnabledState>abc</o:EnabledState>"))))


def test_a_job_of_a_subclass_without_a_schema_is_typed_as_a_migration_job():
    job = ('<j:Msvm_StorageJob xmlns:j="{}" xsi:type="j:Msvm_StorageJob_Type"><j:InstanceID>J1</j:InstanceID>'
           "<j:JobState>7</j:JobState><j:ErrorCode>0</j:ErrorCode></j:Msvm_StorageJob>").format(class_uri(V2, "Msvm_StorageJob"))
    host = HyperVHost(Canned(in_turn(reply(enumerated(job)))))
    found = host.job_by_query(EndpointReference(class_uri(V2, "Msvm_ConcreteJob"), {"InstanceID": "J1"}))
    assert (found["JobState"], found["ErrorCode"], found.get("PercentComplete")) == (7, 0, None)


# --- Values ---------------------------------------------------------------------------------------------------------

CIM_TYPE = ' xsi:type="cim:cimUnsignedShort"'  # as MSFT_WmiError's properties carry it


@pytest.mark.parametrize("properties, expected", [
    ((prop("EnabledState", None), prop("ElementName", None), prop("OperationalStatus", None)),
     {"EnabledState": None, "ElementName": None, "OperationalStatus": []}),
    ((prop("EnabledState", None, ' xsi:type="cim:cimUnsignedShort"'),), {"EnabledState": None, "OperationalStatus": []}),
    ((prop("Caption", "Virtual Machine"),), {"Caption": "Virtual Machine", "OperationalStatus": []}),  # the rest missing
    ((prop("OperationalStatus", "2"),), {"OperationalStatus": [2]}),
    ((prop("OperationalStatus", "2"), prop("OperationalStatus", "11")), {"OperationalStatus": [2, 11]}),
    ((prop("EnabledState", "2", CIM_TYPE), prop("HealthState", "\r\n 5 \r\n")), {"EnabledState": 2, "HealthState": 5, "OperationalStatus": []}),
    ((prop("EnabledState", "00032769"),), {"EnabledState": 32769, "OperationalStatus": []}),
    ((prop("ElementName", "a &amp; &lt;b&gt; &#x7f51;"),), {"ElementName": "a & <b> 网", "OperationalStatus": []}),
    ((prop("ElementName", "<![CDATA[a & <b>]]>"),), {"ElementName": "a & <b>", "OperationalStatus": []}),
], ids=["nil-everywhere", "nil-with-xsi-type", "properties-missing", "array-of-one", "array-of-two", "xsi-type-and-white-space",
        "leading-zeros", "entities", "cdata"])
def test_values_as_a_host_may_write_them(properties, expected):
    assert vms(reply(enumerated(computer_system(*properties))))[0] == [expected]


@pytest.mark.parametrize("text", ["-1", "+2", "65536", "2.0", "", "0x10", "٣"])
def test_a_value_that_is_no_uint16_is_refused_naming_the_property(text):
    with pytest.raises(HyperVError) as raised:
        vms(reply(enumerated(computer_system(prop("EnabledState", text)))))
    assert str(raised.value) == (f"https://hv01.example.com:5986/wsman returned an unusable Msvm_ComputerSystem: "
                                 f"Msvm_ComputerSystem.EnabledState: {text!r} is not a uint16")


@pytest.mark.parametrize("text, expected", [("true", True), ("false", False), ("TRUE", True), ("False", False),
                                            (" true\r\n", True), ("1", True), ("0", False)])
def test_booleans(text, expected):
    typed = (f'<m:S xmlns:m="{class_uri(V2, "Msvm_VirtualSystemMigrationServiceSettingData")}" '
             'xsi:type="m:Msvm_VirtualSystemMigrationServiceSettingData_Type">'
             f'<m:EnableVirtualSystemMigration>{text}</m:EnableVirtualSystemMigration></m:S>')
    host = HyperVHost(Canned(in_turn(reply(enumerated(typed)))))
    assert host.migration_settings()["EnableVirtualSystemMigration"] is expected


# --- Method outputs -------------------------------------------------------------------------------------------------

def service(*replies: t.Any) -> HyperVHost:
    host = HyperVHost(Canned(in_turn(*replies)))
    host.use_known_service(SERVICE_KEYS)
    return host


def output(method: str, inner: str) -> t.Any:
    return reply(f'<p:{method}_OUTPUT xmlns:p="{SERVICE}">{inner}</p:{method}_OUTPUT>')


def vector(vector_id: int, operation: int, info: t.Any, prefix: str = "v") -> str:
    return (f'<p:CompatibilityVectors xmlns:{prefix}="{class_uri(V2, "Msvm_CompatibilityVector")}" '
            f'xsi:type="{prefix}:Msvm_CompatibilityVector_Type"><{prefix}:CompareOperation>{operation}</{prefix}:CompareOperation>'
            f"<{prefix}:CompatibilityInfo>{info}</{prefix}:CompatibilityInfo><{prefix}:VectorId>{vector_id}</{prefix}:VectorId>"
            "</p:CompatibilityVectors>")


@pytest.mark.parametrize("return_value", ["", '<p:ReturnValue xsi:nil="true"/>'], ids=["missing", "nil"])
def test_a_method_without_a_return_value_is_an_error(return_value):
    with pytest.raises(HyperVError, match=r"^https://hv01\.example\.com:5986/wsman: GetSystemCompatibilityVectors returned no ReturnValue$"):
        service(output("GetSystemCompatibilityVectors", vector(1, 0, 5) + return_value)).vectors(VM)


@pytest.mark.parametrize("absent", ["", '<p:CompatibilityVectors xsi:nil="true"/>'], ids=["absent", "nil"])
def test_no_vectors(absent):
    assert service(output("GetSystemCompatibilityVectors", absent + "<p:ReturnValue>0</p:ReturnValue>")).vectors(VM) == []


def test_uint64_vectors_beyond_2_63_and_their_limit():
    top = 2**64 - 1
    found = service(output("GetSystemCompatibilityVectors", vector(1, 2, top) + vector(2, 0, 2**63, prefix="q")
                           + "<p:ReturnValue>\r\n0\r\n</p:ReturnValue>")).vectors(VM)
    assert [one["compatibility_info"] for one in found] == [top, 2**63]
    for bad in (2**64, -1):  # never wrapped into range
        with pytest.raises(HyperVError, match=rf"CompatibilityVectors\[0\]\.CompatibilityInfo: '{bad}' is not a uint64"):
            service(output("GetSystemCompatibilityVectors", vector(1, 2, bad) + "<p:ReturnValue>0</p:ReturnValue>")).vectors(VM)


def job_reference(selectors: str) -> str:
    return (f"<p:Job><a:Address>{NS['a']}/role/anonymous</a:Address><a:ReferenceParameters>"
            f"<w:ResourceURI>{JOB}</w:ResourceURI><w:SelectorSet>{selectors}</w:SelectorSet></a:ReferenceParameters></p:Job>")


def test_a_job_reference_keeps_every_selector_in_the_order_sent():
    selectors = ('<w:Selector Name="__cimnamespace">root/virtualization/v2</w:Selector>'
                 '<w:Selector Name="InstanceID">5B0DDA1C-0F38-4CF8-9C69-8D8C4B2F7B31</w:Selector>')
    found = service(output("MigrateVirtualSystemToHost", "<p:ReturnValue>4096</p:ReturnValue>" + job_reference(selectors)))
    job = found.call("MigrateVirtualSystemToHost", {}, read_only=False)["Job"]
    assert job == EndpointReference(JOB, {"__cimnamespace": V2, "InstanceID": "5B0DDA1C-0F38-4CF8-9C69-8D8C4B2F7B31"})
    assert list(job.selectors) == ["__cimnamespace", "InstanceID"]


@pytest.mark.parametrize("bytes_sent, expected", [
    ("<p:CompatibilityInfo>1</p:CompatibilityInfo><p:CompatibilityInfo>255</p:CompatibilityInfo>", ("Af8=", "array")),
    ("<p:CompatibilityInfo>7</p:CompatibilityInfo>", ("Bw==", "array")),
    ("<p:CompatibilityInfo>\r\nAf8=\r\n</p:CompatibilityInfo>", ("Af8=", "base64")),
], ids=["a-byte-each", "one-byte", "base64"])
def test_uint8_array_in_either_form(bytes_sent, expected):
    host = service(output("GetSystemCompatibilityInfo", bytes_sent + "<p:ReturnValue>0</p:ReturnValue>"))
    assert host.compatibility_blob(VM) == expected


def msvm_error(message: str, declaration: str = "", extra: str = "") -> str:
    """Msvm_Error as CIM-XML (DSP0201) text, escaped once more to travel as a string parameter."""
    text = (f'{declaration}<INSTANCE CLASSNAME="Msvm_Error"><QUALIFIER NAME="Indication" TYPE="boolean"><VALUE>TRUE</VALUE></QUALIFIER>'
            f'<PROPERTY NAME="Message" CLASSORIGIN="CIM_Error" TYPE="string"><QUALIFIER NAME="Description" TYPE="string">'
            f'<VALUE>not this</VALUE></QUALIFIER><VALUE>{message}</VALUE></PROPERTY>'
            '<PROPERTY.ARRAY NAME="MessageArguments" TYPE="string"><VALUE.ARRAY><VALUE>a</VALUE><VALUE>b</VALUE></VALUE.ARRAY></PROPERTY.ARRAY>'
            f'<PROPERTY NAME="PerceivedSeverity" TYPE="uint16"><VALUE>6</VALUE></PROPERTY>{extra}</INSTANCE>')
    return f"<p:Reasons>{text.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')}</p:Reasons>"


@pytest.mark.parametrize("declaration", ["", '<?xml version="1.0"?>', '<?xml version="1.0" encoding="utf-16"?>\r\n',
                                         '<?xml version="1.0" encoding="UTF-16" standalone="yes"?>'],
                         ids=["none", "version-only", "utf-16", "utf-16-standalone"])
def test_reasons_as_cim_xml_with_entities_and_any_declaration(declaration):
    reasons = msvm_error("Processor &amp; &quot;AVX&quot; &lt;missing&gt; on 'HV02'", declaration)
    found = check_blob(service(output("CheckSystemCompatibilityInfo", reasons + "<p:ReturnValue>32784</p:ReturnValue>")), "AQI=", "array")
    assert found["reasons"] == ["Processor & \"AVX\" <missing> on 'HV02'"] and found["return_value"] == 32784


def test_reasons_with_a_dtd_are_refused_naming_the_parameter():
    reasons = msvm_error("x", '<!DOCTYPE INSTANCE SYSTEM "http://127.0.0.1:9/cim.dtd">')
    with pytest.raises(HyperVError, match=r"wsman: Reasons\[0\]: the response contains a DTD"):
        check_blob(service(output("CheckSystemCompatibilityInfo", reasons + "<p:ReturnValue>32784</p:ReturnValue>")), "AQI=", "array")


# --- HTTP: what a real socket carries -------------------------------------------------------------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    answer: tuple[int, str, t.Callable[[str], bytes]]

    def do_POST(self) -> None:  # noqa: N802  (http.server's name)
        request = self.rfile.read(int(self.headers["Content-Length"]))
        message_id = re.search(rb"<a:MessageID>([^<]+)</a:MessageID>", request)[1].decode()
        status, content_type, body = self.server.answer  # type: ignore[attr-defined]
        data = body(message_id)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: t.Any) -> None:
        pass


@pytest.fixture(scope="module")
def http_host():
    """A tiny WinRM stand-in on a real socket: answers every POST with `server.answer` (status, type, body(id))."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def over_http(server: t.Any, status: int, content_type: str, body: t.Callable[[str], bytes]) -> list[dict]:
    server.answer = (status, content_type, body)
    settings = WinRMSettings(host="127.0.0.1", port=server.server_address[1], scheme="http", transport="basic",
                             username="u", password="p", allow_basic_over_http=True).check()
    return HyperVHost(WSManClient(settings, read_attempts=1)).virtual_machines(None)


def access_denied(message_id: str) -> str:
    return (f'<s:Envelope {XMLNS} xmlns:f="{NS["f"]}"><s:Header><a:RelatesTo>{message_id}</a:RelatesTo></s:Header><s:Body>'
            "<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>w:AccessDenied</s:Value></s:Subcode></s:Code>"
            '<s:Reason><s:Text xml:lang="en-US">Access is denied. </s:Text></s:Reason><s:Detail>'
            '<f:WSManFault Code="5" Machine="hv01"><f:Message>Access is denied. </f:Message></f:WSManFault>'
            "</s:Detail></s:Fault></s:Body></s:Envelope>")


@pytest.mark.parametrize("status, content_type, encoding, declaration", [
    (500, "application/soap+xml;charset=UTF-8", "utf-8", ""),
    (400, "application/soap+xml;charset=UTF-8", "utf-8", ""),
    (500, "application/soap+xml;charset=UTF-16", "utf-16", '<?xml version="1.0" encoding="UTF-16"?>'),
    (200, "application/soap+xml;charset=UTF-16", "utf-16", '<?xml version="1.0" encoding="UTF-16"?>'),
    (500, "application/soap+xml;charset=UTF-8", "utf-8", "<?xml version=\"1.0\" encoding=\"utf-8\"?>"),
], ids=["500", "400", "500-utf-16", "200-utf-16", "500-declared-utf-8"])
def test_a_fault_in_any_status_and_encoding_is_that_fault(http_host, status, content_type, encoding, declaration):
    with pytest.raises(WSManFault) as raised:
        over_http(http_host, status, content_type, lambda message_id: (declaration + access_denied(message_id)).encode(encoding))
    assert raised.value.access_denied and raised.value.message == "Access is denied. [w:AccessDenied, WSManFault 5]"


def test_a_utf_16_reply_with_its_charset_is_read(http_host):
    body = reply(enumerated(computer_system()), lambda text: '<?xml version="1.0" encoding="UTF-16"?>' + text, "utf-16")
    assert over_http(http_host, 200, "application/soap+xml;charset=UTF-16", body) == [WEB01]


@pytest.mark.parametrize("status, body, error, said", [
    (500, b"<!DOCTYPE html><html><head><title>500 - Internal server error.</title></head><body>IIS</body></html>",
     ResponseError, "answered HTTP 500 without a SOAP fault (a page titled '500 - Internal server error.')"),
    (400, b"<HTML><HEAD><TITLE>Bad Request</TITLE></HEAD><BODY><h2>Bad Request - Invalid Verb</h2></BODY></HTML>",
     ResponseError, "answered HTTP 400 without a SOAP fault (a page titled 'Bad Request')"),
    (500, "<html><title>Fehler: ungültig</title></html>".encode("latin-1"),
     ResponseError, "answered HTTP 500 without a SOAP fault (a page titled 'Fehler: ung\ufffdltig')"),
    (500, b"", ResponseError, "answered HTTP 500 without a SOAP fault (an empty body)"),
    (500, bytes(range(256)), ResponseError, "answered HTTP 500 without a SOAP fault"),
    (502, b"<html><head><title>502 Bad Gateway</title></head></html>",
     TransportError, "answered HTTP 502 (temporarily unavailable) (a page titled '502 Bad Gateway')"),
    (200, b"OK", ResponseError, ": the response is not well-formed XML (syntax error, line 1)"),
    (200, b"", ResponseError, ": the response is not well-formed XML (no element found, line 1)"),
    (200, b"<html><head><title>Sign in</title></head><body/></html>",
     ResponseError, ": the reply has no SOAP body: it is <html>, not a SOAP 1.2 envelope (a page titled 'Sign in')"),
    (200, b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body/></e:Envelope>',
     ResponseError, ": the reply has no SOAP body: it is <Envelope>, not a SOAP 1.2 envelope"),
], ids=["iis-500", "http-sys-400", "latin-1-500", "empty-500", "binary-500", "proxy-502", "200-text", "200-empty",
        "200-html", "200-soap-1.1"])
def test_a_reply_that_is_no_ws_management_is_an_error_naming_the_host_and_what_came(http_host, status, body, error, said):
    with pytest.raises(error) as raised:
        over_http(http_host, status, "text/html", lambda _message_id: body)
    assert type(raised.value) is error  # pylint: disable=unidiomatic-typecheck  # this class, not a subclass
    assert str(raised.value) == f"http://127.0.0.1:{http_host.server_address[1]}/wsman{' ' if said[0] != ':' else ''}{said}"


def test_a_utf_16_fault_under_message_encryption_is_that_fault(hvsim_lab):
    """pywinrm decrypts an HTTP error's body, then decodes it as UTF-8: a UTF-16 fault must still be read."""
    handle = hvsim_lab.hosts["HV-OLD-01"]
    fault = ('<?xml version="1.0" encoding="UTF-16"?>' + access_denied("uuid:00000000-0000-0000-0000-000000000000")
             .replace("<a:RelatesTo>uuid:00000000-0000-0000-0000-000000000000</a:RelatesTo>", "")).encode("utf-16")
    hvsim_lab.inject("HV-OLD-01", "raw", op="Enumerate:*", body=fault, status=500,
                     content_type="application/soap+xml;charset=UTF-16")
    settings = WinRMSettings(host=handle.bind, port=handle.http_port, scheme="http", username=HVSIM_USER,
                             password=HVSIM_PASSWORD).check()
    with pytest.raises(WSManFault) as raised:
        HyperVHost(WSManClient(settings, read_attempts=1)).virtual_machines(None)
    assert raised.value.access_denied and raised.value.http_status == 500
