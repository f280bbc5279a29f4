# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Hyper-V WMI migration API over a WSManClient: find systems, read vectors and blobs.

Every method is one round trip (an enumeration or one Invoke), so a caller can count its cost.
"""

from __future__ import annotations

import base64
import re
import typing as t

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman import cim_types
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman import soap as wsman_xml
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.client import WSManClient
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.errors import WSManFault
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.soap import EndpointReference, wql_literal

VIRTUALIZATION_NAMESPACE = "root/virtualization/v2"
CLUSTER_NAMESPACE = "root/HyperVCluster/v2"
MIGRATION_SERVICE = "Msvm_VirtualSystemMigrationService"
VM_CAPTION = "Virtual Machine"
REALIZED = "Microsoft:Hyper-V:System:Realized"  # a VM's active settings, not a checkpoint's

# Msvm_VirtualSystemMigrationService return values (the seeds' names)
RETURN_CODES = {
    0: "Completed with No Error", 4096: "Method Parameters Checked - Job Started", 32768: "Failed",
    32769: "Access Denied", 32770: "Not Supported", 32771: "Status is unknown", 32772: "Timeout",
    32773: "Invalid parameter", 32774: "System is in use", 32775: "Invalid state for this operation",
    32776: "Incorrect data type", 32777: "System is not available", 32778: "Out of memory",
    32784: "Not compatible",
}
JOB_STARTED = 4096
SERVICE_KEYS = ("CreationClassName", "Name", "SystemCreationClassName", "SystemName")

# Msvm_ComputerSystem.EnabledState, named as Hyper-V Manager shows them
VM_STATES = {
    0: "Unknown", 1: "Other", 2: "Running", 3: "Off", 4: "Stopping", 6: "Enabled but offline", 9: "Paused",
    10: "Starting", 11: "Reset", 32768: "Paused", 32769: "Saved", 32770: "Starting", 32771: "Snapshotting",
    32773: "Saving", 32774: "Stopping", 32776: "Pausing", 32777: "Resuming",
}

_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
# What XML 1.0 cannot carry: NUL and most other C0 controls, lone surrogates, U+FFFE and U+FFFF.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class HyperVError(Exception):
    """A Hyper-V answer that stops the task; the message says what and what to do."""


class MethodFailed(HyperVError):
    def __init__(self, method: str, code: int, detail: str = ""):
        self.method = method
        self.code = code
        name = RETURN_CODES.get(code, "unknown return value")
        super().__init__(f"{method} returned {code} ({name}){': ' + detail if detail else ''}")


def return_code_name(code: int) -> str:
    return RETURN_CODES.get(code, "unknown return value")


def is_guid(text: str) -> bool:
    """A VM id: a GUID, bare or in balanced braces."""
    bare = text[1:-1] if text.startswith("{") and text.endswith("}") else text
    return bool(_GUID.fullmatch(bare))


def unsendable(text: str) -> str | None:
    """Why `text` cannot go in a WS-Management request (a character XML 1.0 cannot carry), or None. No VM can have
    such a name: it could not be sent to the host, nor come back from it."""
    found = _NOT_XML.search(text)
    return None if found is None else f"it holds U+{ord(found.group()):04X} (at {found.start()}), which XML cannot carry"


def same_name(name: str, asked: str) -> bool:
    """Whether a VM's name answers to the name asked: case aside, as Hyper-V compares names, but alike both upper- and
    lower-cased, so that a lookalike is not taken for the letter (str.lower() makes the Kelvin sign a k)."""
    return name.upper() == asked.upper() and name.lower() == asked.lower()


def answers_to(vm_id: t.Any, vm_name: t.Any, requested: str) -> bool:
    """Whether a VM answers to a requested name or id: its id (braces and case aside, only for a GUID written in ASCII:
    "ﬀ".upper() is "FF") or its name (same_name); nothing trimmed or normalized."""
    by_id = is_guid(requested) and str(vm_id or "").upper() == requested.strip("{}").upper()
    return by_id or same_name(str(vm_name or ""), requested)


def _match_condition(requested: str) -> str:
    """WQL for one requested VM: by display name, and by id when it looks like a GUID."""
    problem = unsendable(requested)
    if problem is not None:
        raise HyperVError(f"No VM can be named {requested!r}: {problem}.")
    condition = f"ElementName = {wql_literal(requested)}"
    if is_guid(requested):
        condition += f" OR Name = {wql_literal(requested.strip('{}'))}"
    return condition


class HyperVHost:
    """One Hyper-V host (or cluster namespace) reached through a WSManClient."""

    def __init__(self, client: WSManClient, namespace: str = VIRTUALIZATION_NAMESPACE):
        self.client = client
        self.namespace = namespace
        self._service: dict[str, t.Any] | None = None
        self._service_keys: dict[str, str] | None = None

    def alongside(self, client: WSManClient) -> HyperVHost:
        """The same host and namespace over another client (a connection of its own, for another thread), knowing
        the migration service this one has read, so that its method calls cost no enumeration."""
        other = HyperVHost(client, self.namespace)
        other._service, other._service_keys = self._service, self._service_keys  # read only from here on
        return other

    def _typed(self, instance: wsman_xml.Instance, what: str) -> dict[str, t.Any]:
        try:
            return cim_types.typed(instance, what)
        except cim_types.CimTypeError as exc:
            raise HyperVError(f"{self.client.endpoint} returned an unusable {what}: {exc}") from None

    # Enumerations

    def virtual_machines(self, requested: list[str] | None) -> list[dict[str, t.Any]]:
        """The VMs (Msvm_ComputerSystem) that may match `requested` names or ids; None: every VM.

        One enumeration. WMI compares strings without case, more loosely than same_name: what it returns is matched
        again here, so that only VMs answering to a requested item (answers_to) reach the caller.
        """
        condition = f"Caption = {wql_literal(VM_CAPTION)}"
        if requested is not None:
            condition += " AND (" + " OR ".join(_match_condition(item) for item in requested) + ")"
        instances = self.client.enumerate(self.namespace, f"SELECT * FROM Msvm_ComputerSystem WHERE {condition}")
        systems = [self._typed(instance, "Msvm_ComputerSystem") for instance in instances]
        if requested is None:
            return systems
        return [system for system in systems
                if any(answers_to(system.get("Name"), system.get("ElementName"), item) for item in requested)]

    def configuration_versions(self, vm_ids: list[str], *, every_vm: bool = False) -> dict[str, str | None]:
        """VM id -> configuration version, from the VMs' realized Msvm_VirtualSystemSettingData.

        One enumeration: Hyper-V keeps the version there, not on Msvm_ComputerSystem. `every_vm`: the ids are those
        of every VM of the host, so the query asks for every VM's settings instead of naming each (one condition
        rather than one per VM: 1,000 VMs make a 75 KB query otherwise).
        """
        if not vm_ids:
            return {}
        query = f"SELECT * FROM Msvm_VirtualSystemSettingData WHERE VirtualSystemType = {wql_literal(REALIZED)}"
        if not every_vm:
            wanted = " OR ".join(f"VirtualSystemIdentifier = {wql_literal(vm_id)}" for vm_id in vm_ids)
            query += f" AND ({wanted})"
        versions = {}
        for instance in self.client.enumerate(self.namespace, query):
            values = self._typed(instance, "Msvm_VirtualSystemSettingData")
            versions[str(values.get("VirtualSystemIdentifier", "")).lower()] = values.get("Version")
        return {vm_id: versions.get(vm_id.lower()) for vm_id in vm_ids}

    def host_reference(self) -> dict[str, t.Any]:
        """The host's own Msvm_ComputerSystem keys, named by its migration service (no enumeration)."""
        service = self.migration_service()
        return {"CreationClassName": service.get("SystemCreationClassName") or "Msvm_ComputerSystem",
                "Name": service.get("SystemName")}

    def migration_service(self) -> dict[str, t.Any]:
        if self._service is None:
            self._service = self._single(MIGRATION_SERVICE)
        return self._service

    def migration_settings(self) -> dict[str, t.Any]:
        return self._single("Msvm_VirtualSystemMigrationServiceSettingData")

    def _single(self, class_name: str) -> dict[str, t.Any]:
        instances = self.client.enumerate(self.namespace, f"SELECT * FROM {class_name}")
        if not instances:
            raise HyperVError(f"{self.client.endpoint} has no {class_name} in {self.namespace}")
        return self._typed(instances[0], class_name)

    # Methods of the migration service

    def system_reference(self, system: dict[str, t.Any]) -> EndpointReference:
        return EndpointReference(
            wsman_xml.class_uri(self.namespace, "Msvm_ComputerSystem"),
            {"CreationClassName": system.get("CreationClassName") or "Msvm_ComputerSystem", "Name": system["Name"]},
        )

    def use_known_service(self, keys: t.Mapping[str, t.Any] | None) -> None:
        """Call methods with the service keys compat_facts recorded, sparing an enumeration.

        Stale keys cost nothing but a retry: a method call with selectors that match no instance
        is refused before anything runs (Windows: a:DestinationUnreachable with ERROR_WSMAN_RESOURCE_NOT_FOUND;
        w:InvalidSelectors also counts), and then the service is read afresh.
        """
        if keys and all(keys.get(key) for key in SERVICE_KEYS):
            self._service_keys = {key: str(keys[key]) for key in SERVICE_KEYS}

    def _forget_service(self) -> None:
        """Drop the service keys recorded or read, so the next call reads the service again."""
        self._service_keys = None
        self._service = None

    def _service_selectors(self) -> dict[str, str]:
        if self._service_keys is not None:
            return self._service_keys
        service = self.migration_service()
        return {key: str(service.get(key) or "") for key in SERVICE_KEYS}

    def call(self, method: str, parameters: dict[str, t.Any], *, read_only: bool) -> dict[str, t.Any]:
        """Invoke a migration service method; returns the out parameters with ReturnValue as int."""
        def invoke() -> dict[str, t.Any]:
            return self.client.invoke(self.namespace, MIGRATION_SERVICE, method, self._service_selectors(),
                                      parameters, read_only=read_only)

        try:
            output = invoke()
        except WSManFault as exc:
            if not exc.instance_missing:
                raise
            self._forget_service()  # the keys went stale: read the service and call once more
            output = invoke()
        try:
            output["ReturnValue"] = cim_types.convert(output.get("ReturnValue"), "uint32", f"{method}.ReturnValue")
        except cim_types.CimTypeError as exc:
            raise HyperVError(f"{self.client.endpoint}: {exc}") from None
        if output["ReturnValue"] is None:
            raise HyperVError(f"{self.client.endpoint}: {method} returned no ReturnValue")
        return output

    def vectors(self, system: dict[str, t.Any]) -> list[dict[str, int]]:
        """GetSystemCompatibilityVectors for a VM or the host, as snake_case vector dicts."""
        output = self.call("GetSystemCompatibilityVectors", {"ComputerSystem": self.system_reference(system)},
                           read_only=True)
        if output["ReturnValue"] != 0:
            raise MethodFailed("GetSystemCompatibilityVectors", output["ReturnValue"])
        vectors = []
        for index, item in enumerate(self.embedded_instances(output.get("CompatibilityVectors"), "CompatibilityVectors")):
            item.class_name = "Msvm_CompatibilityVector"
            values = self._typed(item, f"CompatibilityVectors[{index}]")
            vectors.append({
                "vector_id": values.get("VectorId"),
                "compare_operation": values.get("CompareOperation"),
                "compatibility_info": values.get("CompatibilityInfo"),
            })
        return vectors

    def embedded_instances(self, value: t.Any, name: str) -> list[wsman_xml.Instance]:
        """An out parameter of embedded instances, as XML elements or as CIM-XML text (both are seen)."""
        items = value if isinstance(value, list) else ([] if value is None else [value])
        instances = []
        for index, item in enumerate(items):
            if isinstance(item, str) and item.lstrip().startswith("<"):
                try:
                    item = wsman_xml.parse_cim_xml_instance(item, self.client.max_response_bytes)
                except wsman_xml.XMLRefused as exc:
                    raise HyperVError(f"{self.client.endpoint}: {name}[{index}]: {exc}") from None
            if not isinstance(item, wsman_xml.Instance):
                raise HyperVError(f"{self.client.endpoint}: {name}[{index}] is not an embedded instance")
            instances.append(item)
        return instances

    def compatibility_blob(self, system: dict[str, t.Any]) -> tuple[str, str]:
        """GetSystemCompatibilityInfo: the opaque blob in base64, and the wire form the host used."""
        output = self.call("GetSystemCompatibilityInfo", {"ComputerSystem": self.system_reference(system)},
                           read_only=True)
        if output["ReturnValue"] != 0:
            raise MethodFailed("GetSystemCompatibilityInfo", output["ReturnValue"])
        try:
            blob, encoding = wsman_xml.decode_uint8_array(output.get("CompatibilityInfo"))
        except ValueError as exc:
            raise HyperVError(f"{self.client.endpoint}: CompatibilityInfo is not a uint8[] ({exc})") from None
        if not blob:  # success without a blob: nothing the destination could check, so not a blob to pass on
            raise HyperVError(f"{self.client.endpoint}: GetSystemCompatibilityInfo returned success (0) but no "
                              "CompatibilityInfo")
        return base64.b64encode(blob).decode("ascii"), encoding

    # Migration

    def find_vm(self, vm: str) -> dict[str, t.Any] | None:
        """The VM with this id or (unique) name on this host now, or None; ambiguity is an error, also between a VM
        with this id and another named so (as the gate says it), so that a name never moves another VM."""
        matches = self.virtual_machines([vm])
        if len(matches) > 1:
            ids = ", ".join(str(match.get("Name")) for match in matches)
            raise HyperVError(f"{len(matches)} VMs are named {vm!r} or have it as id (ids {ids}); name one by its id, "
                              "in braces if a VM is named so")
        return matches[0] if matches else None

    def vm_by_id(self, vm_id: str) -> dict[str, t.Any] | None:
        """The VM with this id (its GUID) on this host now, or None: one query on the key alone, so that a VM named
        as another's id is never taken for it (where a moving VM is, after the request)."""
        if not is_guid(vm_id):
            raise HyperVError(f"{self.client.endpoint}: {vm_id!r} is no VM id")
        bare = vm_id.strip("{}").upper()
        instances = self.client.enumerate(self.namespace, "SELECT * FROM Msvm_ComputerSystem WHERE "
                                          f"Caption = {wql_literal(VM_CAPTION)} AND Name = {wql_literal(bare)}")
        systems = [self._typed(instance, "Msvm_ComputerSystem") for instance in instances]
        return next((system for system in systems if str(system.get("Name") or "").upper() == bare), None)

    def job(self, reference: EndpointReference) -> dict[str, t.Any]:
        """The current state of a job (Get by the reference the method returned)."""
        instance = self.client.get(self.namespace, reference.class_name, reference.selectors)
        return self._typed(instance, "Msvm_MigrationJob")

    def job_by_query(self, reference: EndpointReference) -> dict[str, t.Any] | None:
        """The same job by a WQL query on its InstanceID, as libvirt's Hyper-V driver polls jobs: for a host whose
        Get by the job's reference faults (that Get is unconfirmed on real hosts). None when no job has that id."""
        class_name = reference.class_name if re.fullmatch(r"\w+", reference.class_name) else "Msvm_ConcreteJob"
        query = f"SELECT * FROM {class_name} WHERE InstanceID = {wql_literal(reference.selectors.get('InstanceID', ''))}"
        instances = self.client.enumerate(self.namespace, query)
        return self._typed(instances[0], "Msvm_MigrationJob") if instances else None

    def migration_jobs(self, vm_id: str) -> list[dict[str, t.Any]]:
        """The migration jobs this host keeps for a VM (jobs live on the source host)."""
        query = f"SELECT * FROM Msvm_MigrationJob WHERE VirtualSystemName = {wql_literal(vm_id)}"
        return [self._typed(instance, "Msvm_MigrationJob") for instance in self.client.enumerate(self.namespace, query)]
