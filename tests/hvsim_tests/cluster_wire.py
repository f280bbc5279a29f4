# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""root/MSCluster by hand for the hvsim tests: the CLUSPROP buffer built as os-win builds it, method calls,
and readers for the nested PrivateProperties and the EPR-valued association properties."""

from __future__ import annotations

import struct
import time
import xml.etree.ElementTree as ET

from hvsim_tests.wsman_client import ENUMERATE, NS, PULL, WMI, enumerate_body

MSCLUSTER = WMI + 'root/MSCluster/'
GROUP = MSCLUSTER + 'MSCluster_ResourceGroup'
NODE = MSCLUSTER + 'MSCluster_Node'
RESOURCE = MSCLUSTER + 'MSCluster_Resource'
LIVE = 4
FLAGS = 2 | 4 | 8  # return to source on error, queue, high priority start
DEADLINE_S = 15.0


def clusprop_entry(name: str, value: int, syntax: int = 0x00010002) -> bytes:
    """One property: its name value (UTF-16LE + NUL, padded to 4 bytes), its DWORD value, the endmark."""
    raw = (name + '\0').encode('utf-16-le')
    padding = b'\0' * ((-len(raw)) % 4)
    return struct.pack('<II', 0x00040003, len(raw)) + raw + padding + struct.pack('<IIII', syntax, 4, value, 0)


def clusprop(migration_type: int = LIVE) -> bytes:
    """The list os-win hands MoveClusterGroupEx: count 2, 'Virtual Machine' and 'Virtual Machine Configuration'."""
    entries = clusprop_entry('Virtual Machine', migration_type) + clusprop_entry('Virtual Machine Configuration', migration_type)
    return struct.pack('<I', 2) + entries


def move_params(node: str, buffer: bytes | None = None, flags: int = FLAGS) -> str:
    """MoveToNewNodeParams inputs: Parameters as one decimal element per byte."""
    data = clusprop() if buffer is None else buffer
    return (f'<p:NodeName>{node}</p:NodeName>' + ''.join(f'<p:Parameters>{byte}</p:Parameters>' for byte in data)
            + f'<p:Flags>{flags}</p:Flags>')


def call(wsman, resource: str, name: str, method: str, params: str = '') -> ET.Element:
    """Invoke a method on the instance whose key Name is name; returns the <Method_OUTPUT> element."""
    body = f'<p:{method}_INPUT xmlns:p="{resource}">{params}</p:{method}_INPUT>'
    return wsman.send(f'{resource}/{method}', resource, body, selectors={'Name': name})


def move(wsman, group: str, node: str, **kwargs) -> ET.Element:
    """MoveToNewNodeParams of a group, as the client sends it."""
    return call(wsman, GROUP, group, 'MoveToNewNodeParams', move_params(node, **kwargs))


def items(wsman, query: str) -> list[ET.Element]:
    """The raw instance elements of a root/MSCluster query (all batches)."""
    response = wsman.send(ENUMERATE, MSCLUSTER + '*', enumerate_body(query, 100, True))
    found = list(response.find('w:Items', NS))
    context = response.findtext('n:EnumerationContext', namespaces=NS)
    while response.find('w:EndOfSequence', NS) is None and response.find('n:EndOfSequence', NS) is None:
        pull = f'<n:Pull><n:EnumerationContext>{context}</n:EnumerationContext><n:MaxElements>100</n:MaxElements></n:Pull>'
        response = wsman.send(PULL, MSCLUSTER + '*', pull)
        found += list(response.find('n:Items', NS))
        context = response.findtext('n:EnumerationContext', namespaces=NS)
    return found


def prop(element: ET.Element, name: str) -> ET.Element | None:
    """A property element of an instance (any namespace)."""
    return next((child for child in element if child.tag.rsplit('}', 1)[-1] == name), None)


def text(element: ET.Element, name: str) -> str | None:
    """A scalar property's text."""
    found = prop(element, name)
    return None if found is None else (found.text or '')


def private_properties(resource: ET.Element) -> dict[str, str]:
    """PrivateProperties of an MSCluster_Resource, from the nested element or from CIM-XML text."""
    element = prop(resource, 'PrivateProperties')
    if len(element):
        return {child.tag.rsplit('}', 1)[-1]: child.text for child in element}
    instance = ET.fromstring(element.text)
    assert instance.tag == 'INSTANCE' and instance.get('CLASSNAME') == 'MSCluster_Property'
    return {item.get('NAME'): item.findtext('VALUE') for item in instance.findall('PROPERTY')}


def epr(element: ET.Element, name: str) -> tuple[str, str]:
    """An EPR-valued property -> (class at the end of its ResourceURI, its Name selector)."""
    reference = prop(element, name)
    uri = reference.findtext('a:ReferenceParameters/w:ResourceURI', namespaces=NS)
    selectors = {item.get('Name'): item.text for item in reference.iterfind('a:ReferenceParameters/w:SelectorSet/w:Selector', NS)}
    return uri.rsplit('/', 1)[-1], selectors['Name']


def vm_resource(wsman, vm: str) -> ET.Element:
    """The Virtual Machine resource of a VM role."""
    (found,) = [item for item in items(wsman, "SELECT * FROM MSCluster_Resource WHERE Type = 'Virtual Machine'")
                if text(item, 'Name') == f'Virtual Machine {vm}']
    return found


def watch(wsman, vm: str, sim) -> list[tuple[str, str]]:
    """(MigrationState, OwnerNode) of a VM resource on the wire every 50 ms until its move is over (bounded)."""
    seen = []
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        resource = vm_resource(wsman, vm)
        state = private_properties(resource)['MigrationState']
        seen.append((state, text(resource, 'OwnerNode')))
        # over once the wire shows it ended (0 done, 4 canceled, 5 failed) and the lab agrees: a move may end between
        # the two reads, never before the wire shows it
        if state not in ('1', '2', '3') and not sim.cluster_group(vm)['moving']:
            return seen
        time.sleep(0.05)
    raise AssertionError(f'{vm} still moving after {DEADLINE_S} s: {seen[-5:]}')


def wait_until(predicate, timeout: float = DEADLINE_S) -> None:
    """Poll a condition every 50 ms (bounded)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError('condition not met in time')
        time.sleep(0.05)
