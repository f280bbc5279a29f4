# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Memory and processors: a host's physical and free memory and its logical processors, and each VM's memory demand and
virtual processors. See docs/wsman-wire.md, "Memory and processors", for the classes and what is confirmed of them.

Every function below is a fixed number of requests, never one per VM:
- host_memory(): 2 (Win32_OperatingSystem and Win32_ComputerSystem in root/cimv2); host_free_mb(): 1.
- vms_memory(): 3 at most (Msvm_MemorySettingData, Msvm_ProcessorSettingData, and Msvm_Memory when a VM holds memory).
- vm_memory(): 1 for a VM that is off or saved, 2 for one that runs; vm_needed_mb(): 1 (2 when a running VM's current
  memory cannot be read and its settings must say whether it is static).

What a destination must have free to take a VM now (needed_mb) is the memory the VM holds while it runs, else its startup
memory: a live migration moves the memory the VM has, and Hyper-V allocates it on the destination when the migration
starts; a VM that is off or saved needs its startup memory only when it starts there.
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine import reserve
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import VIRTUALIZATION_NAMESPACE, VM_STATES, HyperVError
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman import cim_types
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.client import WSManClient
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.soap import Instance, wql_literal

CIMV2_NAMESPACE = "root/cimv2"
KB_PER_MB = 1024
BYTES_PER_MB = 1 << 20
# The EnabledStates of engine/reserve.py's states without host memory (3 Off, 6 Enabled but offline, 32769 Saved)
MEMORY_FREE_STATES = frozenset(code for code, name in VM_STATES.items() if name in reserve.MEMORY_FREE_STATES)
# Msvm_MemorySettingData.AllocationUnits: "byte * 2^20" (the v2 class reference), "MB" (the v1 reference's default).
_POWER_OF_TWO_BYTES = re.compile(r"byte\s*\*\s*2\s*\^\s*(\d{1,2})", re.IGNORECASE)
_SETTINGS_OWNER = re.compile(r"Microsoft:([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})(?:\\|$)")

# The properties read, typed as the classes' MOF declares them (cim_types keeps the Hyper-V classes of api.py).
SCHEMAS: dict[str, dict[str, str]] = {
    "Win32_OperatingSystem": {"TotalVisibleMemorySize": "uint64", "FreePhysicalMemory": "uint64"},
    "Win32_ComputerSystem": {"NumberOfLogicalProcessors": "uint32", "TotalPhysicalMemory": "uint64"},
    "Msvm_MemorySettingData": {"InstanceID": "string", "AllocationUnits": "string", "VirtualQuantity": "uint64",
                               "Reservation": "uint64", "Limit": "uint64", "DynamicMemoryEnabled": "boolean"},
    "Msvm_ProcessorSettingData": {"InstanceID": "string", "VirtualQuantity": "uint64"},
    "Msvm_Memory": {"SystemName": "string", "ElementName": "string", "BlockSize": "uint64", "NumberOfBlocks": "uint64"},
}

HOST_KEYS = ("total_mb", "free_mb", "logical_processors")
VM_KEYS = ("assigned_mb", "startup_mb", "minimum_mb", "maximum_mb", "dynamic", "needed_mb")


def unread_host() -> dict[str, None]:
    """The host's memory facts when the memory part was not read."""
    return dict.fromkeys(HOST_KEYS)


def unread_vm() -> dict[str, None]:
    """A VM's memory facts when the memory part was not read."""
    return dict.fromkeys(VM_KEYS)


def holds_memory(state: t.Any) -> bool:
    """Whether a VM in this EnabledState holds host memory now (unknown states do: fail closed)."""
    return state not in MEMORY_FREE_STATES


# Reading


def _typed(client: WSManClient, instance: Instance, class_name: str) -> dict[str, t.Any]:
    """The properties read, converted; a value that does not fit its type is an error naming the host and class."""
    values = dict(instance.properties)
    for name, cim_type in SCHEMAS[class_name].items():
        try:
            values[name] = cim_types.convert(values.get(name), cim_type, f"{class_name}.{name}")
        except cim_types.CimTypeError as exc:
            raise HyperVError(f"{client.endpoint} returned an unusable {class_name}: {exc}") from None
    return values


def _select(client: WSManClient, namespace: str, class_name: str, condition: str = "") -> list[dict[str, t.Any]]:
    """One enumeration of a class (SELECT *: a column list changes the reply's shape), typed."""
    query = f"SELECT * FROM {class_name}" + (f" WHERE {condition}" if condition else "")
    return [_typed(client, instance, class_name) for instance in client.enumerate(namespace, query)]


def _single(client: WSManClient, class_name: str) -> dict[str, t.Any]:
    found = _select(client, CIMV2_NAMESPACE, class_name)
    if not found:
        raise HyperVError(f"{client.endpoint} has no {class_name} in {CIMV2_NAMESPACE}")
    return found[0]


def _kb_to_mb(kilobytes: int | None) -> int | None:
    return None if kilobytes is None else kilobytes // KB_PER_MB


def operating_system_memory(client: WSManClient) -> dict[str, int | None]:
    """{total_mb, free_mb} from Win32_OperatingSystem (TotalVisibleMemorySize, FreePhysicalMemory, in KB): one request."""
    system = _single(client, "Win32_OperatingSystem")
    return {"total_mb": _kb_to_mb(system["TotalVisibleMemorySize"]), "free_mb": _kb_to_mb(system["FreePhysicalMemory"])}


def host_free_mb(client: WSManClient) -> int | None:
    """The memory free on the host now, in MB (Win32_OperatingSystem.FreePhysicalMemory): one request."""
    return operating_system_memory(client)["free_mb"]


def host_memory(client: WSManClient) -> dict[str, int | None]:
    """{total_mb, free_mb, logical_processors}: two requests (Win32_OperatingSystem, Win32_ComputerSystem)."""
    memory = operating_system_memory(client)
    system = _single(client, "Win32_ComputerSystem")
    return {**memory, "logical_processors": system["NumberOfLogicalProcessors"]}


def _owner(instance_id: t.Any) -> str | None:
    """The GUID a settings instance belongs to, from its InstanceID ('Microsoft:<GUID>\\<device>'), upper case; None for
    the resource pool's defaults ('Microsoft:Definition\\...')."""
    match = _SETTINGS_OWNER.match(str(instance_id or ""))
    return match.group(1).upper() if match else None


def _settings_condition(vm_ids: t.Sequence[str]) -> str:
    """A VM's settings by the prefix of their InstanceID, as os-win finds a VM's Msvm_MemorySettingData."""
    return " OR ".join(f"InstanceID LIKE {wql_literal(f'Microsoft:{vm_id}%')}" for vm_id in vm_ids)


def _by_owner(rows: list[dict[str, t.Any]], vm_ids: t.Sequence[str]) -> dict[str, dict[str, t.Any]]:
    """The settings of each VM asked for, keyed by its id as asked. A checkpoint's settings carry the checkpoint's own
    GUID, never the VM's, so they fall out here; two rows for one VM make it unknown (None), never a guess."""
    wanted = {vm_id.strip("{}").upper(): vm_id for vm_id in vm_ids}
    found: dict[str, list[dict[str, t.Any]]] = {}
    for row in rows:
        owner = _owner(row.get("InstanceID"))
        if owner in wanted:
            found.setdefault(wanted[owner], []).append(row)
    return {vm_id: owned[0] for vm_id, owned in found.items() if len(owned) == 1}


def memory_settings(client: WSManClient, vm_ids: t.Sequence[str], namespace: str = VIRTUALIZATION_NAMESPACE,
                    *, every_vm: bool = False) -> dict[str, dict[str, t.Any]]:
    """VM id -> its realized Msvm_MemorySettingData (typed): one request. `every_vm`: the ids are every VM of the host,
    so the query names none of them (the host's checkpoints and defaults come too, and are left out here)."""
    if not vm_ids:
        return {}
    rows = _select(client, namespace, "Msvm_MemorySettingData", "" if every_vm else _settings_condition(vm_ids))
    return _by_owner(rows, vm_ids)


def virtual_processors(client: WSManClient, vm_ids: t.Sequence[str], namespace: str = VIRTUALIZATION_NAMESPACE,
                       *, every_vm: bool = False) -> dict[str, int | None]:
    """VM id -> its virtual processors (Msvm_ProcessorSettingData.VirtualQuantity): one request."""
    if not vm_ids:
        return {}
    rows = _select(client, namespace, "Msvm_ProcessorSettingData", "" if every_vm else _settings_condition(vm_ids))
    return {vm_id: row["VirtualQuantity"] for vm_id, row in _by_owner(rows, vm_ids).items()}


def _memory_mb(row: dict[str, t.Any]) -> int | None:
    """NumberOfBlocks of BlockSize bytes (1 MB when the host leaves it out: the class's default), in whole MB."""
    blocks, block_size = row.get("NumberOfBlocks"), row.get("BlockSize") or BYTES_PER_MB
    return None if blocks is None else blocks * block_size // BYTES_PER_MB


def _the_vm_memory(rows: list[dict[str, t.Any]]) -> dict[str, t.Any] | None:
    """A VM's one Msvm_Memory; of several, the one named "Memory"; None when that does not settle it."""
    if len(rows) == 1:
        return rows[0]
    named = [row for row in rows if str(row.get("ElementName") or "").lower() == "memory"]
    return named[0] if len(named) == 1 else None


def assigned_memory(client: WSManClient, vm_ids: t.Sequence[str], namespace: str = VIRTUALIZATION_NAMESPACE,
                    *, every_vm: bool = False) -> dict[str, int | None]:
    """VM id -> the memory it holds now in MB (Msvm_Memory, whose SystemName is the VM's GUID): one request. A VM that
    holds none has no Msvm_Memory and is left out."""
    if not vm_ids:
        return {}
    condition = "" if every_vm else " OR ".join(f"SystemName = {wql_literal(vm_id)}" for vm_id in vm_ids)
    wanted = {vm_id.strip("{}").upper(): vm_id for vm_id in vm_ids}
    grouped: dict[str, list[dict[str, t.Any]]] = {}
    for row in _select(client, namespace, "Msvm_Memory", condition):
        vm_id = wanted.get(str(row.get("SystemName") or "").strip("{}").upper())
        if vm_id is not None:  # the host's own physical memory has its computer name there
            grouped.setdefault(vm_id, []).append(row)
    chosen = {vm_id: _the_vm_memory(rows) for vm_id, rows in grouped.items()}
    return {vm_id: _memory_mb(row) if row is not None else None for vm_id, row in chosen.items()}


# The facts (pure)


def _units_shift(units: t.Any) -> int | None:
    """How many bits a value in these AllocationUnits is above a byte (20 for MB); None for units not known."""
    if units is None or str(units).strip().upper() == "MB":
        return 20  # the class's default; the v1 reference writes it "MB"
    match = _POWER_OF_TWO_BYTES.fullmatch(str(units).strip())
    return int(match.group(1)) if match else None


def _in_mb(value: int | None, shift: int | None) -> int | None:
    if value is None or shift is None:
        return None
    return value << (shift - 20) if shift >= 20 else value >> (20 - shift)


def configured(settings: dict[str, t.Any] | None) -> dict[str, t.Any]:
    """{startup_mb, minimum_mb, maximum_mb, dynamic} from Msvm_MemorySettingData: VirtualQuantity, Reservation, Limit.
    Hyper-V keeps the dynamic range while Dynamic Memory is off, where it does not apply: a static VM's range is its
    startup memory. Units not known make every figure None."""
    if settings is None:
        return {"startup_mb": None, "minimum_mb": None, "maximum_mb": None, "dynamic": None}
    shift = _units_shift(settings.get("AllocationUnits"))
    startup = _in_mb(settings.get("VirtualQuantity"), shift)
    dynamic = settings.get("DynamicMemoryEnabled")
    if not dynamic:
        return {"startup_mb": startup, "minimum_mb": startup, "maximum_mb": startup, "dynamic": dynamic}
    return {"startup_mb": startup, "minimum_mb": _in_mb(settings.get("Reservation"), shift),
            "maximum_mb": _in_mb(settings.get("Limit"), shift), "dynamic": True}


def needed_memory(state: t.Any, assigned_mb: int | None, startup_mb: int | None, dynamic: bool | None) -> int | None:
    """What a destination must have free to take the VM now: what it holds while it runs, else its startup memory.
    A running VM whose current memory is not known needs its startup memory only when that is all it can have (static
    memory); with Dynamic Memory, or settings not read, it is unknown (None) and the caller fails closed."""
    if not holds_memory(state):
        return startup_mb
    if assigned_mb is not None:
        return assigned_mb
    return startup_mb if dynamic is False else None


def vm_memory_facts(state: t.Any, settings: dict[str, t.Any] | None, assigned_mb: int | None) -> dict[str, t.Any]:
    """One VM's memory facts: assigned_mb (only while it holds memory), startup/minimum/maximum, dynamic, needed_mb."""
    assigned = assigned_mb if holds_memory(state) else None
    config = configured(settings)
    return {"assigned_mb": assigned, **config,
            "needed_mb": needed_memory(state, assigned, config["startup_mb"], config["dynamic"])}


# What the facts and the gate call


def vms_memory(client: WSManClient, vms: t.Sequence[dict[str, t.Any]], namespace: str = VIRTUALIZATION_NAMESPACE,
               *, every_vm: bool = False) -> dict[str, dict[str, t.Any]]:
    """VM id -> {memory: {...}, virtual_processors} for these VMs (Msvm_ComputerSystem instances): three requests at
    most, two when none of them holds memory. `every_vm`: they are every VM of the host."""
    ids = [_vm_id(vm) for vm in vms]
    settings = memory_settings(client, ids, namespace, every_vm=every_vm)
    processors = virtual_processors(client, ids, namespace, every_vm=every_vm)
    running = [_vm_id(vm) for vm in vms if holds_memory(vm.get("EnabledState"))]
    assigned = assigned_memory(client, running, namespace, every_vm=every_vm) if running else {}
    return {_vm_id(vm): {"memory": vm_memory_facts(vm.get("EnabledState"), settings.get(_vm_id(vm)), assigned.get(_vm_id(vm))),
                         "virtual_processors": processors.get(_vm_id(vm))} for vm in vms}


def _vm_id(vm: dict[str, t.Any]) -> str:
    """A VM's id: its Msvm_ComputerSystem.Name."""
    return str(vm.get("Name"))


def vm_memory(client: WSManClient, vm: dict[str, t.Any], namespace: str = VIRTUALIZATION_NAMESPACE) -> dict[str, t.Any]:
    """One VM's memory facts (its Msvm_ComputerSystem known): one request for a VM that is off or saved, two for one
    that holds memory."""
    vm_id, state = _vm_id(vm), vm.get("EnabledState")
    settings = memory_settings(client, [vm_id], namespace).get(vm_id)
    assigned = assigned_memory(client, [vm_id], namespace).get(vm_id) if holds_memory(state) else None
    return vm_memory_facts(state, settings, assigned)


def vm_needed_mb(client: WSManClient, vm: dict[str, t.Any], namespace: str = VIRTUALIZATION_NAMESPACE) -> int | None:
    """What a destination must have free to take this VM now (its Msvm_ComputerSystem known), in MB, or None when it
    cannot be told: one request (the memory a running VM holds, or the startup memory of one that is off or saved); a
    second only when a running VM's current memory cannot be read, to see whether its memory is static."""
    vm_id, state = _vm_id(vm), vm.get("EnabledState")
    if holds_memory(state):
        assigned = assigned_memory(client, [vm_id], namespace).get(vm_id)
        if assigned is not None:
            return assigned
    config = configured(memory_settings(client, [vm_id], namespace).get(vm_id))
    return needed_memory(state, None, config["startup_mb"], config["dynamic"])
