# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""FailoverCluster over a WSManClient whose transport answers with canned WinRM replies (docs/wsman-wire.md, "Failover
clusters"): states, both PrivateProperties forms, EPR associations, the three faults of a host that is not a cluster
node, the move's property list byte for byte (by hand and as os-win builds it), and the forms of a void reply.

CannedClient and the reply builders are shared with test_hyperv_cluster_move.py.
"""

from __future__ import annotations

import ctypes
import re
import typing as t
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

import pytest
from winrm.exceptions import WinRMTransportError

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import HyperVError
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.cluster import (
    MOVE_FLAGS,
    ClusterCallFailed,
    FailoverCluster,
    NotAClusterNode,
    move_parameters,
    reference_name,
    win32_code,
)
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.client import WSManClient
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.errors import TransportError, WSManFault
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.settings import WinRMSettings
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.soap import NS, class_uri

MSCLUSTER = "root/MSCluster"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
ENVELOPE_NS = " ".join(f'xmlns:{prefix}="{NS[prefix]}"' for prefix in ("s", "a", "n", "w", "xsi", "f", "e"))
SQL01 = "6C9A2A5F-7F1B-4D4B-9C1E-0F0E1D2C3B4A"
WEB01 = "0F0E1D2C-3B4A-4D4B-9C1E-6C9A2A5F7F1B"


# The wire: requests as the transport saw them, replies as WinRM writes them


class Request(t.NamedTuple):
    action: str  # the last segment: Enumerate, Pull, Get, or the method name
    resource_uri: str
    wql: str
    selectors: dict[str, str]
    parameters: dict[str, list[str]]  # Invoke input parameters, every value as the list of its elements' texts

    @property
    def class_name(self) -> str:
        match = re.search(r"\bFROM\s+(\w+)", self.wql)
        return match.group(1) if match else self.resource_uri.rsplit("/", 1)[-1]

    @property
    def name(self) -> str | None:
        """The Name the query asks for: WHERE ... Name = '...'."""
        match = re.search(r"\bName = '((?:[^'\\]|\\.)*)'", self.wql)
        return re.sub(r"\\(.)", r"\1", match.group(1)) if match else None


def parse_request(document: str) -> Request:
    root = ET.fromstring(document)
    header, body = root.find("s:Header", NS), root.find("s:Body", NS)
    action = header.findtext("a:Action", namespaces=NS).rsplit("/", 1)[-1]
    selectors = {item.get("Name"): item.text or "" for item in header.iterfind("w:SelectorSet/w:Selector", NS)}
    parameters: dict[str, list[str]] = {}
    invoke = next(iter(body), None)
    if invoke is not None and invoke.tag.endswith("_INPUT"):
        for child in invoke:
            parameters.setdefault(child.tag.rsplit("}", 1)[-1], []).append(child.text or "")
    return Request(action, header.findtext("w:ResourceURI", namespaces=NS), body.findtext(".//w:Filter", default="", namespaces=NS),
                   selectors, parameters)


NIL_MESSAGE_ID = "uuid:00000000-0000-0000-0000-000000000000"  # FakeTransport writes the request's MessageID in its place


def envelope(action: str, body: str) -> str:
    return (f'<s:Envelope {ENVELOPE_NS} xml:lang="en-US"><s:Header><a:Action>{action}</a:Action>'
            f"<a:MessageID>uuid:7E2C0D2B-0D4C-4F4A-8E1B-1C2D3E4F5A6B</a:MessageID><a:To>{ANONYMOUS}</a:To>"
            f"<a:RelatesTo>{NIL_MESSAGE_ID}</a:RelatesTo></s:Header><s:Body>{body}</s:Body></s:Envelope>")


def items_reply(*items: str) -> str:
    """An EnumerateResponse holding every item, as WinRM answers an optimized enumeration."""
    return envelope("http://schemas.xmlsoap.org/ws/2004/09/enumeration/EnumerateResponse",
                    f"<n:EnumerateResponse><n:EnumerationContext></n:EnumerationContext><w:Items>{''.join(items)}</w:Items>"
                    "<w:EndOfSequence/></n:EnumerateResponse>")


def instance(class_name: str, **properties: t.Any) -> str:
    """An instance element: text values escaped, None as xsi:nil, lists repeated; raw XML passed as Raw."""
    uri = class_uri(MSCLUSTER, class_name)
    parts = []
    for name, value in properties.items():
        for item in value if isinstance(value, list) else [value]:
            if item is None:
                parts.append(f'<p:{name} xsi:nil="true"/>')
            elif isinstance(item, Raw):
                parts.append(f"<p:{name}{item.attributes}>{item.xml}</p:{name}>")
            else:
                parts.append(f"<p:{name}>{escape(str(item))}</p:{name}>")
    return f'<p:{class_name} xmlns:p="{uri}" xsi:type="p:{class_name}_Type">{"".join(parts)}</p:{class_name}>'


class Raw(t.NamedTuple):
    xml: str
    attributes: str = ""


def node(name: str, state: t.Any = 0, drain: t.Any = 0) -> str:
    return instance("MSCluster_Node", Caption=name, Name=name, NodeDrainStatus=drain, State=state)


def private_element(vm_id: str, migration_state: t.Any = 0, **more: t.Any) -> Raw:
    """PrivateProperties as hvsim renders it by default: a nested MSCluster_Property element."""
    children = {"VmID": vm_id, "MigrationState": migration_state, **more}
    xml = "".join(f"<p:{name}>{escape(str(value))}</p:{name}>" for name, value in children.items())
    return Raw(xml, ' xsi:type="p:MSCluster_Property_Type"')


def private_cimxml(vm_id: str, migration_state: t.Any = 0, **more: t.Any) -> str:
    """PrivateProperties as CIM-XML text (the element's text; instance() escapes it)."""
    children = {"VmId": ("string", vm_id), "MigrationState": ("uint32", migration_state),
                **{name: ("uint32", value) for name, value in more.items()}}
    properties = "".join(f'<PROPERTY NAME="{name}" TYPE="{kind}"><VALUE>{value}</VALUE></PROPERTY>'
                         for name, (kind, value) in children.items())
    return f'<INSTANCE CLASSNAME="MSCluster_Property">{properties}</INSTANCE>'


def vm_resource(vm: str, owner: str, private: t.Any, *, group: str | None = None, state: t.Any = 2) -> str:
    return instance("MSCluster_Resource", Name=f"Virtual Machine {vm}", OwnerGroup=group or vm, OwnerNode=owner,
                    PrivateProperties=private, State=state, Type="Virtual Machine")


def group(name: str, owner: str, state: t.Any = 0, **more: t.Any) -> str:
    return instance("MSCluster_ResourceGroup", GroupType=111, Id=f"{name}-id", Name=name, OwnerNode=owner, State=state, **more)


def epr(class_name: str, name: str) -> Raw:
    return Raw(f"<a:Address>{ANONYMOUS}</a:Address><a:ReferenceParameters><w:ResourceURI>{class_uri(MSCLUSTER, class_name)}"
               f'</w:ResourceURI><w:SelectorSet><w:Selector Name="Name">{escape(name)}</w:Selector>'
               f'<w:Selector Name="__cimnamespace">root/MSCluster</w:Selector></w:SelectorSet></a:ReferenceParameters>')


def possible_owner(resource: str, node_name: str) -> str:
    return instance("MSCluster_ResourceToPossibleOwner", GroupComponent=epr("MSCluster_Resource", resource),
                    PartComponent=epr("MSCluster_Node", node_name))


def preferred_node(group_name: str, node_name: str) -> str:
    return instance("MSCluster_ResourceGroupToPreferredNode", GroupComponent=epr("MSCluster_ResourceGroup", group_name),
                    PartComponent=epr("MSCluster_Node", node_name))


def output_reply(class_name: str, method: str, inner: str = "") -> str:
    uri = class_uri(MSCLUSTER, class_name)
    body = f'<p:{method}_OUTPUT xmlns:p="{uri}">{inner}</p:{method}_OUTPUT>' if inner else f'<p:{method}_OUTPUT xmlns:p="{uri}"/>'
    return envelope(f"{uri}/{method}Response", body)


def fault_reply(subcode: str, reason: str, wsman_code: int, message: str = "", wmi_code: int | None = None,
                code: str = "s:Receiver") -> WinRMTransportError:
    """A SOAP fault with HTTP 500, the way pywinrm hands it over."""
    wmi = (f'<e:MSFT_WmiError xsi:type="e:MSFT_WmiError_Type"><e:Message>{escape(message)}</e:Message>'
           f"<e:error_Code>{wmi_code}</e:error_Code></e:MSFT_WmiError>") if wmi_code is not None else ""
    detail = (f'<s:Detail><f:WSManFault Code="{wsman_code}" Machine="hvc-n1"><f:Message>{message}</f:Message></f:WSManFault>'
              f"{wmi}</s:Detail>")
    body = (f"<s:Fault><s:Code><s:Value>{code}</s:Value><s:Subcode><s:Value>{subcode}</s:Value></s:Subcode></s:Code>"
            f'<s:Reason><s:Text xml:lang="en-US">{escape(reason)}</s:Text></s:Reason>{detail}</s:Fault>')
    return WinRMTransportError("http", 500, envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", body))


INVALID_NAMESPACE = fault_reply("w:InternalError", "", 2150858752, "Invalid namespace ", 2147749902)
INVALID_CLASS = fault_reply("w:InternalError", "", 2150858752, "Invalid class ", 2147749904)
CANNOT_PROCESS_FILTER = fault_reply(
    "n:CannotProcessFilter", "The data source could not process the filter. The filter might be missing or it might be "
    "invalid. Change the filter and try the request again.  ", 2150858778,
    '<f:ProviderFault provider="WMI Provider" path="%systemroot%\\system32\\WsmWmiPl.dll"><f:WSManFault Code="2150858778" '
    'Machine="hvc-n1"><f:Message>The specified class does not exist in the given namespace. </f:Message></f:WSManFault>'
    "</f:ProviderFault>", code="s:Sender")
ACCESS_DENIED = fault_reply("w:AccessDenied", "Access is denied.", 5, "Access is denied. ", code="s:Sender")


def refusal(win32: int, message: str) -> WinRMTransportError:
    """A cluster method refused: w:InternalError wrapping an MSFT_WmiError that carries the Win32 code."""
    return fault_reply("w:InternalError", "", 2150858752, message, win32)


class FakeTransport:
    def __init__(self, answer: t.Callable[[Request], t.Any]):
        self.answer = answer
        self.requests: list[Request] = []

    def send_message(self, document: str) -> bytes:
        request = parse_request(document)
        self.requests.append(request)
        reply = self.answer(request)
        message_id = ET.fromstring(document).findtext("s:Header/a:MessageID", namespaces=NS)
        if isinstance(reply, WinRMTransportError):  # a host's reply relates to the request it answers
            raise WinRMTransportError(reply.protocol, reply.code, reply.response_text.replace(NIL_MESSAGE_ID, message_id))
        if isinstance(reply, BaseException):
            raise reply
        return reply.replace(NIL_MESSAGE_ID, message_id).encode("utf-8")

    def close_session(self) -> None:
        pass


class CannedClient(WSManClient):
    """A WSManClient whose transport answers from `answer(request)`: reply XML, or an exception to raise."""

    def __init__(self, answer: t.Callable[[Request], t.Any]):
        settings = WinRMSettings(host="hvc-n1.example.com", port=5985, scheme="http", username="lab", password="lab").check()
        super().__init__(settings, sleep=lambda _seconds: None)
        self.fake = FakeTransport(answer)

    def _transport(self) -> t.Any:
        return self.fake

    @property
    def requests(self) -> list[Request]:
        return self.fake.requests


def canned(*replies: t.Any) -> tuple[FailoverCluster, CannedClient]:
    """A FailoverCluster whose host answers with these replies, in order."""
    queue = list(replies)
    client = CannedClient(lambda _request: queue.pop(0))
    return FailoverCluster(client), client


# Reads


def test_nodes_with_their_states_and_drain_status():
    cluster, client = canned(items_reply(
        node("HVC-N1", 0, 0), node("HVC-N2", 2, 1), node("HVC-N3", 1, 3), node("HVC-N4", 3, 2),
        node("HVC-N5", -1, None), node("HVC-N6", 4294967295, 0), node("HVC-N7", 9, 7)))
    assert cluster.nodes() == {
        "HVC-N1": {"state": "up", "state_value": 0, "drain_status": "not initiated"},
        "HVC-N2": {"state": "paused", "state_value": 2, "drain_status": "in progress"},
        "HVC-N3": {"state": "down", "state_value": 1, "drain_status": "failed"},
        "HVC-N4": {"state": "joining", "state_value": 3, "drain_status": "completed"},
        "HVC-N5": {"state": "unknown", "state_value": -1, "drain_status": None},
        "HVC-N6": {"state": "unknown", "state_value": -1, "drain_status": "not initiated"},  # uint32 -1
        "HVC-N7": {"state": "unknown", "state_value": 9, "drain_status": "unknown"},
    }
    assert [(request.action, request.wql) for request in client.requests] == [("Enumerate", "SELECT * FROM MSCluster_Node")]
    assert client.requests[0].resource_uri == "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/MSCluster/*"


def test_a_state_that_is_not_a_number_is_an_error_naming_it():
    cluster, _client = canned(items_reply(node("HVC-N1", "up")))
    with pytest.raises(HyperVError, match=r"MSCluster_Node 'HVC-N1'\.State: 'up' is not a uint32"):
        cluster.nodes()


def test_drain_status_asks_for_one_node():
    cluster, client = canned(items_reply(node("HVC-N2", 2, 2)), items_reply())
    assert cluster.drain_status("HVC-N2") == "completed"
    assert client.requests[0].wql == "SELECT * FROM MSCluster_Node WHERE Name = 'HVC-N2'"
    with pytest.raises(HyperVError, match="no node named 'HVC-N9'"):
        cluster.drain_status("HVC-N9")


def test_cluster_name():
    cluster, client = canned(items_reply(instance("MSCluster_Cluster", Name="HVC", Fqdn="HVC.example.com")))
    assert cluster.cluster_name() == "HVC"
    assert client.requests[0].wql == "SELECT * FROM MSCluster_Cluster"


@pytest.mark.parametrize("form", ["element", "cimxml"])
def test_vm_resources_in_both_private_properties_forms(form):
    def private(vm_id, state, **more):
        return private_element(vm_id, state, **more) if form == "element" else private_cimxml(vm_id, state, **more)

    cluster, client = canned(items_reply(
        vm_resource("sql01", "HVC-N1", private(SQL01, 2, MigrationProgress=40)),
        vm_resource("web01", "HVC-N2", private("{" + WEB01.lower() + "}", 5, MigrationFailureReason=2147500037),
                    group="web", state=3),
    ))
    resources = cluster.vm_resources()
    assert client.requests[0].wql == "SELECT * FROM MSCluster_Resource WHERE Type = 'Virtual Machine'"
    assert resources[SQL01] == {
        "vm_id": SQL01, "resource": "Virtual Machine sql01", "group": "sql01", "owner_node": "HVC-N1", "state": "online",
        "state_value": 2, "migration_state": "data transfer", "migration_state_value": 2, "migration_progress": 40,
        "migration_failure_reason": None,
    }
    web = resources[WEB01]  # lower case in braces on the wire: the key is upper case without them
    assert (web["group"], web["owner_node"], web["state"], web["migration_state"], web["migration_failure_reason"]) == (
        "web", "HVC-N2", "offline", "failure", 0x80004005)


def test_resource_states_and_migration_states_are_named():
    resources = [vm_resource(f"vm{index}", "HVC-N1", private_element(f"{index:08X}-0000-0000-0000-000000000000", migration),
                             state=state)
                 for index, (state, migration) in enumerate([(129, 0), (130, 1), (128, 3), (4, 4), (-1, 9), (0, 0)])]
    cluster, _client = canned(items_reply(*resources))
    named = [(item["state"], item["migration_state"]) for item in cluster.vm_resources().values()]
    assert named == [("online pending", "none"), ("offline pending", "setup"), ("pending", "move"), ("failed", "canceled"),
                     ("unknown", "unknown"), ("inherited", "none")]


@pytest.mark.parametrize("private, fragment", [
    (None, "VmId private property is None"),
    (Raw("<p:MigrationState>0</p:MigrationState>", ' xsi:type="p:MSCluster_Property_Type"'), "VmId private property is None"),
    (private_element("not-a-guid"), "VmId private property is 'not-a-guid'"),
    ("<INSTANCE CLASSNAME=", "not well-formed"),
    ("plain text", "is not an embedded instance"),
], ids=["nil", "no-vmid", "not-a-guid", "broken-cimxml", "text"])
def test_a_vm_resource_whose_vm_cannot_be_read_fails_naming_it(private, fragment):
    cluster, _client = canned(items_reply(vm_resource("sql01", "HVC-N1", private)))
    with pytest.raises(HyperVError, match="sql01") as failure:
        cluster.vm_resources()
    assert fragment in str(failure.value)


def test_two_resources_for_one_vm_are_an_error():
    cluster, _client = canned(items_reply(vm_resource("a", "HVC-N1", private_element(SQL01)),
                                          vm_resource("b", "HVC-N2", private_element(SQL01.lower()))))
    with pytest.raises(HyperVError, match="two resources for VM .*'Virtual Machine a' and 'Virtual Machine b'"):
        cluster.vm_resources()


def test_vm_resource_asks_for_one_resource_with_literal_escaping():
    cluster, client = canned(items_reply(vm_resource("o'neil", "HVC-N1", private_element(SQL01, 1))), items_reply())
    assert cluster.vm_resource("Virtual Machine o'neil")["migration_state"] == "setup"
    assert client.requests[0].wql == ("SELECT * FROM MSCluster_Resource WHERE Type = 'Virtual Machine' "
                                      "AND Name = 'Virtual Machine o\\'neil'")
    assert cluster.vm_resource("Virtual Machine gone") is None


def test_possible_and_preferred_owners_from_endpoint_references():
    cluster, client = canned(
        items_reply(possible_owner("Virtual Machine sql01", "HVC-N1"), possible_owner("Virtual Machine sql01", "HVC-N2"),
                    possible_owner("Virtual Machine web01", "HVC-N3")),
        items_reply(preferred_node("sql01", "HVC-N2"), preferred_node("sql01", "HVC-N1")),
        items_reply(),
    )
    assert cluster.possible_owners() == {"Virtual Machine sql01": ["HVC-N1", "HVC-N2"], "Virtual Machine web01": ["HVC-N3"]}
    assert cluster.preferred_owners() == {"sql01": ["HVC-N2", "HVC-N1"]}
    assert cluster.preferred_owners() == {}
    assert [request.wql for request in client.requests] == [
        "SELECT * FROM MSCluster_ResourceToPossibleOwner", "SELECT * FROM MSCluster_ResourceGroupToPreferredNode",
        "SELECT * FROM MSCluster_ResourceGroupToPreferredNode"]


def test_an_association_without_a_name_is_an_error():
    broken = instance("MSCluster_ResourceToPossibleOwner", GroupComponent=epr("MSCluster_Resource", "r"), PartComponent="x")
    cluster, _client = canned(items_reply(broken))
    with pytest.raises(HyperVError, match="without the Name of its GroupComponent or PartComponent"):
        cluster.possible_owners()


@pytest.mark.parametrize("value, name", [
    ('MSCluster_Node.Name="HVC-N1"', "HVC-N1"),
    ('\\\\HVC-N1\\root\\MSCluster:MSCluster_Resource.Name="Virtual Machine \\"q\\""', 'Virtual Machine "q"'),
    ("HVC-N1", None),
    (None, None),
])
def test_a_reference_given_as_a_wmi_object_path(value, name):
    assert reference_name(value) == name


def test_group_by_name_then_by_id():
    cluster, client = canned(
        items_reply(group("sql01", "HVC-N1", 0, StatusInformation=4)),
        items_reply(), items_reply(group("web01", "HVC-N2", 4294967295)),
        items_reply(),
    )
    assert cluster.group("sql01") == {"name": "sql01", "id": "sql01-id", "owner_node": "HVC-N1", "state": "online",
                                      "state_value": 0, "group_type": 111, "queued": True}
    by_id = cluster.group("{" + WEB01 + "}")
    assert (by_id["name"], by_id["state"], by_id["state_value"], by_id["queued"]) == ("web01", "unknown", -1, None)
    assert cluster.group("nothing") is None
    assert [request.wql for request in client.requests] == [
        "SELECT * FROM MSCluster_ResourceGroup WHERE Name = 'sql01'",
        "SELECT * FROM MSCluster_ResourceGroup WHERE Name = '{" + WEB01 + "}'",
        f"SELECT * FROM MSCluster_ResourceGroup WHERE Id = '{WEB01}'",
        "SELECT * FROM MSCluster_ResourceGroup WHERE Name = 'nothing'",
    ]


@pytest.mark.parametrize("read", ["cluster_name", "nodes", "vm_resources", "possible_owners", "preferred_owners"])
@pytest.mark.parametrize("fault", [INVALID_NAMESPACE, INVALID_CLASS, CANNOT_PROCESS_FILTER],
                         ids=["invalid-namespace", "invalid-class", "cannot-process-filter"])
def test_a_host_that_is_not_a_cluster_node_says_so(read, fault):
    cluster, client = canned(fault)
    with pytest.raises(NotAClusterNode) as failure:
        getattr(cluster, read)()
    assert str(failure.value).startswith("http://hvc-n1.example.com:5985/wsman is not a node of a failover cluster")
    assert isinstance(failure.value.cause, WSManFault) and len(client.requests) == 1


@pytest.mark.parametrize("error, kind, fragment", [
    (ACCESS_DENIED, WSManFault, "Access is denied"),
    (fault_reply("w:InternalError", "", 2150858752, "Invalid query ", 2147749911), WSManFault, "Invalid query"),
    (fault_reply("w:InternalError", "", 2150859193, "The cluster service is not running ", 1753), WSManFault, "not running"),
], ids=["access-denied", "invalid-query", "provider-not-ready"])
def test_other_faults_are_not_taken_for_a_standalone_host(error, kind, fragment):
    cluster, _client = canned(error)
    with pytest.raises(kind, match=fragment) as failure:
        cluster.vm_resources()
    assert not isinstance(failure.value, NotAClusterNode)


def test_an_unreachable_host_is_a_transport_error_naming_it():
    import requests  # pylint: disable=import-outside-toplevel
    cluster, _client = canned(*[requests.exceptions.ConnectionError("Connection refused")] * 3)
    with pytest.raises(TransportError, match=r"^http://hvc-n1\.example\.com:5985/wsman: Connection refused"):
        cluster.nodes()


# The move's property list


# Hand-computed from the contract: count 2; per entry the name (syntax 0x00040003, byte length with the NUL, UTF-16LE,
# no padding needed for these two names), the value (syntax 0x00010002, length 4, 4 = live), the endmark.
LIVE_BUFFER = bytes.fromhex(
    "02000000"
    "03000400" "20000000"
    "5600690072007400750061006c0020004d0061006300680069006e0065000000"  # "Virtual Machine\0"
    "02000100" "04000000" "04000000" "00000000"
    "03000400" "3c000000"
    "5600690072007400750061006c0020004d0061006300680069006e006500"  # "Virtual Machine"
    "200043006f006e00660069006700750072006100740069006f006e000000"  # " Configuration\0"
    "02000100" "04000000" "04000000" "00000000"
)


def test_the_live_migration_buffer_byte_for_byte():
    assert move_parameters(4) == LIVE_BUFFER and len(LIVE_BUFFER) == 144


DWORD, WCHAR = ctypes.c_uint32, ctypes.c_uint16  # Windows: DWORD is 4 bytes, WCHAR 2 (ctypes.c_wchar is 4 on Linux)


def oswin_property_list(names: t.Sequence[str], migration_type: int) -> bytes:
    """os_win/utils/compute/_clusapi_utils.py get_property_list_entry + get_property_list, as clusterutils._migrate_vm
    calls them, with Windows' 2-byte WCHAR (ctypes.c_wchar is 4 bytes here)."""
    def value_struct(val_type: t.Any) -> t.Any:
        padding = ((ctypes.sizeof(val_type) + 3) & ~3) - ctypes.sizeof(val_type)

        class CLUSPROP_VALUE(ctypes.Structure):  # pylint: disable=invalid-name
            _fields_ = [("syntax", DWORD), ("length", DWORD), ("value", val_type), ("_padding", ctypes.c_ubyte * padding)]
        return CLUSPROP_VALUE

    def entry(name: str, syntax: int, value: t.Any) -> t.Any:
        name_len = len(name) + 1
        val_sz = ctypes.sizeof(value)

        class CLUSPROP_LIST_ENTRY(ctypes.Structure):  # pylint: disable=invalid-name
            _fields_ = [("name", value_struct(WCHAR * name_len)), ("value", value_struct(ctypes.c_ubyte * val_sz)),
                        ("_endmark", DWORD)]
        item = CLUSPROP_LIST_ENTRY()
        item.name.syntax = 262147  # w_const.CLUSPROP_SYNTAX_NAME
        item.name.length = name_len * ctypes.sizeof(WCHAR)
        item.name.value[:] = [ord(char) for char in name] + [0]
        item.value.syntax = syntax
        item.value.length = val_sz
        item.value.value[0:val_sz] = bytearray(value)
        item._endmark = 0  # w_const.CLUSPROP_SYNTAX_ENDMARK  pylint: disable=protected-access
        return item

    entries = [entry(name, 65538, DWORD(migration_type)) for name in names]  # CLUSPROP_SYNTAX_LIST_VALUE_DWORD
    size = sum(ctypes.sizeof(item) for item in entries)

    class CLUSPROP_LIST(ctypes.Structure):  # pylint: disable=invalid-name
        _fields_ = [("count", DWORD), ("entries_buff", ctypes.c_ubyte * size)]
    prop_list = CLUSPROP_LIST(count=len(entries))
    position = 0
    for item in entries:
        prop_list.entries_buff[position:position + ctypes.sizeof(item)] = bytearray(item)
        position += ctypes.sizeof(item)
    return bytes(prop_list)


@pytest.mark.parametrize("migration_type", [4, 1])
def test_the_buffer_is_what_os_win_builds(migration_type):
    assert move_parameters(migration_type) == oswin_property_list(["Virtual Machine", "Virtual Machine Configuration"],
                                                                  migration_type)


def test_a_name_of_odd_length_is_padded_like_os_win():
    from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv import cluster as cluster_module  # pylint: disable=import-outside-toplevel
    entry = cluster_module._property_entry("ab", 1)  # pylint: disable=protected-access
    assert entry[4:8] == (6).to_bytes(4, "little") and entry[8:16] == b"a\0b\0\0\0\0\0"
    assert oswin_property_list(["ab"], 1) == b"\x01\x00\x00\x00" + entry


# Methods: what is sent, and the forms of the reply


def test_move_group_sends_the_buffer_one_element_per_byte_and_flags_14():
    cluster, client = canned(output_reply("MSCluster_ResourceGroup", "MoveToNewNodeParams"))
    cluster.move_group("sql01", "HVC-N2")
    [request] = client.requests
    assert request.action == "MoveToNewNodeParams" and request.selectors == {"Name": "sql01"}
    assert request.resource_uri == "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/MSCluster/MSCluster_ResourceGroup"
    assert request.parameters["NodeName"] == ["HVC-N2"] and request.parameters["Flags"] == [str(MOVE_FLAGS)] == ["14"]
    assert bytes(int(item) for item in request.parameters["Parameters"]) == LIVE_BUFFER


@pytest.mark.parametrize("reply", [
    output_reply("MSCluster_ResourceGroup", "MoveToNewNodeParams"),
    output_reply("MSCluster_ResourceGroup", "MoveToNewNodeParams", "<p:ReturnValue>0</p:ReturnValue>"),
    output_reply("MSCluster_ResourceGroup", "MoveToNewNodeParams", '<p:ReturnValue xsi:nil="true"/>'),
    output_reply("MSCluster_ResourceGroup", "MoveToNewNodeParams", "<p:ReturnValue></p:ReturnValue>"),
], ids=["void", "zero", "nil", "empty"])
def test_the_void_reply_forms(reply):
    cluster, _client = canned(reply)
    assert cluster.move_group("sql01", "HVC-N2", "quick") is None


def test_a_non_zero_return_value_is_a_failure_naming_the_win32_code():
    cluster, _client = canned(output_reply("MSCluster_ResourceGroup", "MoveToNewNodeParams", "<p:ReturnValue>5070</p:ReturnValue>"))
    with pytest.raises(ClusterCallFailed, match=r"MoveToNewNodeParams failed \(Win32 error 5070 ERROR_CLUSTER_NODE_PAUSED: "
                                                "the node is paused\\)") as failure:
        cluster.move_group("sql01", "HVC-N2")
    assert failure.value.win32_code == 5070


@pytest.mark.parametrize("wmi_code, expected", [(5015, 5015), (0x80070000 + 5908, 5908), (2147749889, None)],
                         ids=["win32", "hresult-from-win32", "wbem-generic-failure"])
def test_a_refusal_fault_carries_its_win32_code(wmi_code, expected):
    cluster, _client = canned(refusal(wmi_code, "The cluster node is not a possible owner. "))
    if expected is None:
        with pytest.raises(WSManFault, match="not a possible owner"):
            cluster.move_group("sql01", "HVC-N3")
        return
    with pytest.raises(ClusterCallFailed, match="not a possible owner") as failure:
        cluster.move_group("sql01", "HVC-N3")
    assert failure.value.win32_code == expected


def test_access_denied_on_a_method_stays_a_wsman_fault():
    cluster, _client = canned(ACCESS_DENIED)
    with pytest.raises(WSManFault) as failure:
        cluster.move_group("sql01", "HVC-N2")
    assert failure.value.access_denied and not isinstance(failure.value, ClusterCallFailed)


def test_win32_code_from_the_wsman_fault_code_when_wmi_has_none():
    assert win32_code(WSManFault("x", wsman_code=5050)) == 5050
    assert win32_code(WSManFault("x", wsman_code=2150858752, wmi_code=None)) is None


def test_a_method_on_a_host_that_is_not_a_cluster_node():
    cluster, _client = canned(INVALID_NAMESPACE)
    with pytest.raises(NotAClusterNode):
        cluster.pause_node("HVC-N1")


def test_an_unknown_migration_type_sends_nothing():
    cluster, client = canned()
    with pytest.raises(ValueError, match="live, quick"):
        cluster.move_group("sql01", "HVC-N2", "storage")
    assert client.requests == []


@pytest.mark.parametrize("drain, target, sent", [
    (True, None, {"DrainType": ["1"]}),
    (False, None, {"DrainType": ["0"]}),
    (True, "HVC-N3", {"DrainType": ["1"], "TargetNode": ["HVC-N3"]}),
])
def test_pause_node(drain, target, sent):
    cluster, client = canned(output_reply("MSCluster_Node", "Pause"))
    cluster.pause_node("HVC-N1", drain=drain, target=target)
    [request] = client.requests
    assert (request.action, request.selectors, request.parameters) == ("Pause", {"Name": "HVC-N1"}, sent)
    assert request.resource_uri.endswith("/root/MSCluster/MSCluster_Node")


def test_resume_node_does_not_fail_roles_back():
    cluster, client = canned(output_reply("MSCluster_Node", "Resume"))
    cluster.resume_node("HVC-N1")
    assert client.requests[0].parameters == {"FailbackType": ["0"]} and client.requests[0].action == "Resume"


def test_a_method_is_sent_once_even_when_its_reply_is_lost():
    import requests  # pylint: disable=import-outside-toplevel
    cluster, client = canned(requests.exceptions.ConnectionError("Connection reset by peer"))
    with pytest.raises(TransportError):
        cluster.pause_node("HVC-N1")
    assert len(client.requests) == 1
