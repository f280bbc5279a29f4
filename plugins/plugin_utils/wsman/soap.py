# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""WS-Management XML: safe parsing, envelopes, and instances (see docs/wsman-wire.md).

Only the shapes vmgate.hyperv exchanges with Hyper-V are built here. Values are kept as text;
typing them (integers, booleans, arrays) needs the class schema and happens in cim_types.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import typing as t
import uuid
import xml.etree.ElementTree as ET
from xml.parsers import expat
from xml.sax.saxutils import escape, quoteattr

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "n": "http://schemas.xmlsoap.org/ws/2004/09/enumeration",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "cim": "http://schemas.dmtf.org/wbem/wscim/1/common",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
    "e": "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/MSFT_WmiError",
}
WMI_URI = "http://schemas.microsoft.com/wbem/wsman/1/wmi"
WQL_DIALECT = "http://schemas.microsoft.com/wbem/wsman/1/WQL"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
ENUMERATE = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate"
PULL = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Pull"
GET = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get"

_ENVELOPE_PREFIXES = ("s", "a", "n", "x", "w", "p", "xsi")
_NIL = f"{{{NS['xsi']}}}nil"
_TYPE = f"{{{NS['xsi']}}}type"
_DATETIME_TAGS = {f"{{{NS['cim']}}}{name}" for name in ("Datetime", "Interval", "Date", "Time")}
_ADDRESS = f"{{{NS['a']}}}Address"
_REFERENCE_PARAMETERS = f"{{{NS['a']}}}ReferenceParameters"
_ENDPOINT_REFERENCE = f"{{{NS['a']}}}EndpointReference"
_ITEM = f"{{{NS['w']}}}Item"
# An XML declaration at the start of an embedded CIM-XML string: the string is already decoded text, so an encoding it
# declares (utf-16, as .NET writes into a string) no longer applies, and would make the parser refuse the UTF-8 bytes.
_XML_DECLARATION = re.compile(r"\A\s*<\?xml\b[^>]*\?>")


_DECIMAL_BYTE = re.compile(r"[0-9]{1,3}")  # ASCII only: str.isdigit() accepts other scripts' digits


class XMLRefused(ValueError):
    """A document the client will not parse: too large, malformed, or with a DTD."""


def class_uri(namespace: str, class_name: str) -> str:
    """Resource URI of a WMI class, e.g. .../wmi/root/virtualization/v2/Msvm_ComputerSystem."""
    return f"{WMI_URI}/{namespace.strip('/')}/{class_name}"


# Parsing


# Replies nest about a dozen levels (envelope, body, items, instance, embedded instance, reference, selector); the
# readers below recurse per level, so a document nested thousands deep would exhaust Python's stack.
MAX_DEPTH = 100


def parse_document(data: bytes, max_bytes: int) -> ET.Element:
    """Parse untrusted XML: bounded in size and depth, no DTD, no entity declarations."""
    if len(data) > max_bytes:
        raise XMLRefused(f"the response is {len(data)} bytes, more than the {max_bytes} allowed")
    _scan(data)
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise XMLRefused(f"the response is not well-formed XML ({exc})") from None


def _scan(data: bytes) -> None:
    """A first pass with expat that stops at any DTD, before an entity could be expanded, and at elements nested
    deeper than MAX_DEPTH."""
    depth = 0

    def refuse(*_args: t.Any) -> None:
        raise XMLRefused("the response contains a DTD or an entity declaration, which is refused")

    def start(*_args: t.Any) -> None:
        nonlocal depth
        depth += 1
        if depth > MAX_DEPTH:
            raise XMLRefused(f"the response has elements nested more than {MAX_DEPTH} levels deep, which is refused")

    def end(*_args: t.Any) -> None:
        nonlocal depth
        depth -= 1

    scanner = expat.ParserCreate()
    scanner.StartElementHandler = start
    scanner.EndElementHandler = end
    scanner.StartDoctypeDeclHandler = refuse
    scanner.EntityDeclHandler = refuse
    scanner.UnparsedEntityDeclHandler = refuse
    scanner.ExternalEntityRefHandler = refuse
    try:
        scanner.Parse(data, True)
    except expat.ExpatError as exc:
        raise XMLRefused(f"the response is not well-formed XML ({expat.ErrorString(exc.code)}, line {exc.lineno})") from None


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


@dataclasses.dataclass(frozen=True)
class EndpointReference:
    """A REF value: the resource URI and selectors that identify one instance."""

    resource_uri: str
    selectors: dict[str, str]

    @property
    def class_name(self) -> str:
        return self.resource_uri.rsplit("/", 1)[-1]


@dataclasses.dataclass
class Instance:
    """A CIM instance as it came over the wire: property name -> text, None, list, Instance or EPR."""

    class_name: str
    properties: dict[str, t.Any]


def parse_epr(element: ET.Element) -> EndpointReference:
    resource_uri = element.findtext(".//w:ResourceURI", default="", namespaces=NS).strip()
    selectors = {
        selector.get("Name", ""): (selector.text or "")
        for selector in element.iterfind(".//w:SelectorSet/w:Selector", NS)
    }
    return EndpointReference(resource_uri, selectors)


def parse_value(element: ET.Element) -> t.Any:
    """The value of one property or parameter element."""
    if element.get(_NIL) in ("true", "1"):
        return None
    children = list(element)
    if not children:
        return element.text or ""
    if children[0].tag in _DATETIME_TAGS:
        return children[0].text or ""
    if any(child.tag in (_ADDRESS, _REFERENCE_PARAMETERS) for child in children):
        return parse_epr(element)
    return parse_instance(element)


def parse_instance(element: ET.Element) -> Instance:
    """An instance element; repeated property elements become lists."""
    type_name = local_name(element.get(_TYPE, "").split(":")[-1])
    if type_name.endswith("_Type"):
        class_name = type_name[: -len("_Type")]
    else:  # properties live in the class's resource URI namespace
        first = next(iter(element), None)
        namespace = first.tag[1:].split("}")[0] if first is not None and first.tag.startswith("{") else ""
        class_name = namespace.rsplit("/", 1)[-1] or local_name(element.tag)
    return Instance(class_name, collect_properties(element))


def parse_item(element: ET.Element) -> Instance:
    """One item of an enumeration: an instance, or a w:Item holding the instance and its endpoint reference (what
    EnumerationMode EnumerateObjectAndEPR returns). An item that is only a reference carries no properties to read."""
    if element.tag == _ITEM:
        element = next((child for child in element if child.tag != _ENDPOINT_REFERENCE), element)
    if element.tag in (_ITEM, _ENDPOINT_REFERENCE):
        raise ValueError("an enumeration item holds an endpoint reference but no instance")
    return parse_instance(element)


def collect_properties(element: ET.Element) -> dict[str, t.Any]:
    properties: dict[str, t.Any] = {}
    repeated: set[str] = set()
    for child in element:
        name = local_name(child.tag)
        value = parse_value(child)
        if name in properties:
            if name not in repeated:
                properties[name] = [properties[name]]
                repeated.add(name)
            properties[name].append(value)
        else:
            properties[name] = value
    return properties


def parse_cim_xml_instance(text: str, max_bytes: int) -> Instance:
    """An embedded instance sent as CIM-XML text (<INSTANCE CLASSNAME=...>)."""
    root = parse_document(_XML_DECLARATION.sub("", text).encode("utf-8"), max_bytes)
    if root.tag != "INSTANCE":
        raise XMLRefused(f"expected a CIM-XML INSTANCE, got {root.tag}")
    properties: dict[str, t.Any] = {}
    for prop in root:
        name = prop.get("NAME", "")
        if prop.tag == "PROPERTY.ARRAY":
            properties[name] = [value.text or "" for value in prop.iterfind("VALUE.ARRAY/VALUE")]
        else:
            value = prop.find("VALUE")
            properties[name] = None if value is None else (value.text or "")
    return Instance(root.get("CLASSNAME", ""), properties)


def decode_uint8_array(value: t.Any) -> tuple[bytes, str]:
    """A uint8[] in either wire form: element-per-byte decimals or one base64 text.

    Returns the bytes and the form ("array" or "base64"), so a blob can be sent back in the form
    the host used. Raises ValueError for anything else.
    """
    if value is None:
        return b"", "array"
    if isinstance(value, list):
        return bytes(_byte(item) for item in value), "array"
    text = str(value).strip()
    if _DECIMAL_BYTE.fullmatch(text):
        return bytes([_byte(text)]), "array"
    return base64.b64decode(text, validate=True), "base64"


def _byte(text: t.Any) -> int:
    if not isinstance(text, str) or not _DECIMAL_BYTE.fullmatch(text.strip()) or int(text) > 255:
        raise ValueError(f"{str(text)[:20]!r} is not a byte (0-255)")
    return int(text)


# Building


@dataclasses.dataclass(frozen=True)
class CimXml:
    """An embedded-instance string parameter: class name and (CIM type, value) per property."""

    class_name: str
    properties: dict[str, tuple[str, t.Any]]

    def render(self) -> str:
        parts = [f"<INSTANCE CLASSNAME={quoteattr(self.class_name)}>"]
        for name, (cim_type, value) in self.properties.items():
            if isinstance(value, (list, tuple)):
                values = "".join(f"<VALUE>{escape(str(item))}</VALUE>" for item in value)
                parts.append(
                    f"<PROPERTY.ARRAY NAME={quoteattr(name)} TYPE={quoteattr(cim_type)}>"
                    f"<VALUE.ARRAY>{values}</VALUE.ARRAY></PROPERTY.ARRAY>"
                )
            else:
                content = "" if value is None else f"<VALUE>{escape(_text(value))}</VALUE>"  # no VALUE: null
                parts.append(f"<PROPERTY NAME={quoteattr(name)} TYPE={quoteattr(cim_type)}>{content}</PROPERTY>")
        parts.append("</INSTANCE>")
        return "".join(parts)


def _text(value: t.Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def selector_set(selectors: dict[str, str]) -> str:
    items = "".join(
        f"<w:Selector Name={quoteattr(name)}>{escape(value)}</w:Selector>" for name, value in selectors.items()
    )
    return f"<w:SelectorSet>{items}</w:SelectorSet>"


def epr_xml(reference: EndpointReference) -> str:
    return (
        f"<a:Address>{ANONYMOUS}</a:Address><a:ReferenceParameters>"
        f"<w:ResourceURI>{escape(reference.resource_uri)}</w:ResourceURI>"
        f"{selector_set(reference.selectors)}</a:ReferenceParameters>"
    )


def parameter_xml(name: str, value: t.Any) -> str:
    """One Invoke input parameter: text, array (repeated), REF, bytes (base64) or CIM-XML."""
    tag = f"c:{name}"
    if value is None:
        return ""
    if isinstance(value, EndpointReference):
        return f"<{tag}>{epr_xml(value)}</{tag}>"
    if isinstance(value, CimXml):
        return f"<{tag}>{escape(value.render())}</{tag}>"
    if isinstance(value, bytes):
        return f"<{tag}>{base64.b64encode(value).decode('ascii')}</{tag}>"
    if isinstance(value, (list, tuple)):
        return "".join(parameter_xml(name, item) for item in value)
    return f"<{tag}>{escape(_text(value))}</{tag}>"


def envelope(
    *,
    endpoint: str,
    action: str,
    resource_uri: str,
    body: str,
    selectors: dict[str, str] | None = None,
    max_envelope_size: int = 512000,
    timeout_s: int = 60,
) -> tuple[str, str]:
    """A complete request envelope and its MessageID."""
    message_id = f"uuid:{uuid.uuid4()}"
    namespaces = " ".join(f'xmlns:{prefix}="{NS[prefix]}"' for prefix in _ENVELOPE_PREFIXES)
    header = (
        f"<a:To>{escape(endpoint)}</a:To>"
        f'<w:ResourceURI s:mustUnderstand="true">{escape(resource_uri)}</w:ResourceURI>'
        f'<a:ReplyTo><a:Address s:mustUnderstand="true">{ANONYMOUS}</a:Address></a:ReplyTo>'
        f'<a:Action s:mustUnderstand="true">{escape(action)}</a:Action>'
        f'<w:MaxEnvelopeSize s:mustUnderstand="true">{max_envelope_size}</w:MaxEnvelopeSize>'
        f"<a:MessageID>{message_id}</a:MessageID>"
        '<w:Locale xml:lang="en-US" s:mustUnderstand="false"/>'
        f"<w:OperationTimeout>PT{timeout_s}S</w:OperationTimeout>"
        f"{selector_set(selectors) if selectors else ''}"
    )
    document = f'<s:Envelope {namespaces}><s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>'
    return document, message_id


def enumerate_body(wql: str, max_elements: int) -> str:
    return (
        "<n:Enumerate><w:OptimizeEnumeration/>"
        f"<w:MaxElements>{max_elements}</w:MaxElements>"
        f'<w:Filter Dialect="{WQL_DIALECT}">{escape(wql)}</w:Filter></n:Enumerate>'
    )


def pull_body(context: str, max_elements: int) -> str:
    return (
        f"<n:Pull><n:EnumerationContext>{escape(context)}</n:EnumerationContext>"
        f"<n:MaxElements>{max_elements}</n:MaxElements></n:Pull>"
    )


def invoke_body(resource_uri: str, method: str, parameters: dict[str, t.Any]) -> str:
    inner = "".join(parameter_xml(name, value) for name, value in parameters.items())
    return f"<c:{method}_INPUT xmlns:c={quoteattr(resource_uri)}>{inner}</c:{method}_INPUT>"


def wql_literal(value: str) -> str:
    """A WQL string literal: single-quoted, with backslash escapes, so input stays data."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
