# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A deliberately tiny, independent WS-Man client for the hvsim tests: envelopes built by hand per
docs/wsman-wire.md and sent with pywinrm's Protocol/Transport (NTLM, Basic, message encryption)."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

from winrm.protocol import Protocol

NS = {
    's': 'http://www.w3.org/2003/05/soap-envelope',
    'a': 'http://schemas.xmlsoap.org/ws/2004/08/addressing',
    'n': 'http://schemas.xmlsoap.org/ws/2004/09/enumeration',
    'w': 'http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd',
    'xsi': 'http://www.w3.org/2001/XMLSchema-instance',
    'f': 'http://schemas.microsoft.com/wbem/wsman/1/wsmanfault',
    'e': 'http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/MSFT_WmiError',
    'cim': 'http://schemas.dmtf.org/wbem/wscim/1/common',
}
WMI = 'http://schemas.microsoft.com/wbem/wsman/1/wmi/'
V2 = WMI + 'root/virtualization/v2/'
ENUMERATE = 'http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate'
PULL = 'http://schemas.xmlsoap.org/ws/2004/09/enumeration/Pull'
RELEASE = 'http://schemas.xmlsoap.org/ws/2004/09/enumeration/Release'
GET = 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Get'
WQL = 'http://schemas.microsoft.com/wbem/wsman/1/WQL'
SERVICE = V2 + 'Msvm_VirtualSystemMigrationService'


def envelope(to: str, action: str, resource: str, body: str = '', selectors: dict | None = None,
             max_envelope: int = 512000, timeout: str = 'PT60S') -> str:
    """A request envelope with the header of docs/wsman-wire.md."""
    selector_xml = ''
    if selectors:
        selector_xml = '<w:SelectorSet>' + ''.join(
            f'<w:Selector Name="{name}">{escape(value)}</w:Selector>' for name, value in selectors.items()
        ) + '</w:SelectorSet>'
    return (
        f'<s:Envelope xmlns:s="{NS["s"]}" xmlns:a="{NS["a"]}" xmlns:n="{NS["n"]}" xmlns:w="{NS["w"]}" xmlns:xsi="{NS["xsi"]}">'
        f'<s:Header><a:To>{escape(to)}</a:To>'
        f'<w:ResourceURI s:mustUnderstand="true">{escape(resource)}</w:ResourceURI>'
        '<a:ReplyTo><a:Address s:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>'
        f'<a:Action s:mustUnderstand="true">{escape(action)}</a:Action>'
        f'<w:MaxEnvelopeSize s:mustUnderstand="true">{max_envelope}</w:MaxEnvelopeSize>'
        f'<a:MessageID>uuid:{uuid.uuid4()}</a:MessageID>'
        '<w:Locale xml:lang="en-US" s:mustUnderstand="false"/>'
        f'<w:OperationTimeout>{timeout}</w:OperationTimeout>{selector_xml}'
        f'</s:Header><s:Body>{body}</s:Body></s:Envelope>'
    )


def enumerate_body(query: str, max_elements: int | None = 100, optimize: bool = True) -> str:
    """n:Enumerate with a WQL filter."""
    parts = ['<n:Enumerate>']
    if optimize:
        parts.append('<w:OptimizeEnumeration/>')
    if max_elements is not None:
        parts.append(f'<w:MaxElements>{max_elements}</w:MaxElements>')
    parts.append(f'<w:Filter Dialect="{WQL}">{escape(query)}</w:Filter></n:Enumerate>')
    return ''.join(parts)


def ref_xml(name: str, value: str, resource: str = V2 + 'Msvm_ComputerSystem') -> str:
    """A ComputerSystem REF parameter (endpoint reference)."""
    return (
        f'<p:{name}><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address>'
        f'<a:ReferenceParameters><w:ResourceURI>{resource}</w:ResourceURI><w:SelectorSet>'
        f'<w:Selector Name="CreationClassName">Msvm_ComputerSystem</w:Selector><w:Selector Name="Name">{escape(value)}</w:Selector>'
        f'</w:SelectorSet></a:ReferenceParameters></p:{name}>'
    )


def migration_settings(migration_type: int = 32768, addresses: list[str] | None = None) -> str:
    """MigrationSettingData as CIM-XML (escaped into the parameter by the caller)."""
    xml = (f'<INSTANCE CLASSNAME="Msvm_VirtualSystemMigrationSettingData">'
           f'<PROPERTY NAME="MigrationType" TYPE="uint16"><VALUE>{migration_type}</VALUE></PROPERTY>')
    if addresses is not None:
        xml += ('<PROPERTY.ARRAY NAME="DestinationIPAddressList" TYPE="string"><VALUE.ARRAY>'
                + ''.join(f'<VALUE>{a}</VALUE>' for a in addresses) + '</VALUE.ARRAY></PROPERTY.ARRAY>')
    return xml + '</INSTANCE>'


def migrate_params(guid: str, destination: str, migration_type: int = 32768, addresses: list[str] | None = None) -> str:
    """ComputerSystem, DestinationHost and MigrationSettingData of the migration methods."""
    return (ref_xml('ComputerSystem', guid) + f'<p:DestinationHost>{escape(destination)}</p:DestinationHost>'
            + f'<p:MigrationSettingData>{escape(migration_settings(migration_type, addresses))}</p:MigrationSettingData>')


def service_selectors(host: str, name: str = 'migrationwmi') -> dict:
    """The migration service's four keys."""
    return {'CreationClassName': 'Msvm_VirtualSystemMigrationService', 'Name': name,
            'SystemCreationClassName': 'Msvm_ComputerSystem', 'SystemName': host}


def parse(data: bytes) -> ET.Element:
    """The body's first child."""
    root = ET.fromstring(data)
    body = root.find('s:Body', NS)
    return body[0] if len(body) else body


def local(tag: str) -> str:
    """Local part of a tag."""
    return tag.rsplit('}', 1)[-1]


def instance(element: ET.Element) -> dict:
    """An instance element as {property: text | [texts] | None}; datetimes unwrapped."""
    result: dict = {}
    for child in element:
        name = local(child.tag)
        if child.get(f'{{{NS["xsi"]}}}nil') == 'true':
            value = None
        elif len(child):
            value = child[0].text
        else:
            value = child.text or ''
        if name in result:
            result[name] = (result[name] if isinstance(result[name], list) else [result[name]]) + [value]
        else:
            result[name] = value
    return result


class Client:
    """pywinrm Protocol plus the helpers the tests need."""

    def __init__(self, endpoint: str, user: str, password: str, transport: str = 'ntlm', **kwargs):
        kwargs.setdefault('message_encryption', 'always' if transport == 'ntlm' and endpoint.startswith('http:') else 'auto')
        kwargs.setdefault('ca_trust_path', None)  # not REQUESTS_CA_BUNDLE from the environment
        self.endpoint = endpoint
        self.protocol = Protocol(endpoint, transport=transport, username=user, password=password, **kwargs)

    def send(self, action: str, resource: str, body: str = '', **kwargs) -> ET.Element:
        """Send an envelope, return the body's first child (faults raise pywinrm errors)."""
        return parse(self.protocol.send_message(envelope(self.endpoint, action, resource, body, **kwargs)))

    def enumerate(self, query: str, max_elements: int = 100, optimize: bool = True, resource: str = V2 + '*') -> tuple[list[dict], int]:
        """All instances of a WQL query and the number of round trips it took."""
        response = self.send(ENUMERATE, resource, enumerate_body(query, max_elements, optimize))
        context = response.findtext('n:EnumerationContext', namespaces=NS)
        items_element = response.find('w:Items', NS)
        found = [instance(item) for item in (items_element if items_element is not None else [])]
        done = response.find('w:EndOfSequence', NS) is not None
        trips = 1
        while not done:
            pulled = self.send(PULL, resource, f'<n:Pull><n:EnumerationContext>{context}</n:EnumerationContext>'
                                               f'<n:MaxElements>{max_elements}</n:MaxElements></n:Pull>')
            trips += 1
            found += [instance(item) for item in pulled.find('n:Items', NS)]
            done = pulled.find('n:EndOfSequence', NS) is not None
            context = pulled.findtext('n:EnumerationContext', namespaces=NS)
        return found, trips

    def invoke(self, host: str, method: str, params: str = '', resource: str = SERVICE, selectors: dict | None = None) -> dict:
        """Invoke a migration-service method; returns {ReturnValue: int, out params...} (embedded instances as dicts)."""
        body = f'<p:{method}_INPUT xmlns:p="{resource}" xmlns:a="{NS["a"]}" xmlns:w="{NS["w"]}">{params}</p:{method}_INPUT>'
        output = self.send(f'{resource}/{method}', resource, body, selectors=service_selectors(host) if selectors is None else selectors)
        result: dict = {}
        for child in output:
            name = local(child.tag)
            if len(child) and child.find('a:ReferenceParameters', NS) is not None:
                value = {sel.get('Name'): sel.text for sel in child.iter(f'{{{NS["w"]}}}Selector')}
            elif len(child):
                value = instance(child)
            else:
                value = child.text
            result.setdefault(name, []).append(value)
        flat = {name: values if len(values) > 1 or name in ('CompatibilityVectors', 'Reasons', 'CompatibilityInfo') else values[0]
                for name, values in result.items()}
        flat['ReturnValue'] = int(flat['ReturnValue'])
        return flat
