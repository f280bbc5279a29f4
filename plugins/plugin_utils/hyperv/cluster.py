# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Hyper-V host's failover cluster through root/MSCluster: its nodes, its VM roles and their owners, and the
cluster's own methods (move a group, pause and resume a node). See docs/wsman-wire.md, "Failover clusters".

Every node answers for the whole cluster. Every method is one request (an enumeration or one Invoke), except
group() given a group Id, so a caller can count its cost. A host that is not a cluster node raises NotAClusterNode,
whichever of the three faults says so; any other failure propagates as the client raised it, naming the endpoint.
"""

from __future__ import annotations

import re
import struct
import typing as t

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import HyperVError, is_guid, same_name
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman import cim_types
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman import soap as wsman_xml
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.client import WSManClient
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.errors import WSManFault
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.soap import EndpointReference, wql_literal

MSCLUSTER_NAMESPACE = "root/MSCluster"
VM_RESOURCE_TYPE = "Virtual Machine"

# The enumerations of clusapi.h (CLUSTER_NODE_STATE, CLUSTER_NODE_DRAIN_STATUS, CLUSTER_GROUP_STATE,
# CLUSTER_RESOURCE_STATE) and the Virtual Machine resource's MigrationState private property.
NODE_STATES = {-1: "unknown", 0: "up", 1: "down", 2: "paused", 3: "joining"}
DRAIN_STATUSES = {0: "not initiated", 1: "in progress", 2: "completed", 3: "failed"}
GROUP_STATES = {-1: "unknown", 0: "online", 1: "offline", 2: "failed", 3: "partial online", 4: "pending"}
RESOURCE_STATES = {-1: "unknown", 0: "inherited", 1: "initializing", 2: "online", 3: "offline", 4: "failed",
                   128: "pending", 129: "online pending", 130: "offline pending"}
MIGRATION_STATES = {0: "none", 1: "setup", 2: "data transfer", 3: "move", 4: "canceled", 5: "failure"}
NODE_UP, GROUP_ONLINE, GROUP_PENDING = 0, 0, 4
MIGRATING = frozenset((1, 2, 3))
MIGRATION_CANCELED, MIGRATION_FAILED = 4, 5
WAITING_IN_QUEUE_FOR_MOVE = 0x4  # CLUSGRP_STATUS_WAITING_IN_QUEUE_FOR_MOVE, a bit of the group's StatusInformation

# MoveToNewNodeParams: the move flags and the property list os-win hands MoveClusterGroupEx (clusterutils._migrate_vm)
MIGRATION_TYPES = {"live": 4, "quick": 1}  # VM_RESDLL_CONTEXT: VmResdllContextLiveMigration, VmResdllContextSave
MOVE_RETURN_TO_SOURCE_ON_ERROR, MOVE_QUEUE_ENABLED, MOVE_HIGH_PRIORITY_START = 0x2, 0x4, 0x8
MOVE_FLAGS = MOVE_RETURN_TO_SOURCE_ON_ERROR | MOVE_QUEUE_ENABLED | MOVE_HIGH_PRIORITY_START
MOVE_PROPERTY_NAMES = ("Virtual Machine", "Virtual Machine Configuration")
CLUSPROP_SYNTAX_NAME = 0x00040003
CLUSPROP_SYNTAX_LIST_VALUE_DWORD = 0x00010002
CLUSPROP_SYNTAX_ENDMARK = 0
DRAIN_NONE, DRAIN = 0, 1
DO_NOT_FAILBACK = 0

# Win32 codes a cluster refusal carries (winerror.h), with what they mean for the move
WIN32_ERRORS = {
    5012: ("ERROR_GROUP_NOT_AVAILABLE", "the group is not available"),
    5013: ("ERROR_GROUP_NOT_FOUND", "the cluster has no such group"),
    5015: ("ERROR_HOST_NODE_NOT_RESOURCE_OWNER", "the node is not a possible owner of the VM's resource"),
    5023: ("ERROR_INVALID_STATE", "the group or the node is in a state that does not allow it"),
    5042: ("ERROR_CLUSTER_NODE_NOT_FOUND", "the cluster has no such node"),
    5050: ("ERROR_CLUSTER_NODE_DOWN", "the node is down"),
    5070: ("ERROR_CLUSTER_NODE_PAUSED", "the node is paused"),
    5908: ("ERROR_CLUSTER_GROUP_MOVING", "the group is already being moved"),
}
_HRESULT_FROM_WIN32 = 0x80070000


class NotAClusterNode(HyperVError):
    """The host has no failover cluster to ask: root/MSCluster, or its class, is missing there."""

    def __init__(self, endpoint: str, cause: WSManFault):
        super().__init__(f"{endpoint} is not a node of a failover cluster ({MSCLUSTER_NAMESPACE} answered: {cause})")
        self.endpoint = endpoint
        self.cause = cause


class ClusterCallFailed(HyperVError):
    """A cluster method refused; win32_code is the Win32 error it carried (None when it carried none)."""

    def __init__(self, method: str, win32_code: int | None, detail: str):
        name, meaning = WIN32_ERRORS.get(win32_code, ("", "")) if win32_code is not None else ("", "")
        code = f"Win32 error {win32_code}{' ' + name if name else ''}{': ' + meaning if meaning else ''}"
        super().__init__(f"{method} failed ({code if win32_code is not None else 'no Win32 code'}): {detail}")
        self.method = method
        self.win32_code = win32_code


def is_not_a_cluster_node(fault: WSManFault) -> bool:
    """The faults a host without a failover cluster answers a root/MSCluster request with: an invalid namespace
    or class (w:InternalError, or a:DestinationUnreachable), or a filter naming a class WMI does not know."""
    return fault.namespace_missing or fault.subcode == "CannotProcessFilter"


def win32_code(fault: WSManFault) -> int | None:
    """The Win32 error of a cluster refusal: the MSFT_WmiError code, or the WSManFault code, as a bare Win32 code or
    as HRESULT_FROM_WIN32 (0x8007xxxx); None when neither is one (a WBEM or WS-Management code)."""
    for code in (fault.wmi_code, fault.wsman_code):
        if code is None:
            continue
        if 0 < code < 0x10000:
            return code
        if code & 0xFFFF0000 == _HRESULT_FROM_WIN32:
            return code & 0xFFFF
    return None


def move_parameters(migration_type: int) -> bytes:
    """The CLUSPROP property list MoveToNewNodeParams takes: the migration type for the "Virtual Machine" and the
    "Virtual Machine Configuration" resources, laid out byte for byte as os-win builds it for MoveClusterGroupEx."""
    entries = b"".join(_property_entry(name, migration_type) for name in MOVE_PROPERTY_NAMES)
    return struct.pack("<I", len(MOVE_PROPERTY_NAMES)) + entries


def _property_entry(name: str, dword: int) -> bytes:
    """One entry: the name value (UTF-16LE with its NUL, padded to 4 bytes), the DWORD value, the endmark."""
    encoded = (name + "\0").encode("utf-16-le")
    padding = b"\0" * (-len(encoded) % 4)
    return (struct.pack("<II", CLUSPROP_SYNTAX_NAME, len(encoded)) + encoded + padding
            + struct.pack("<III", CLUSPROP_SYNTAX_LIST_VALUE_DWORD, 4, dword)
            + struct.pack("<I", CLUSPROP_SYNTAX_ENDMARK))


def normal_vm_id(text: str) -> str:
    """A VM's GUID as the keys of vm_resources() hold it: upper case, without braces."""
    return text.strip().strip("{}").upper()


def same_node(first: str | None, second: str | None) -> bool:
    """Node names compare without case, as Windows computer names do, but never a lookalike (api.same_name)."""
    return first is not None and second is not None and same_name(first, second)


def group_mates(resources: t.Mapping[str, t.Mapping[str, t.Any]], own: t.Mapping[str, t.Any]) -> list[str]:
    """The other VM resources in the group of the VM role `own` (one of `resources`' values: vm_resources', or a
    cluster view's roles), each as "'resource' (VM id)". The cluster moves a group whole, so moving one of them would
    move the others too, ungated."""
    group = own.get("group")
    return [f"{other.get('resource')!r} (VM {vm_id})" for vm_id, other in resources.items()
            if other is not own and group is not None and same_name(str(other.get("group") or ""), str(group))]


_WMI_PATH_NAME = re.compile(r'\bName\s*=\s*"((?:[^"\\]|\\.)*)"', re.IGNORECASE)


def reference_name(value: t.Any) -> str | None:
    """The Name key of a REF property: a WS-Man endpoint reference, or a WMI object path string."""
    if isinstance(value, EndpointReference):
        names = [text for key, text in value.selectors.items() if key.lower() == "name"]
        return names[0] if names else None
    if isinstance(value, str):
        match = _WMI_PATH_NAME.search(value)
        return re.sub(r"\\(.)", r"\1", match.group(1)) if match else None
    return None


class FailoverCluster:
    """The failover cluster a host belongs to, asked through that host's WSManClient."""

    def __init__(self, client: WSManClient, namespace: str = MSCLUSTER_NAMESPACE):
        self.client = client
        self.namespace = namespace

    # Requests

    def _enumerate(self, wql: str) -> list[wsman_xml.Instance]:
        try:
            return self.client.enumerate(self.namespace, wql)
        except WSManFault as exc:
            if is_not_a_cluster_node(exc):
                raise NotAClusterNode(self.client.endpoint, exc) from None
            raise

    def _invoke(self, class_name: str, method: str, name: str, parameters: dict[str, t.Any]) -> None:
        """Call a void method on the instance named `name`, once; ReturnValue, when sent, must be 0."""
        try:
            output = self.client.invoke(self.namespace, class_name, method, {"Name": name}, parameters, read_only=False)
        except WSManFault as exc:
            if is_not_a_cluster_node(exc):
                raise NotAClusterNode(self.client.endpoint, exc) from None
            code = win32_code(exc)
            if code is None or exc.access_denied:  # access denied keeps its kind: failures.describe() explains it
                raise
            raise ClusterCallFailed(method, code, str(exc)) from exc
        returned = output.get("ReturnValue")
        if returned is None or returned == "":
            return  # void, as the class's MOF declares it
        value = self._number(returned, "uint32", f"{method}.ReturnValue")
        if value != 0:
            raise ClusterCallFailed(method, value, f"{self.client.endpoint} returned {value}")

    def _number(self, value: t.Any, cim_type: str, where: str) -> int | None:
        try:
            return cim_types.convert(value, cim_type, where)
        except cim_types.CimTypeError as exc:
            raise HyperVError(f"{self.client.endpoint} returned an unusable {exc}") from None

    def _state(self, value: t.Any, names: dict[int, str], where: str) -> tuple[str, int | None]:
        """A State: its name and value. The MOF declares it uint32, and clusapi.h's 'unknown' is -1, so -1 may come
        as 4294967295 too; a value the enumeration lacks is 'unknown' with its number kept."""
        text = str(value).strip() if value is not None else ""
        if text.startswith("-") and text[1:].isdigit():
            number = int(text)
        else:
            number = self._number(value, "uint32", where)
        if number is not None and number >= 2 ** 31:
            number -= 2 ** 32
        return names.get(number, "unknown") if number is not None else "unknown", number

    def _text(self, value: t.Any, where: str) -> str | None:
        if isinstance(value, (list, wsman_xml.Instance, EndpointReference)):
            raise HyperVError(f"{self.client.endpoint} returned an unusable {where}: not a string")
        return value

    # Reads

    def cluster_name(self) -> str:
        instances = self._enumerate("SELECT * FROM MSCluster_Cluster")
        if not instances or not instances[0].properties.get("Name"):
            raise HyperVError(f"{self.client.endpoint} has {MSCLUSTER_NAMESPACE} but no MSCluster_Cluster with a name")
        return str(self._text(instances[0].properties["Name"], "MSCluster_Cluster.Name"))

    def nodes(self) -> dict[str, dict[str, t.Any]]:
        """Node name -> {"state", "state_value", "drain_status"}."""
        return dict(self._node(instance) for instance in self._enumerate("SELECT * FROM MSCluster_Node"))

    def _node(self, instance: wsman_xml.Instance) -> tuple[str, dict[str, t.Any]]:
        values = instance.properties
        name = str(self._text(values.get("Name"), "MSCluster_Node.Name") or "")
        state, state_value = self._state(values.get("State"), NODE_STATES, f"MSCluster_Node {name!r}.State")
        drain = self._number(values.get("NodeDrainStatus"), "uint32", f"MSCluster_Node {name!r}.NodeDrainStatus")
        drain_status = None if drain is None else DRAIN_STATUSES.get(drain, "unknown")
        return name, {"state": state, "state_value": state_value, "drain_status": drain_status}

    def node(self, node: str) -> dict[str, t.Any]:
        """One node by name: {"state", "state_value", "drain_status"} as nodes() gives them."""
        instances = self._enumerate(f"SELECT * FROM MSCluster_Node WHERE Name = {wql_literal(node)}")
        if not instances:
            raise HyperVError(f"the failover cluster of {self.client.endpoint} has no node named {node!r}")
        return self._node(instances[0])[1]

    def drain_status(self, node: str) -> str | None:
        """The node's NodeDrainStatus by name ('in progress', 'completed', ...), None when it reports none."""
        return self.node(node)["drain_status"]

    def vm_resources(self) -> dict[str, dict[str, t.Any]]:
        """VM GUID (upper case, no braces) -> its Virtual Machine resource (see vm_resource); fails, naming the
        resource, when one's VmId cannot be read, so that no clustered VM passes for a standalone one."""
        query = f"SELECT * FROM MSCluster_Resource WHERE Type = {wql_literal(VM_RESOURCE_TYPE)}"
        resources: dict[str, dict[str, t.Any]] = {}
        for instance in self._enumerate(query):
            resource = self._vm_resource(instance)
            other = resources.get(resource["vm_id"])
            if other is not None:
                raise HyperVError(f"the failover cluster of {self.client.endpoint} has two resources for VM "
                                  f"{resource['vm_id']}: {other['resource']!r} and {resource['resource']!r}")
            resources[resource["vm_id"]] = resource
        return resources

    def vm_resource(self, resource: str) -> dict[str, t.Any] | None:
        """One Virtual Machine resource by name, or None: {"vm_id", "resource", "group", "owner_node", "state",
        "state_value", "migration_state", "migration_state_value", "migration_progress", "migration_failure_reason"}."""
        query = (f"SELECT * FROM MSCluster_Resource WHERE Type = {wql_literal(VM_RESOURCE_TYPE)} "
                 f"AND Name = {wql_literal(resource)}")
        instances = self._enumerate(query)
        return self._vm_resource(instances[0]) if instances else None

    def _vm_resource(self, instance: wsman_xml.Instance) -> dict[str, t.Any]:
        values = instance.properties
        name = str(self._text(values.get("Name"), "MSCluster_Resource.Name") or "")
        where = f"MSCluster_Resource {name!r}"
        private = self._private_properties(values.get("PrivateProperties"), where)
        vm_id = private.get("vmid")
        if not isinstance(vm_id, str) or not is_guid(vm_id.strip()):
            raise HyperVError(f"{self.client.endpoint}: cluster resource {name!r} names no VM: its VmId private property "
                              f"is {vm_id!r}. Check the role in Failover Cluster Manager.")
        state, state_value = self._state(values.get("State"), RESOURCE_STATES, f"{where}.State")
        migration = self._number(private.get("migrationstate"), "uint32", f"{where}.MigrationState")
        return {
            "vm_id": normal_vm_id(vm_id),
            "resource": name,
            "group": self._text(values.get("OwnerGroup"), f"{where}.OwnerGroup"),
            "owner_node": self._text(values.get("OwnerNode"), f"{where}.OwnerNode"),
            "state": state,
            "state_value": state_value,
            "migration_state": None if migration is None else MIGRATION_STATES.get(migration, "unknown"),
            "migration_state_value": migration,
            "migration_progress": self._number(private.get("migrationprogress"), "uint32", f"{where}.MigrationProgress"),
            "migration_failure_reason": self._number(private.get("migrationfailurereason"), "uint32",
                                                     f"{where}.MigrationFailureReason"),
        }

    def _private_properties(self, value: t.Any, where: str) -> dict[str, t.Any]:
        """PrivateProperties, an embedded MSCluster_Property, as a nested element or as CIM-XML text; names folded
        to lower case (Microsoft's pages spell VmId, others VmID)."""
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if isinstance(value, str) and value.lstrip().startswith("<"):
            try:
                value = wsman_xml.parse_cim_xml_instance(value, self.client.max_response_bytes)
            except wsman_xml.XMLRefused as exc:
                raise HyperVError(f"{self.client.endpoint}: {where}.PrivateProperties: {exc}") from None
        if value is None or value == "":
            return {}
        if not isinstance(value, wsman_xml.Instance):
            raise HyperVError(f"{self.client.endpoint}: {where}.PrivateProperties is not an embedded instance")
        return {name.lower(): item for name, item in value.properties.items()}

    def possible_owners(self) -> dict[str, list[str]]:
        """Resource name -> the nodes that may own it (MSCluster_ResourceToPossibleOwner)."""
        return self._association("MSCluster_ResourceToPossibleOwner")

    def preferred_owners(self) -> dict[str, list[str]]:
        """Group name -> its preferred nodes (MSCluster_ResourceGroupToPreferredNode); a group without any is absent."""
        return self._association("MSCluster_ResourceGroupToPreferredNode")

    def _association(self, class_name: str) -> dict[str, list[str]]:
        members: dict[str, list[str]] = {}
        for instance in self._enumerate(f"SELECT * FROM {class_name}"):
            whole = reference_name(instance.properties.get("GroupComponent"))
            part = reference_name(instance.properties.get("PartComponent"))
            if whole is None or part is None:
                raise HyperVError(f"{self.client.endpoint} returned a {class_name} without the Name of its "
                                  "GroupComponent or PartComponent")
            members.setdefault(whole, []).append(part)
        return members

    def group(self, name: str) -> dict[str, t.Any] | None:
        """A cluster group by name, or None: {"name", "id", "owner_node", "state", "state_value", "group_type",
        "queued"}. A GUID that names no group is tried as the group's Id (a second request)."""
        instances = self._enumerate(f"SELECT * FROM MSCluster_ResourceGroup WHERE Name = {wql_literal(name)}")
        if not instances and is_guid(name):
            instances = self._enumerate(f"SELECT * FROM MSCluster_ResourceGroup WHERE Id = {wql_literal(name.strip('{}'))}")
        return self._group(instances[0]) if instances else None

    def _group(self, instance: wsman_xml.Instance) -> dict[str, t.Any]:
        values = instance.properties
        name = str(self._text(values.get("Name"), "MSCluster_ResourceGroup.Name") or "")
        where = f"MSCluster_ResourceGroup {name!r}"
        state, state_value = self._state(values.get("State"), GROUP_STATES, f"{where}.State")
        status = self._number(values.get("StatusInformation"), "uint64", f"{where}.StatusInformation")
        return {
            "name": name,
            "id": self._text(values.get("Id"), f"{where}.Id"),
            "owner_node": self._text(values.get("OwnerNode"), f"{where}.OwnerNode"),
            "state": state,
            "state_value": state_value,
            "group_type": self._number(values.get("GroupType"), "uint32", f"{where}.GroupType"),
            "queued": None if status is None else bool(status & WAITING_IN_QUEUE_FOR_MOVE),
        }

    # Methods (each sent once, never retried)

    def move_group(self, group: str, node: str, migration_type: str = "live") -> None:
        """Ask the cluster to move a group to `node` (MoveToNewNodeParams, flags 14: back to the source on error,
        queued behind the migration limits, started first). It may return before the move ends: follow it."""
        if migration_type not in MIGRATION_TYPES:
            raise ValueError(f"migration_type must be one of {', '.join(MIGRATION_TYPES)}, not {migration_type!r}")
        parameters = {
            "NodeName": node,
            "Parameters": list(move_parameters(MIGRATION_TYPES[migration_type])),  # a list: one element per byte
            "Flags": MOVE_FLAGS,
        }
        self._invoke("MSCluster_ResourceGroup", "MoveToNewNodeParams", group, parameters)

    def pause_node(self, node: str, drain: bool = True, target: str | None = None) -> None:
        """Pause a node; with drain, the cluster moves its roles away (to `target` when given): follow drain_status."""
        parameters = {"DrainType": DRAIN if drain else DRAIN_NONE, "TargetNode": target}
        self._invoke("MSCluster_Node", "Pause", node, parameters)

    def resume_node(self, node: str) -> None:
        """Resume a paused node, without failing roles back to it (FailbackType 0)."""
        self._invoke("MSCluster_Node", "Resume", node, {"FailbackType": DO_NOT_FAILBACK})
