# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Namespaces, hardened XML parsing and small text-building helpers shared by the responders."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

NS = {
    's': 'http://www.w3.org/2003/05/soap-envelope',
    'a': 'http://schemas.xmlsoap.org/ws/2004/08/addressing',
    'n': 'http://schemas.xmlsoap.org/ws/2004/09/enumeration',
    'x': 'http://schemas.xmlsoap.org/ws/2004/09/transfer',
    'w': 'http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd',
    'p': 'http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd',
    'xsi': 'http://www.w3.org/2001/XMLSchema-instance',
    'cim': 'http://schemas.dmtf.org/wbem/wscim/1/common',
    'f': 'http://schemas.microsoft.com/wbem/wsman/1/wsmanfault',
    'e': 'http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/MSFT_WmiError',
    'b': 'http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd',
}

WMI_URI_PREFIX = 'http://schemas.microsoft.com/wbem/wsman/1/wmi/'
ANONYMOUS = 'http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous'
WQL_DIALECT = 'http://schemas.microsoft.com/wbem/wsman/1/WQL'

# Anything that declares a DTD can define entities (billion laughs, external entities): refuse it outright.
_FORBIDDEN = re.compile(r'<!(DOCTYPE|ENTITY)', re.IGNORECASE)


class UnsafeXmlError(ValueError):
    """The document is not acceptable: not UTF-8, too large, declares a DTD, or is not well-formed."""


def safe_fromstring(data: bytes | str, limit: int) -> ET.Element:
    """Parse untrusted XML: bounded size, strict UTF-8, no DTD or entity declarations."""
    if len(data) > limit:
        raise UnsafeXmlError(f'document of {len(data)} bytes exceeds the limit of {limit}')
    if isinstance(data, bytes):
        try:
            data = data.decode('utf-8')
        except UnicodeDecodeError as exc:
            raise UnsafeXmlError(f'document is not UTF-8: {exc}') from exc
    if data.startswith('\ufeff'):
        data = data[1:]
    if _FORBIDDEN.search(data):
        raise UnsafeXmlError('DTD and entity declarations are not accepted')
    try:
        # A str is handed to expat as UTF-8 whatever the XML declaration claims.
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise UnsafeXmlError(f'malformed XML: {exc}') from exc


def qname(prefix: str, local: str) -> str:
    """ElementTree's {uri}local form for a prefix of NS."""
    return '{%s}%s' % (NS[prefix], local)


def local_name(tag: str) -> str:
    """The local part of an ElementTree tag."""
    return tag.rsplit('}', 1)[-1]


def namespace_of(tag: str) -> str:
    """The namespace URI of an ElementTree tag ('' when unqualified)."""
    return tag[1:].split('}', 1)[0] if tag.startswith('{') else ''


def text(value: object) -> str:
    """Escape a value for element content."""
    return escape(str(value))


def attr(value: object) -> str:
    """Quote and escape a value for an attribute (quotes included)."""
    return quoteattr(str(value))


def class_uri(namespace: str, class_name: str) -> str:
    """Resource URI of a WMI class, e.g. .../wmi/root/virtualization/v2/Msvm_ComputerSystem."""
    return f'{WMI_URI_PREFIX}{namespace}/{class_name}'
