# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hyperv/memory.py over a WSManClient whose transport answers with canned WinRM replies (docs/wsman-wire.md, "Memory
and processors"): the queries and their cost, units, checkpoints and defaults left out, and what a destination needs.

Provenance of the canned replies: the envelope is WinRM's optimized EnumerateResponse (items in the first reply, as
test_hyperv_cluster.py builds it, after the captures docs/wsman-wire.md cites); the classes, property names, types and
units are those of Microsoft's class pages (Win32_OperatingSystem: KB; Win32_ComputerSystem; Msvm_MemorySettingData:
AllocationUnits "byte * 2^20"; Msvm_Memory: BlockSize 1048576, SystemName the VM's GUID); InstanceIDs have the form os-win
matches ('Microsoft:<GUID>\\...'). The values are illustrative, not captured from a host.
"""

from __future__ import annotations

import typing as t
from xml.sax.saxutils import escape

import pytest

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv import memory
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import HyperVError
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.errors import WSManFault
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.soap import class_uri
from ansible_collections.vmgate.hyperv.tests.unit.plugins.plugin_utils.test_hyperv_cluster import (
    ACCESS_DENIED,
    CannedClient,
    items_reply,
)

V2 = "root/virtualization/v2"
CIMV2 = "root/cimv2"
WEB01 = "6C9A2A5F-7F1B-4D4B-9C1E-0F0E1D2C3B4A"
DB01 = "1F3B5D7A-2C4E-4A6B-8D0F-1A2B3C4D5E01"
OFF01 = "0F0E1D2C-3B4A-4D4B-9C1E-6C9A2A5F7F1B"
CHECKPOINT = "A1B2C3D4-0000-4000-8000-000000000001"
MEMORY_DEVICE = "4764334D-E001-4176-82EE-5594EC9B530E"
PROCESSOR_DEVICE = "B637F346-6A0E-4DEC-AF52-BD70CB80A21D"


def instance(namespace: str, class_name: str, **properties: t.Any) -> str:
    """An instance element as WinRM writes it: properties in the class URI's namespace, None as xsi:nil."""
    uri = class_uri(namespace, class_name)
    parts = [f'<p:{name} xsi:nil="true"/>' if value is None else f"<p:{name}>{escape(str(value))}</p:{name}>"
             for name, value in properties.items()]
    return f'<p:{class_name} xmlns:p="{uri}" xsi:type="p:{class_name}_Type">{"".join(parts)}</p:{class_name}>'


def operating_system(total_kb: t.Any = 67108392, free_kb: t.Any = 12582912) -> str:
    return instance(CIMV2, "Win32_OperatingSystem", Caption="Microsoft Windows Server 2022 Datacenter",
                    FreePhysicalMemory=free_kb, Name="Microsoft Windows Server 2022 Datacenter|C:\\Windows|\\Device\\Harddisk0\\Partition2",
                    TotalVisibleMemorySize=total_kb)


def computer_system(logical: t.Any = 64) -> str:
    return instance(CIMV2, "Win32_ComputerSystem", Name="HV01", NumberOfLogicalProcessors=logical, NumberOfProcessors=2,
                    TotalPhysicalMemory=68719476736)


def memory_settings(owner: str, startup: t.Any, *, dynamic: t.Any = "false", minimum: t.Any = 512, maximum: t.Any = 1048576,
                    units: t.Any = "byte * 2^20", device: str = MEMORY_DEVICE) -> str:
    return instance(V2, "Msvm_MemorySettingData", AllocationUnits=units, DynamicMemoryEnabled=dynamic, ElementName="Memory",
                    InstanceID=f"Microsoft:{owner}\\{device}", Limit=maximum, Reservation=minimum, ResourceType=4,
                    VirtualQuantity=startup)


POOL_DEFAULTS = instance(V2, "Msvm_MemorySettingData", AllocationUnits="byte * 2^20", Caption="Memory Default Settings",
                         InstanceID=f"Microsoft:Definition\\{MEMORY_DEVICE}\\Default", VirtualQuantity=1024)


def processor_settings(owner: str, count: t.Any) -> str:
    return instance(V2, "Msvm_ProcessorSettingData", ElementName="Processor", InstanceID=f"Microsoft:{owner}\\{PROCESSOR_DEVICE}\\0",
                    VirtualQuantity=count)


def vm_memory(system: str, blocks: t.Any, *, block_size: t.Any = 1048576, name: str = "Memory") -> str:
    return instance(V2, "Msvm_Memory", BlockSize=block_size, CreationClassName="Msvm_Memory", DeviceID=f"Microsoft:{system}\\{MEMORY_DEVICE}",
                    ElementName=name, NumberOfBlocks=blocks, SystemCreationClassName="Msvm_ComputerSystem", SystemName=system)


def vm(vm_id: str, state: int) -> dict[str, t.Any]:
    return {"Name": vm_id, "ElementName": vm_id[:4], "EnabledState": state, "CreationClassName": "Msvm_ComputerSystem"}


def canned(*replies: t.Any) -> CannedClient:
    queue = list(replies)
    return CannedClient(lambda _request: queue.pop(0))


def sent(client: CannedClient) -> list[tuple[str, str]]:
    """(namespace of the resource URI, WQL) of every request."""
    return [(request.resource_uri.split("/wmi/", 1)[1].rsplit("/", 1)[0], request.wql) for request in client.requests]


# The host


def test_host_memory_is_two_requests_to_cimv2_in_whole_megabytes():
    client = canned(items_reply(operating_system(total_kb=67108392, free_kb=12583935)), items_reply(computer_system(56)))
    assert memory.host_memory(client) == {"total_mb": 65535, "free_mb": 12288, "logical_processors": 56}
    assert sent(client) == [(CIMV2, "SELECT * FROM Win32_OperatingSystem"), (CIMV2, "SELECT * FROM Win32_ComputerSystem")]
    assert client.requests[0].resource_uri == "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/cimv2/*"


def test_host_free_memory_is_one_request():
    client = canned(items_reply(operating_system(free_kb=6291456)))
    assert memory.host_free_mb(client) == 6144
    assert len(client.requests) == 1


def test_figures_the_host_leaves_out_are_null_not_zero():
    client = canned(items_reply(operating_system(total_kb=None, free_kb=None)), items_reply(computer_system(None)))
    assert memory.host_memory(client) == memory.unread_host() == {"total_mb": None, "free_mb": None, "logical_processors": None}


@pytest.mark.parametrize("reply, message", [
    (operating_system(free_kb="12 GB"), r"unusable Win32_OperatingSystem: Win32_OperatingSystem\.FreePhysicalMemory: '12 GB' is not a uint64"),
    (operating_system(free_kb=-1), r"FreePhysicalMemory: '-1' is not a uint64"),
])
def test_an_unusable_figure_is_an_error_naming_the_class(reply, message):
    with pytest.raises(HyperVError, match=message):
        memory.host_free_mb(canned(items_reply(reply)))


def test_no_instance_is_an_error_naming_the_class_and_namespace():
    with pytest.raises(HyperVError, match=r"has no Win32_OperatingSystem in root/cimv2"):
        memory.host_free_mb(canned(items_reply()))


def test_a_fault_reading_cimv2_propagates_as_the_fault_it_is():
    with pytest.raises(WSManFault) as raised:
        memory.host_memory(canned(ACCESS_DENIED))
    assert raised.value.access_denied


# The VMs' settings


def test_every_vm_reads_every_setting_and_keeps_only_the_vms_own():
    client = canned(items_reply(
        POOL_DEFAULTS,
        memory_settings(WEB01, 4096),
        memory_settings(CHECKPOINT, 2048),  # a checkpoint of web01: its own GUID
        memory_settings(DB01.lower(), 8192, dynamic="true", minimum=2048, maximum=16384),
    ))
    settings = memory.memory_settings(client, [WEB01, DB01], V2, every_vm=True)
    assert sent(client) == [(V2, "SELECT * FROM Msvm_MemorySettingData")]
    assert {vm_id: row["VirtualQuantity"] for vm_id, row in settings.items()} == {WEB01: 4096, DB01: 8192}
    assert memory.configured(settings[DB01]) == {"startup_mb": 8192, "minimum_mb": 2048, "maximum_mb": 16384, "dynamic": True}


def test_vms_asked_for_by_name_are_queried_by_their_settings_prefix_as_os_win_does():
    client = canned(items_reply(memory_settings(WEB01, 4096)))
    assert list(memory.memory_settings(client, [WEB01, DB01], V2)) == [WEB01]
    assert sent(client) == [(V2, f"SELECT * FROM Msvm_MemorySettingData WHERE InstanceID LIKE 'Microsoft:{WEB01}%' "
                                 f"OR InstanceID LIKE 'Microsoft:{DB01}%'")]


def test_two_settings_for_one_vm_leave_it_unknown_rather_than_guessed():
    client = canned(items_reply(memory_settings(WEB01, 4096), memory_settings(WEB01, 8192, device="OTHER")))
    assert memory.memory_settings(client, [WEB01], V2) == {}


def test_no_vm_asked_for_costs_nothing():
    client = canned()
    assert memory.memory_settings(client, [], V2) == {} and memory.virtual_processors(client, [], V2) == {}
    assert memory.assigned_memory(client, [], V2) == {} and client.requests == []


@pytest.mark.parametrize("units, startup, expected", [
    ("byte * 2^20", 4096, 4096),   # the v2 class page
    ("MB", 4096, 4096),            # the v1 class page
    (None, 4096, 4096),            # left out: the class's default, MB
    ("byte*2^30", 4, 4096),        # GB, spelled without spaces
    ("byte * 2^10", 4194304, 4096),  # KB
    ("pages", 4096, None),         # not known: no figure rather than a wrong one
])
def test_allocation_units(units, startup, expected):
    settings = {"VirtualQuantity": startup, "Reservation": startup, "Limit": startup, "AllocationUnits": units,
                "DynamicMemoryEnabled": True}
    assert memory.configured(settings)["startup_mb"] == expected


def test_a_static_vm_s_range_is_its_startup_memory_not_the_unused_dynamic_range():
    settings = {"VirtualQuantity": 4096, "Reservation": 512, "Limit": 1048576, "AllocationUnits": "byte * 2^20",
                "DynamicMemoryEnabled": False}
    assert memory.configured(settings) == {"startup_mb": 4096, "minimum_mb": 4096, "maximum_mb": 4096, "dynamic": False}


def test_virtual_processors_of_the_vms_not_their_checkpoints():
    client = canned(items_reply(processor_settings(WEB01, 4), processor_settings(CHECKPOINT, 2), processor_settings(DB01, 8)))
    assert memory.virtual_processors(client, [WEB01, DB01], V2, every_vm=True) == {WEB01: 4, DB01: 8}
    assert sent(client) == [(V2, "SELECT * FROM Msvm_ProcessorSettingData")]


# The memory running VMs hold


def test_assigned_memory_by_system_name_leaves_out_the_host_s_own():
    client = canned(items_reply(vm_memory("HV01", 65536), vm_memory(WEB01, 6144), vm_memory(DB01.lower(), 2, block_size=1 << 30)))
    assert memory.assigned_memory(client, [WEB01, DB01], V2, every_vm=True) == {WEB01: 6144, DB01: 2048}
    assert sent(client) == [(V2, "SELECT * FROM Msvm_Memory")]


def test_assigned_memory_of_named_vms_and_the_default_block_size():
    client = canned(items_reply(vm_memory(WEB01, 3072, block_size=None)))
    assert memory.assigned_memory(client, [WEB01, DB01], V2) == {WEB01: 3072}
    assert sent(client) == [(V2, f"SELECT * FROM Msvm_Memory WHERE SystemName = '{WEB01}' OR SystemName = '{DB01}'")]


@pytest.mark.parametrize("rows, expected", [
    ([vm_memory(WEB01, 4096, name="Memory"), vm_memory(WEB01, 2048, name="NUMA node 0")], 4096),  # the one named Memory
    ([vm_memory(WEB01, 4096, name="A"), vm_memory(WEB01, 2048, name="B")], None),  # nothing tells which
    ([vm_memory(WEB01, None)], None),
])
def test_several_memories_of_one_vm(rows, expected):
    assert memory.assigned_memory(canned(items_reply(*rows)), [WEB01], V2) == {WEB01: expected}


# What a destination needs


@pytest.mark.parametrize("state, settings, assigned, expected", [
    (2, {"VirtualQuantity": 4096, "DynamicMemoryEnabled": False}, 4096, 4096),       # running, static
    (2, {"VirtualQuantity": 2048, "DynamicMemoryEnabled": True, "Reservation": 1024, "Limit": 16384}, 9216, 9216),  # grew
    (32768, {"VirtualQuantity": 4096, "DynamicMemoryEnabled": False}, 4096, 4096),   # paused: still holds it
    (3, {"VirtualQuantity": 4096, "DynamicMemoryEnabled": True, "Reservation": 1024, "Limit": 8192}, None, 4096),  # off
    (32769, {"VirtualQuantity": 4096, "DynamicMemoryEnabled": False}, 1234, 4096),   # saved: startup, a stale figure ignored
    (2, {"VirtualQuantity": 4096, "DynamicMemoryEnabled": False}, None, 4096),       # running static, current not read
    (2, {"VirtualQuantity": 2048, "DynamicMemoryEnabled": True, "Reservation": 1024, "Limit": 16384}, None, None),
    (2, None, None, None),                                                           # nothing read: unknown
    (3, None, None, None),
])
def test_needed_memory(state, settings, assigned, expected):
    facts = memory.vm_memory_facts(state, settings, assigned)
    assert facts["needed_mb"] == expected
    assert set(facts) == set(memory.VM_KEYS)
    assert facts["assigned_mb"] == (assigned if state not in (3, 32769) else None)


def test_vm_needed_mb_of_a_running_vm_is_one_request():
    client = canned(items_reply(vm_memory(WEB01, 6144)))
    assert memory.vm_needed_mb(client, vm(WEB01, 2)) == 6144
    assert sent(client) == [(V2, f"SELECT * FROM Msvm_Memory WHERE SystemName = '{WEB01}'")]


def test_vm_needed_mb_of_an_off_vm_is_one_request():
    client = canned(items_reply(memory_settings(OFF01, 32768)))
    assert memory.vm_needed_mb(client, vm(OFF01, 3)) == 32768
    assert [wql for _namespace, wql in sent(client)] == [
        f"SELECT * FROM Msvm_MemorySettingData WHERE InstanceID LIKE 'Microsoft:{OFF01}%'"]


@pytest.mark.parametrize("dynamic, expected", [("false", 4096), ("true", None)])
def test_vm_needed_mb_reads_the_settings_when_a_running_vm_s_memory_is_missing(dynamic, expected):
    client = canned(items_reply(), items_reply(memory_settings(WEB01, 4096, dynamic=dynamic, minimum=1024, maximum=8192)))
    assert memory.vm_needed_mb(client, vm(WEB01, 2)) == expected
    assert len(client.requests) == 2


def test_vm_memory_costs_two_requests_running_and_one_off():
    client = canned(items_reply(memory_settings(WEB01, 2048, dynamic="true", minimum=1024, maximum=8192)),
                    items_reply(vm_memory(WEB01, 5120)))
    assert memory.vm_memory(client, vm(WEB01, 2)) == {
        "assigned_mb": 5120, "startup_mb": 2048, "minimum_mb": 1024, "maximum_mb": 8192, "dynamic": True, "needed_mb": 5120}
    client = canned(items_reply(memory_settings(OFF01, 32768)))
    assert memory.vm_memory(client, vm(OFF01, 3))["needed_mb"] == 32768 and len(client.requests) == 1


def test_vms_memory_is_three_requests_whatever_the_number_of_vms():
    client = canned(
        items_reply(memory_settings(WEB01, 4096), memory_settings(DB01, 2048, dynamic="true", minimum=1024, maximum=8192),
                    memory_settings(OFF01, 32768)),
        items_reply(processor_settings(WEB01, 2), processor_settings(DB01, 4), processor_settings(OFF01, 8)),
        items_reply(vm_memory(WEB01, 4096), vm_memory(DB01, 6144)),
    )
    found = memory.vms_memory(client, [vm(WEB01, 2), vm(DB01, 2), vm(OFF01, 3)], V2, every_vm=True)
    assert {vm_id: (entry["memory"]["needed_mb"], entry["virtual_processors"]) for vm_id, entry in found.items()} == {
        WEB01: (4096, 2), DB01: (6144, 4), OFF01: (32768, 8)}
    assert [wql for _namespace, wql in sent(client)] == [
        "SELECT * FROM Msvm_MemorySettingData", "SELECT * FROM Msvm_ProcessorSettingData", "SELECT * FROM Msvm_Memory"]


def test_vms_memory_skips_msvm_memory_when_no_vm_holds_any():
    client = canned(items_reply(memory_settings(OFF01, 32768)), items_reply(processor_settings(OFF01, 8)))
    found = memory.vms_memory(client, [vm(OFF01, 32769)], V2)
    assert found[OFF01]["memory"]["needed_mb"] == 32768 and len(client.requests) == 2
