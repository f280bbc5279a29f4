"""Fuzz targets for the engine and the response parser: for each, what to generate and what must hold.

test_fuzz.py runs every target for a bounded number of examples; benchmarks/fuzz.py (`./dev fuzz SECONDS`) runs them
for a time and prints the inputs tried and the failures found. What must hold:

- only the documented errors escape: VectorInputError from the engine; from the client the wsman errors
  (wsman_errors.py: WSManError and its kinds), XMLRefused from the XML reader, HyperVError from the Hyper-V layer;
- never a false "compatible": every verdict agrees with an oracle written here from the table of
  hyperv-wmi-facts.md, which also reads the vector lists on its own; malformed input never becomes a verdict.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine import baseline
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine import compat
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine import ranking
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine import vectors
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import HyperVError, HyperVHost
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman import soap as wsman_xml
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.client import WSManClient
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.errors import WSManError
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.settings import WinRMSettings


# The oracle. hyperv-wmi-facts.md: the VM's value is the left operand, the host's the right one.
FACTS_TABLE = {
    0: lambda vm, host: vm == host,  # Equal
    1: lambda vm, host: (vm & host) == host,  # Superset
    2: lambda vm, host: (vm & host) == vm,  # Subset
    3: lambda vm, host: (vm & host) == 0,  # Disjoint
    4: lambda vm, host: vm > host,  # GreaterThan
    5: lambda vm, host: vm >= host,  # GreaterThanOrEqual
    6: lambda vm, host: vm < host,  # LessThan
    7: lambda vm, host: vm <= host,  # LessThanOrEqual
    8: lambda vm, host: host != 0 and vm % host == 0,  # Multiple (fails closed on 0)
    9: lambda vm, host: vm != 0 and host % vm == 0,  # Divisible (fails closed on 0)
}
ORACLE_FIELDS = (("vector_id", "VectorId", 2**32 - 1), ("compare_operation", "CompareOperation", 2**32 - 1),
                 ("compatibility_info", "CompatibilityInfo", 2**64 - 1))


def oracle_read(entries: t.Any) -> dict[int, tuple[int, int]] | None:
    """A vector list as {id: (operation, value)}, or None when it is not a well-formed list."""
    if not isinstance(entries, (list, tuple)):
        return None
    table = {}
    for entry in entries:
        if not isinstance(entry, dict):
            return None
        values = []
        for snake, wmi, top in ORACLE_FIELDS:
            if (snake in entry) == (wmi in entry):
                return None
            value = entry[snake] if snake in entry else entry[wmi]
            if isinstance(value, str) and re.fullmatch(r"[0-9]+", value) and len(value.lstrip("0")) <= 20:
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
                return None
            values.append(value)
        if values[0] in table:
            return None
        table[values[0]] = (values[1], values[2])
    return table


def oracle_compatible(vm: dict[int, tuple[int, int]], host: dict[int, tuple[int, int]]) -> bool:
    """Every VM vector passes against the host's of the same id; no vectors, no proof."""
    return bool(vm) and all(
        vector_id in host and operation in FACTS_TABLE and FACTS_TABLE[operation](value, host[vector_id][1])
        for vector_id, (operation, value) in vm.items()
    )


# Strategies: mostly valid vector lists, with hostile values, keys and shapes mixed in.
_HOSTILE_VALUES = st.one_of(
    st.integers(-(2**70), 2**70), st.booleans(), st.none(), st.floats(allow_nan=True),
    st.text(max_size=8), st.sampled_from(["007", "1_0", " 3", "٣", "0x10", "-0", "1e3", "9" * 25, "0" * 30 + "1"]),
    st.lists(st.integers(0, 3), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(0, 3), max_size=1),
)
_VALUES = st.one_of(st.integers(0, 15), st.sampled_from([0, 1, 64, 231, 2**32 - 1, 2**63, 2**64 - 1]),
                    st.integers(0, 2**64 - 1))
_OPERATIONS = st.one_of(st.integers(0, 9), st.sampled_from([10, 2**32 - 1]))


@st.composite
def _entry(draw, hostile: bool):
    spelling = draw(st.sampled_from([0, 1]))
    generated = {"vector_id": st.integers(1, 4), "compare_operation": _OPERATIONS, "compatibility_info": _VALUES}
    entry = {}
    for field in ORACLE_FIELDS:
        value = draw(_HOSTILE_VALUES if hostile and draw(st.integers(0, 5)) == 0 else generated[field[0]])
        if draw(st.booleans()) and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # WS-Management sends every value as text
        entry[field[spelling]] = value
    if hostile and draw(st.integers(0, 9)) == 0:
        entry.pop(draw(st.sampled_from(sorted(entry))))
    if hostile and draw(st.integers(0, 9)) == 0:
        entry[ORACLE_FIELDS[0][1 - spelling]] = 1  # both spellings of one field
    return entry


def _vector_id(entry: dict) -> str:
    return str(entry.get("vector_id", entry.get("VectorId")))


def vector_lists(hostile: bool = True):
    """Well-formed lists mostly; with `hostile`, also lists with a damaged entry and things that are no list at all."""
    valid = st.lists(_entry(False), max_size=4, unique_by=_vector_id)  # repeated ids: in the hostile lists only
    if not hostile:
        return valid
    return st.one_of(valid, valid, valid, st.lists(_entry(True), min_size=1, max_size=3), valid.map(tuple), _HOSTILE_VALUES,
                     st.lists(_HOSTILE_VALUES, max_size=2),
                     st.recursive(st.integers(0, 3), lambda inner: st.lists(inner, max_size=2), max_leaves=6))


_MAX = 2**64 - 1


def _passing(operation: int, value: int, other: int) -> int:
    """A host value that passes `operation` against the VM's `value` (where one exists), varied by `other`."""
    return {
        0: value, 1: value & other, 2: value | other, 3: other & ~value & _MAX, 4: max(value - 1 - other % 4, 0),
        5: value - other % (value + 1), 6: min(value + 1 + other % 4, _MAX), 7: min(value + other % 4, _MAX),
        8: 1 if other % 2 or value == 0 else value, 9: value * (1 + other % 3) if value * 3 <= _MAX else value,
    }.get(operation, other)


@st.composite
def host_for(draw, vm: t.Any, hostile: bool = True):
    """A host vector list close to the VM's, so that both verdicts are common: for each of the VM's ids a value that
    passes the VM's operation, or the same value, 0, 1, a neighbour or any value; now and then an id left out."""
    read = oracle_read(vm) or {}
    host = []
    for vector_id, (operation, value) in read.items():
        if draw(st.integers(0, 9)) == 0:
            continue
        other = draw(_VALUES)
        candidates = [_passing(operation, value, other)] * 6 + [value, 0, 1, min(value + 1, _MAX), max(value - 1, 0), other]
        host.append({"vector_id": vector_id, "compare_operation": draw(_OPERATIONS),
                     "compatibility_info": draw(st.sampled_from(candidates))})
    if hostile and draw(st.integers(0, 4)) == 0:
        host.append(draw(_entry(hostile)))
    return host


@st.composite
def vm_and_host(draw, hostile: bool):
    vm = draw(vector_lists(hostile))
    return vm, draw(host_for(vm, hostile))


@st.composite
def vm_and_hosts(draw, hostile: bool):
    vm = draw(vector_lists(hostile))
    names = draw(st.lists(st.sampled_from(["hv01", "hv02", "hv03"]), unique=True, max_size=3))
    return vm, {name: draw(host_for(vm, hostile and name == "hv03")) for name in names}


@st.composite
def hosts_and_vm(draw):
    vm = draw(vector_lists(hostile=False))
    return [draw(host_for(vm, hostile=False)) for _index in range(draw(st.integers(0, 4)))], vm


# Targets. Each check gets one generated example and raises AssertionError when the property fails.


def check_parse_profile(value) -> None:
    expected = oracle_read(value)
    try:
        profile = vectors.parse_profile(value, "vm_vectors")
    except vectors.VectorInputError as exc:
        assert expected is None, f"well-formed input refused: {exc}"
        return
    assert expected == {vector.vector_id: vector[1:] for vector in profile}, "malformed input became a profile"


def check_report(pair) -> None:
    vm, host = pair
    read_vm, read_host = oracle_read(vm), oracle_read(host)
    try:
        verdict = compat.report(vm, host)
    except vectors.VectorInputError:
        assert read_vm is None or read_host is None, "well-formed input refused"
        return
    assert read_vm is not None and read_host is not None, "malformed input became a verdict"
    assert verdict["compatible"] == oracle_compatible(read_vm, read_host), "the verdict contradicts the facts table"
    assert verdict["compatible"] == (not verdict["reasons"])


def check_rank_hosts(pair) -> None:
    vm, hosts = pair
    try:
        ranked = ranking.rank_hosts(vm, hosts)
    except vectors.VectorInputError:
        assert oracle_read(vm) is None or any(oracle_read(host) is None for host in hosts.values())
        return
    read_vm = oracle_read(vm)
    assert sorted(entry["host"] for entry in ranked) == sorted(hosts)
    for entry in ranked:
        assert entry["compatible"] == oracle_compatible(read_vm, oracle_read(hosts[entry["host"]])), entry["host"]
    flags = [entry["compatible"] for entry in ranked]
    assert flags == sorted(flags, reverse=True), "an incompatible host ranked before a compatible one"


def check_baseline(pair) -> None:
    host_lists, vm = pair
    try:
        common = baseline.compat_baseline(host_lists)
    except vectors.VectorInputError:
        assert not host_lists or any(oracle_read(host) is None for host in host_lists)
        return
    read_vm, hosts = oracle_read(vm), [oracle_read(host) for host in host_lists]
    # Sound for VMs whose vectors use the operation the hosts report for the id, as Hyper-V's do (baseline.py):
    # compatible with the baseline means compatible with every host of the group.
    same_operations = read_vm is not None and all(
        host.get(vector_id, (operation,))[0] == operation for host in hosts for vector_id, (operation, _value) in read_vm.items())
    if same_operations and oracle_compatible(read_vm, oracle_read(common)):
        assert all(oracle_compatible(read_vm, host) for host in hosts), "the baseline lets a VM through that a host refuses"


# The response parser: replies built from real templates, then damaged.
_ENVELOPE = (
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:n="http://schemas.xmlsoap.org/ws/2004/09/enumeration" '
    'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><s:Header/><s:Body>{}</s:Body></s:Envelope>'
)
_P = 'xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wmi/root/virtualization/v2/{0}"'
_VM = ('<p:Msvm_ComputerSystem ' + _P.format("Msvm_ComputerSystem") + '><p:Name>6C9A2A5F-7F1B-4D4B-9C1E-0F0E1D2C3B4A</p:Name>'
       '<p:ElementName>web01</p:ElementName><p:Caption>Virtual Machine</p:Caption><p:EnabledState>2</p:EnabledState>'
       '</p:Msvm_ComputerSystem>')
_VECTOR = ('<p:CompatibilityVectors xsi:type="p:Msvm_CompatibilityVector_Type"><p:VectorId>1</p:VectorId>'
           '<p:CompareOperation>2</p:CompareOperation><p:CompatibilityInfo>255</p:CompatibilityInfo></p:CompatibilityVectors>')
REPLIES = {
    "enumerate": _ENVELOPE.format(f"<n:EnumerateResponse><w:Items>{_VM}</w:Items><w:EndOfSequence/></n:EnumerateResponse>"),
    "pull": _ENVELOPE.format("<n:EnumerateResponse><n:EnumerationContext>uuid:1</n:EnumerationContext></n:EnumerateResponse>"),
    "vectors": _ENVELOPE.format('<p:GetSystemCompatibilityVectors_OUTPUT ' + _P.format("Msvm_VirtualSystemMigrationService")
                                + f'>{_VECTOR}<p:ReturnValue>0</p:ReturnValue></p:GetSystemCompatibilityVectors_OUTPUT>'),
    "fault": _ENVELOPE.format(
        '<s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>w:InternalError</s:Value></s:Subcode></s:Code>'
        '<s:Reason><s:Text xml:lang="en-US">Generic failure</s:Text></s:Reason><s:Detail>'
        '<f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" Code="2147749889">'
        '<f:Message>Generic failure</f:Message></f:WSManFault></s:Detail></s:Fault>'),
}
_TOKENS = ["<", ">", "</", "/>", "&", "&amp;", "&lol;", "<!DOCTYPE x []>", "<![CDATA[", "]]>", "<?xml version='1.0'?>", '"',
           "xmlns:p='urn:x'", "xsi:nil='true'", "<p:Name>", "</p:Name>", "<w:Items>", "<n:EndOfSequence/>", "\x00", "\xff",
           "-1", "99999999999999999999999", "<a:Address>x</a:Address>", "<p:x>" * 120]


@dataclass(frozen=True)
class Damage:
    at: float  # position, as a fraction of the reply's length
    cut: int  # characters removed there
    insert: str


def damaged(template: str, damages: list[Damage]) -> bytes:
    text = template
    for damage in damages:
        position = int(damage.at * len(text))
        text = text[:position] + damage.insert + text[position + damage.cut:]
    return text.encode("utf-8", "surrogatepass")


replies = st.builds(
    damaged, st.sampled_from(sorted(REPLIES.values())),
    st.lists(st.builds(Damage, st.floats(0, 1), st.integers(0, 40), st.one_of(st.sampled_from(_TOKENS), st.text(max_size=6))),
             max_size=4),
)


class Canned(WSManClient):
    """The real client, its transport replaced by canned replies: every parse, check and retry runs as on the wire."""

    def __init__(self, replies_to_send: list[bytes]):
        super().__init__(WinRMSettings(host="hv01.example.com", username="u", password="p"), sleep=lambda _s: None)
        self._replies = list(replies_to_send)

    def _post(self, document: str) -> bytes:
        if not self._replies:
            raise AssertionError("the client asked for more replies than the host sent")  # pragma: no cover
        return relate(self._replies.pop(0), document)


def relate(reply: bytes, request: str) -> bytes:
    """The reply, its empty header (where the damage left it) now relating to the request, as a host's does."""
    message_id = re.search(r"<a:MessageID>([^<]*)</a:MessageID>", request).group(1)
    return reply.replace(b"<s:Header/>", f"<s:Header><a:RelatesTo>{message_id}</a:RelatesTo></s:Header>".encode(), 1)


def check_parse_document(data: bytes) -> None:
    try:
        wsman_xml.parse_document(data, 64 * 1024)
    except wsman_xml.XMLRefused:
        pass


def _host(client: WSManClient) -> HyperVHost:
    host = HyperVHost(client)
    host.use_known_service({"CreationClassName": "c", "Name": "n", "SystemCreationClassName": "s", "SystemName": "h"})
    return host


CLIENT_CALLS = {
    "enumerate": lambda client: client.enumerate("root/virtualization/v2", "SELECT * FROM Msvm_ComputerSystem"),
    "get": lambda client: client.get("root/virtualization/v2", "Msvm_MigrationJob", {"InstanceID": "1"}),
    "virtual_machines": lambda client: _host(client).virtual_machines(["web01"]),
    "vectors": lambda client: _host(client).vectors({"Name": "6C9A2A5F-7F1B-4D4B-9C1E-0F0E1D2C3B4A"}),
}


def check_client(data: bytes) -> None:
    """Every client operation and the Hyper-V reads on top of it, fed this reply (and again on each retry)."""
    for call in CLIENT_CALLS.values():
        try:
            call(Canned([data] * 8))
        except (WSManError, HyperVError):
            pass


@dataclass(frozen=True)
class Target:
    name: str
    check: t.Callable[[t.Any], None]
    inputs: t.Any  # the strategy of check's one argument

    def runner(self, settings: t.Any, tried: t.Callable[[], None] = lambda: None) -> t.Callable[[], None]:
        """The hypothesis test of this target under these settings; tried() is called for every input."""
        def run(example: t.Any) -> None:
            tried()
            self.check(example)

        return settings(given(self.inputs)(run))


TARGETS = (
    Target("vectors.parse_profile", check_parse_profile, vector_lists(),),
    Target("compat.report", check_report, vm_and_host(hostile=False),),
    Target("compat.report, hostile input", check_report, vm_and_host(hostile=True),),
    Target("ranking.rank_hosts", check_rank_hosts, vm_and_hosts(hostile=False),),
    Target("ranking.rank_hosts, hostile input", check_rank_hosts, vm_and_hosts(hostile=True),),
    Target("baseline.compat_baseline", check_baseline, hosts_and_vm(),),
    Target("wsman_xml.parse_document", check_parse_document, st.one_of(replies, st.binary(max_size=200)),),
    Target("wsman_client + hyperv_api", check_client, replies,),
)
