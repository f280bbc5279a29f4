# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CIM view of the lab: which classes a host serves and the instances (typed property values) it returns.

Property names, keys and fixed values follow the class references (seed 003 for the migration service; the
Failover Cluster WMI reference for root/MSCluster). Datetimes are epoch seconds (type 'datetime'), intervals seconds
(type 'interval'), references methods.Ref values (type 'ref'), embedded objects CimInstance values (type 'embedded');
rendering is wsman.py's job.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Callable

from hvsim import cimxml
from hvsim import cluster as clusters
from hvsim.compat import Vector
from hvsim.jobs import JOB_STATUS, MigrationJob
from hvsim.lab import CIMV2, MSCLUSTER, Cluster, Host, Lab, VirtualMachine

PROCESSOR_DEVICE_ID = 'b637f346-6a0e-4dec-af52-bd70cb80a21d'
MEMORY_DEVICE_ID = '4764334d-e001-4176-82ee-5594ec9b530e'  # illustrative: the client only reads the GUID before the '\\'
MB = 'byte * 2^20'  # Msvm_MemorySettingData.AllocationUnits, per its class reference
BOOT_WALL = 1_780_000_000.0  # a fixed install/boot time keeps responses reproducible


@dataclass
class Ref:
    """An endpoint reference (a REF parameter or property): the class it points at and its selectors."""

    class_name: str
    selectors: dict[str, str]


@dataclass
class CimInstance:
    """An instance: class, typed values and its key property names."""

    class_name: str
    values: dict[str, Any]
    types: dict[str, str]
    keys: tuple[str, ...]

    def key_values(self) -> dict[str, Any]:
        """Key property -> value."""
        return {key: self.values.get(key) for key in self.keys}


SCHEMAS: dict[str, dict[str, str]] = {
    'Msvm_ComputerSystem': {
        'AvailableRequestedStates': 'uint16[]', 'Caption': 'string', 'CommunicationStatus': 'uint16',
        'CreationClassName': 'string', 'Dedicated': 'uint16[]', 'Description': 'string', 'DetailedStatus': 'uint16',
        'ElementName': 'string', 'EnabledDefault': 'uint16', 'EnabledState': 'uint16', 'EnhancedSessionModeState': 'uint16',
        'HealthState': 'uint16', 'InstallDate': 'datetime', 'InstanceID': 'string', 'Name': 'string', 'NameFormat': 'string',
        'NumberOfNumaNodes': 'uint16', 'OnTimeInMilliseconds': 'uint64', 'OperatingStatus': 'uint16',
        'OperationalStatus': 'uint16[]', 'OtherEnabledState': 'string', 'PrimaryOwnerContact': 'string',
        'PrimaryOwnerName': 'string', 'PrimaryStatus': 'uint16', 'ProcessID': 'uint32', 'RequestedState': 'uint16',
        'ResetCapability': 'uint16', 'Status': 'string', 'StatusDescriptions': 'string[]',
        'TimeOfLastConfigurationChange': 'datetime', 'TimeOfLastStateChange': 'datetime', 'TransitioningToState': 'uint16',
        'Version': 'string',
    },
    'Msvm_VirtualSystemMigrationService': {
        'ActiveStorageMigrationCount': 'uint32', 'ActiveVirtualSystemMigrationCount': 'uint32',
        'AvailableRequestedStates': 'uint16[]', 'Caption': 'string', 'CommunicationStatus': 'uint16',
        'CreationClassName': 'string', 'Description': 'string', 'DetailedStatus': 'uint16', 'ElementName': 'string',
        'EnabledDefault': 'uint16', 'EnabledState': 'string', 'HealthState': 'uint16', 'InstallDate': 'datetime',
        'InstanceID': 'string', 'MigrationServiceListenerIPAddressList': 'string[]', 'Name': 'string',
        'OperatingStatus': 'uint16', 'OperationalStatus': 'uint16[]', 'OtherEnabledState': 'string',
        'PrimaryOwnerContact': 'string', 'PrimaryOwnerName': 'string', 'PrimaryStatus': 'uint16', 'RequestedState': 'uint16',
        'StartMode': 'string', 'Started': 'boolean', 'Status': 'string', 'StatusDescriptions': 'string[]',
        'SystemCreationClassName': 'string', 'SystemName': 'string', 'TimeOfLastStateChange': 'datetime',
        'TransitioningToState': 'uint16',
    },
    'Msvm_VirtualSystemMigrationServiceSettingData': {
        'AuthenticationType': 'uint32', 'Caption': 'string', 'Description': 'string', 'ElementName': 'string',
        'EnableCompression': 'boolean', 'EnableSmbTransport': 'boolean', 'EnableVirtualSystemMigration': 'boolean',
        'InstanceID': 'string', 'MaximumActiveStorageMigration': 'uint32', 'MaximumActiveVirtualSystemMigration': 'uint32',
    },
    'Msvm_VirtualSystemSettingData': {
        'Caption': 'string', 'ConfigurationID': 'string', 'Description': 'string', 'ElementName': 'string',
        'InstanceID': 'string', 'Version': 'string', 'VirtualSystemIdentifier': 'string', 'VirtualSystemSubType': 'string',
        'VirtualSystemType': 'string',
    },
    'Msvm_ProcessorSettingData': {
        'Caption': 'string', 'Description': 'string', 'ElementName': 'string', 'InstanceID': 'string',
        'LimitProcessorFeatures': 'boolean', 'ResourceSubType': 'string', 'ResourceType': 'uint16', 'VirtualQuantity': 'uint64',
    },
    'Msvm_MemorySettingData': {
        'AllocationUnits': 'string', 'Caption': 'string', 'Description': 'string', 'DynamicMemoryEnabled': 'boolean',
        'ElementName': 'string', 'InstanceID': 'string', 'Limit': 'uint64', 'Reservation': 'uint64', 'ResourceSubType': 'string',
        'ResourceType': 'uint16', 'TargetMemoryBuffer': 'uint32', 'VirtualQuantity': 'uint64', 'VirtualQuantityUnits': 'string',
        'Weight': 'uint32',
    },
    'Msvm_Memory': {
        'BlockSize': 'uint64', 'Caption': 'string', 'ConsumableBlocks': 'uint64', 'CreationClassName': 'string',
        'Description': 'string', 'DeviceID': 'string', 'ElementName': 'string', 'EnabledState': 'uint16', 'HealthState': 'uint16',
        'NumberOfBlocks': 'uint64', 'Purpose': 'string', 'SystemCreationClassName': 'string', 'SystemName': 'string',
    },
    'Msvm_MigrationJob': {
        'Cancellable': 'boolean', 'Caption': 'string', 'DeleteOnCompletion': 'boolean', 'Description': 'string',
        'DestinationHost': 'string', 'ElapsedTime': 'interval', 'ElementName': 'string', 'ErrorCode': 'uint16',
        'ErrorDescription': 'string', 'ErrorSummaryDescription': 'string', 'HealthState': 'uint16', 'InstanceID': 'string',
        'JobRunTimes': 'uint32', 'JobState': 'uint16', 'JobStatus': 'string', 'JobType': 'uint16',
        'LocalOrUtcTime': 'uint16', 'MigrationType': 'uint16', 'Name': 'string', 'OperationalStatus': 'uint16[]',
        'PercentComplete': 'uint16', 'Priority': 'uint32', 'StartTime': 'datetime', 'Status': 'string',
        'StatusDescriptions': 'string[]', 'TimeBeforeRemoval': 'interval', 'TimeOfLastStateChange': 'datetime',
        'TimeSubmitted': 'datetime', 'VirtualSystemName': 'string',
    },
    'Msvm_CompatibilityVector': {'CompareOperation': 'uint32', 'CompatibilityInfo': 'uint64', 'VectorId': 'uint32'},
    'Msvm_Error': {
        'CIMStatusCode': 'uint32', 'CIMStatusCodeDescription': 'string', 'ErrorSource': 'string',
        'ErrorSourceFormat': 'uint16', 'ErrorType': 'uint16', 'Message': 'string', 'MessageArguments': 'string[]',
        'MessageID': 'string', 'OwningEntity': 'string', 'PerceivedSeverity': 'uint16', 'ProbableCause': 'uint16',
        'ProbableCauseDescription': 'string', 'RecommendedActions': 'string[]',
    },
}
SCHEMAS.update({
    'MSCluster_Cluster': {'Caption': 'string', 'Description': 'string', 'Fqdn': 'string', 'Name': 'string'},
    'MSCluster_Node': {
        'Caption': 'string', 'Description': 'string', 'Id': 'string', 'Name': 'string', 'NodeDrainStatus': 'uint32',
        'NodeDrainTarget': 'string', 'State': 'sint32',
    },
    'MSCluster_ResourceGroup': {
        'Caption': 'string', 'Description': 'string', 'GroupType': 'uint32', 'Id': 'string', 'Name': 'string',
        'OwnerNode': 'string', 'PersistentState': 'boolean', 'State': 'sint32',
    },
    'MSCluster_Resource': {
        'Caption': 'string', 'Description': 'string', 'Id': 'string', 'Name': 'string', 'OwnerGroup': 'string',
        'OwnerNode': 'string', 'PrivateProperties': 'embedded', 'State': 'sint32', 'Type': 'string',
    },
    'MSCluster_ResourceToPossibleOwner': {'GroupComponent': 'ref', 'PartComponent': 'ref'},
    'MSCluster_ResourceGroupToPreferredNode': {'GroupComponent': 'ref', 'PartComponent': 'ref'},
})
# root/cimv2 (Win32 classes reference): memory sizes in KB on Win32_OperatingSystem, in bytes on Win32_ComputerSystem
CIMV2_SCHEMAS: dict[str, dict[str, str]] = {
    'Win32_OperatingSystem': {
        'Caption': 'string', 'CreationClassName': 'string', 'CSCreationClassName': 'string', 'CSName': 'string',
        'FreePhysicalMemory': 'uint64', 'FreeVirtualMemory': 'uint64', 'Name': 'string', 'TotalVirtualMemorySize': 'uint64',
        'TotalVisibleMemorySize': 'uint64', 'Version': 'string',
    },
    'Win32_ComputerSystem': {
        'Caption': 'string', 'Domain': 'string', 'Manufacturer': 'string', 'Model': 'string', 'Name': 'string',
        'NumberOfLogicalProcessors': 'uint32', 'NumberOfProcessors': 'uint32', 'TotalPhysicalMemory': 'uint64',
    },
}
SCHEMAS.update(CIMV2_SCHEMAS)
SCHEMAS['Msvm_ConcreteJob'] = {k: v for k, v in SCHEMAS['Msvm_MigrationJob'].items()
                               if k not in ('DestinationHost', 'MigrationType', 'VirtualSystemName')}

KEYS = {
    'Msvm_ComputerSystem': ('CreationClassName', 'Name'),
    'Msvm_VirtualSystemMigrationService': ('CreationClassName', 'Name', 'SystemCreationClassName', 'SystemName'),
    'Msvm_VirtualSystemMigrationServiceSettingData': ('InstanceID',),
    'Msvm_VirtualSystemSettingData': ('InstanceID',),
    'Msvm_ProcessorSettingData': ('InstanceID',),
    'Msvm_MemorySettingData': ('InstanceID',),
    'Msvm_Memory': ('CreationClassName', 'DeviceID', 'SystemCreationClassName', 'SystemName'),
    'Win32_OperatingSystem': ('Name',),
    'Win32_ComputerSystem': ('Name',),
    'Msvm_MigrationJob': ('InstanceID',),
    'Msvm_ConcreteJob': ('InstanceID',),
    'Msvm_CompatibilityVector': (),
    'Msvm_Error': (),
    'MSCluster_Cluster': ('Name',),
    'MSCluster_Node': ('Name',),
    'MSCluster_ResourceGroup': ('Name',),
    'MSCluster_Resource': ('Name',),
    'MSCluster_ResourceToPossibleOwner': ('GroupComponent', 'PartComponent'),
    'MSCluster_ResourceGroupToPreferredNode': ('GroupComponent', 'PartComponent'),
}
GROUP_TYPE_VIRTUAL_MACHINE = 111  # ClusGroupTypeVirtualMachine (os-win winapi/constants.py)


def make(class_name: str, **values: Any) -> CimInstance:
    """An instance with every schema property present (absent ones null), as WMI returns them."""
    schema = SCHEMAS[class_name]
    unknown = set(values) - set(schema)
    if unknown:
        raise KeyError(f'{class_name} has no properties {sorted(unknown)}')
    full = {name: values.get(name) for name in schema}
    return CimInstance(class_name, full, dict(schema), KEYS[class_name])


def host_system(lab: Lab, host: Host) -> CimInstance:
    """The host's own Msvm_ComputerSystem."""
    del lab
    return make(
        'Msvm_ComputerSystem', Caption='Hosting Computer System', CreationClassName='Msvm_ComputerSystem',
        Description='Microsoft Hosting Computer System', ElementName=host.name, EnabledDefault=2, EnabledState=2,
        HealthState=5, InstallDate=BOOT_WALL, Name=host.name, NameFormat=None, NumberOfNumaNodes=1,
        OperationalStatus=[2], RequestedState=12, ResetCapability=1, Status='OK', StatusDescriptions=['OK'],
        TimeOfLastStateChange=BOOT_WALL, Dedicated=[0],
    )


def vm_system(lab: Lab, host: Host, vm: VirtualMachine) -> CimInstance:
    """A VM's Msvm_ComputerSystem."""
    running = vm.state == 2
    now = lab.wall()
    return make(
        'Msvm_ComputerSystem', Caption='Virtual Machine', CreationClassName='Msvm_ComputerSystem',
        Description='Microsoft Virtual Machine', ElementName=vm.name, EnabledDefault=2, EnabledState=vm.state,
        EnhancedSessionModeState=3, HealthState=5, InstallDate=BOOT_WALL, Name=vm.guid, NameFormat='VMName',
        NumberOfNumaNodes=1, OnTimeInMilliseconds=int((now - vm.state_changed_wall) * 1000) if running else 0,
        OperationalStatus=[2], ProcessID=4000 + int(vm.guid[:4], 16) % 5000 if running else None,
        RequestedState=12, ResetCapability=1, Status='OK', StatusDescriptions=['Operating normally'],
        TimeOfLastConfigurationChange=vm.state_changed_wall, TimeOfLastStateChange=vm.state_changed_wall,
        AvailableRequestedStates=[3, 2, 32768, 32769] if running else [2], Dedicated=[0],
        Version=vm.version if host.computer_system_version else None,
    )


def migration_service(lab: Lab, host: Host) -> CimInstance:
    """Msvm_VirtualSystemMigrationService, fixed values per the class reference."""
    return make(
        'Msvm_VirtualSystemMigrationService',
        ActiveStorageMigrationCount=host.migration.active_storage,
        ActiveVirtualSystemMigrationCount=lab.active_migrations(host),
        Caption='Hyper-V Migration Service', CreationClassName='Msvm_VirtualSystemMigrationService',
        Description='Hyper-V Migration Service', ElementName='Hyper-V Migration Service', EnabledDefault=2,
        EnabledState='2', HealthState=5, MigrationServiceListenerIPAddressList=list(host.migration.listeners),
        Name=host.migration.service_name, OperationalStatus=[2], RequestedState=12, Started=True, Status='OK',
        StatusDescriptions=['OK'], SystemCreationClassName='Msvm_ComputerSystem', SystemName=host.name,
        TimeOfLastStateChange=BOOT_WALL,
    )


def migration_settings(lab: Lab, host: Host) -> CimInstance:
    """Msvm_VirtualSystemMigrationServiceSettingData."""
    del lab
    return make(
        'Msvm_VirtualSystemMigrationServiceSettingData', AuthenticationType=host.migration.authentication_type,
        Caption='Virtual System Migration Service Settings', Description='Virtual System Migration Service Settings',
        ElementName='Virtual System Migration Service Settings', EnableCompression=True, EnableSmbTransport=False,
        EnableVirtualSystemMigration=host.migration.enabled, InstanceID='Microsoft:MigrationServiceSettingData',
        MaximumActiveStorageMigration=host.migration.max_storage,
        MaximumActiveVirtualSystemMigration=host.migration.max_vm,
    )


def vm_settings(vm: VirtualMachine) -> CimInstance:
    """Msvm_VirtualSystemSettingData (realized): where real hosts keep the configuration Version."""
    return make(
        'Msvm_VirtualSystemSettingData', Caption='Virtual Machine Settings', ConfigurationID=vm.guid,
        Description='Active settings for the virtual machine.', ElementName=vm.name, InstanceID=f'Microsoft:{vm.guid}',
        Version=vm.version, VirtualSystemIdentifier=vm.guid, VirtualSystemSubType='Microsoft:Hyper-V:SubType:2',
        VirtualSystemType='Microsoft:Hyper-V:System:Realized',
    )


def checkpoint_id(vm: VirtualMachine, index: int) -> str:
    """A checkpoint's settings id: a GUID of its own, so its settings data never carries the VM's GUID."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f'hvsim:checkpoint:{vm.guid}:{index}')).upper()


def _setting_owners(vm: VirtualMachine) -> list[tuple[str, int]]:
    """(settings id, divisor) for the VM's active settings and each checkpoint's (taken when it had half as much), so that
    a reader that does not filter them out counts wrong figures."""
    return [(vm.guid, 1)] + [(checkpoint_id(vm, index), 2) for index in range(vm.checkpoints)]


def vm_processors(vm: VirtualMachine) -> list[CimInstance]:
    """Msvm_ProcessorSettingData of the VM and of its checkpoints: LimitProcessorFeatures is processor compatibility
    mode, VirtualQuantity the virtual processors."""
    return [make(
        'Msvm_ProcessorSettingData', Caption='Processor', Description='Settings for Microsoft Virtual Processor.',
        ElementName='Processor', InstanceID=f'Microsoft:{owner}\\{PROCESSOR_DEVICE_ID}\\0',
        LimitProcessorFeatures=vm.compatibility_mode, ResourceSubType='Microsoft:Hyper-V:Processor', ResourceType=3,
        VirtualQuantity=max(1, vm.processors // divisor),
    ) for owner, divisor in _setting_owners(vm)]


def vm_memory_settings(vm: VirtualMachine) -> list[CimInstance]:
    """Msvm_MemorySettingData of the VM and of its checkpoints: VirtualQuantity startup, Reservation minimum, Limit
    maximum, in AllocationUnits (MB), and DynamicMemoryEnabled."""
    memory = vm.memory
    return [make(
        'Msvm_MemorySettingData', AllocationUnits=MB, Caption='Memory', Description='Settings for Microsoft Virtual Machine Memory.',
        DynamicMemoryEnabled=memory.dynamic, ElementName='Memory', InstanceID=f'Microsoft:{owner}\\{MEMORY_DEVICE_ID}',
        Limit=memory.maximum // divisor, Reservation=memory.minimum // divisor, ResourceSubType='Microsoft:Hyper-V:Memory',
        ResourceType=4, TargetMemoryBuffer=20, VirtualQuantity=memory.startup_mb // divisor, VirtualQuantityUnits=MB, Weight=5000,
    ) for owner, divisor in _setting_owners(vm)]


def host_memory_defaults() -> CimInstance:
    """The resource pool's default memory settings, which a query of every Msvm_MemorySettingData also returns."""
    return make('Msvm_MemorySettingData', AllocationUnits=MB, Caption='Memory Default Settings',
                Description='Describes the default settings for the memory resources.', DynamicMemoryEnabled=False,
                ElementName='Memory', InstanceID='Microsoft:Definition\\4764334D-E001-4176-82EE-5594EC9B530E\\Default',
                Limit=1048576, Reservation=512, ResourceSubType='Microsoft:Hyper-V:Memory', ResourceType=4,
                VirtualQuantity=1024, VirtualQuantityUnits=MB, Weight=5000)


def _memory(system_name: str, megabytes: int, device: str) -> CimInstance:
    return make('Msvm_Memory', BlockSize=1048576, Caption='Memory', ConsumableBlocks=megabytes, CreationClassName='Msvm_Memory',
                Description='Memory', DeviceID=device, ElementName='Memory', EnabledState=2, HealthState=5,
                NumberOfBlocks=megabytes, Purpose='System Memory', SystemCreationClassName='Msvm_ComputerSystem',
                SystemName=system_name)


def memories(lab: Lab, host: Host) -> list[CimInstance]:
    """Msvm_Memory: the host's physical memory (SystemName its computer name) and the memory each VM that holds some
    has now (SystemName its GUID, NumberOfBlocks of BlockSize 1 MB)."""
    physical = [_memory(host.name, host.memory_mb, 'Microsoft:Physical\\0')]
    return physical + [_memory(vm.guid, vm.assigned_mb, f'Microsoft:{vm.guid}\\{MEMORY_DEVICE_ID}')
                       for vm in lab.vms.values() if vm.host == host.name and vm.assigned_mb is not None]


def operating_system(lab: Lab, host: Host) -> CimInstance:
    """Win32_OperatingSystem: TotalVisibleMemorySize and FreePhysicalMemory in KB; the free memory follows the VMs."""
    return make('Win32_OperatingSystem', Caption=f'Microsoft {host.os} Datacenter', CreationClassName='Win32_OperatingSystem',
                CSCreationClassName='Win32_ComputerSystem', CSName=host.name, FreePhysicalMemory=lab.free_mb(host) * 1024,
                FreeVirtualMemory=lab.free_mb(host) * 1024, Name=f'Microsoft {host.os} Datacenter|C:\\Windows|\\Device\\Harddisk0\\Partition2',
                TotalVirtualMemorySize=host.memory_mb * 1024, TotalVisibleMemorySize=host.memory_mb * 1024, Version='10.0.20348')


def computer_system(lab: Lab, host: Host) -> CimInstance:
    """Win32_ComputerSystem: the logical processors, and the physical memory in bytes."""
    del lab
    return make('Win32_ComputerSystem', Caption=host.name, Domain='lab.example', Manufacturer='hvsim', Model='Simulated Hyper-V host',
                Name=host.name, NumberOfLogicalProcessors=host.logical_processors, NumberOfProcessors=2,
                TotalPhysicalMemory=host.memory_mb * 1024 * 1024)


def migration_job(lab: Lab, job: MigrationJob) -> CimInstance:
    """A job as Msvm_MigrationJob (also when reached through Msvm_ConcreteJob: WMI returns the subclass)."""
    now = lab.clock()
    values = {
        'Cancellable': True, 'Caption': 'Virtual System Migration', 'DeleteOnCompletion': True,
        'Description': 'Virtual System Migration', 'ElapsedTime': job.elapsed(now), 'ElementName': 'Virtual System Migration',
        'ErrorCode': job.error_code, 'ErrorDescription': job.error_description,
        'ErrorSummaryDescription': job.error_summary, 'HealthState': 5 if job.error_code == 0 else 20,
        'InstanceID': job.instance_id, 'JobRunTimes': 1, 'JobState': job.state,
        'JobStatus': JOB_STATUS.get(job.state, ''), 'JobType': 5, 'LocalOrUtcTime': 2,
        'Name': 'Virtual System Migration', 'OperationalStatus': [2] if job.error_code == 0 else [6],
        'PercentComplete': job.percent, 'Priority': 0, 'StartTime': job.submitted_wall,
        'Status': 'OK' if job.error_code == 0 else 'Error',
        'StatusDescriptions': ['Job is running' if job.running else 'Job completed'], 'TimeBeforeRemoval': 300.0,
        'TimeOfLastStateChange': job.finished_wall or job.submitted_wall, 'TimeSubmitted': job.submitted_wall,
        'DestinationHost': job.destination_text, 'MigrationType': job.migration_type, 'VirtualSystemName': job.vm_guid,
    }
    return make('Msvm_MigrationJob', **values)


def vector(item: Vector) -> CimInstance:
    """Msvm_CompatibilityVector."""
    return make('Msvm_CompatibilityVector', CompareOperation=item.operation, CompatibilityInfo=item.value, VectorId=item.vector_id)


def error(message: str, warning: bool = False, message_id: str = '21024') -> CimInstance:
    """Msvm_Error carrying one reason (PerceivedSeverity 3 for a warning, 6 for a blocking problem)."""
    return make(
        'Msvm_Error', ErrorSource=None, ErrorSourceFormat=0, ErrorType=1 if not warning else 0, Message=message,
        MessageArguments=[], MessageID=message_id, OwningEntity='Microsoft-Windows-Hyper-V-VMMS',
        PerceivedSeverity=3 if warning else 6, ProbableCause=0, CIMStatusCode=1,
    )


def _migration_jobs(lab: Lab, host: Host) -> list[CimInstance]:
    """Jobs live on the source host; a migration job is an Msvm_MigrationJob whichever class it is enumerated through."""
    return [migration_job(lab, job) for job in lab.jobs.values() if job.source == host.name]


# root/MSCluster: every node answers for the whole cluster


def _cluster_of(lab: Lab, host: Host) -> Cluster:
    return lab.clusters[host.cluster_name]


def vm_resource_name(vm: VirtualMachine) -> str:
    """The VM resource's Name ('Virtual Machine <VM name>', as os-win looks it up)."""
    return f'{clusters.VM_RESOURCE_TYPE} {vm.name}'


def _private_properties(cluster: Cluster, values: dict[str, Any], types: dict[str, str]) -> tuple[Any, str]:
    """PrivateProperties as the cluster renders it: a nested MSCluster_Property element, or CIM-XML text."""
    if cluster.private_properties_encoding == 'cimxml':
        return cimxml.render_instance('MSCluster_Property', values, types), 'string'
    return CimInstance('MSCluster_Property', values, types, ()), 'embedded'


def cluster_instance(lab: Lab, host: Host) -> CimInstance:
    """MSCluster_Cluster."""
    cluster = _cluster_of(lab, host)
    return make('MSCluster_Cluster', Caption=cluster.name, Description='', Fqdn=f'{cluster.name.lower()}.lab.example', Name=cluster.name)


def node_instance(lab: Lab, node: Host, index: int) -> CimInstance:
    """MSCluster_Node (Id is the node number, from 1)."""
    del lab
    return make('MSCluster_Node', Caption=node.name, Description='', Id=str(index + 1), Name=node.name,
                NodeDrainStatus=node.drain_status, NodeDrainTarget=node.drain_target or '', State=clusters.node_state_code(node))


def group_instance(lab: Lab, cluster: Cluster, vm: VirtualMachine) -> CimInstance:
    """MSCluster_ResourceGroup of a VM role."""
    del lab
    return make('MSCluster_ResourceGroup', Caption=vm.group, Description='', GroupType=GROUP_TYPE_VIRTUAL_MACHINE,
                Id=clusters.group_id(cluster, vm.group), Name=vm.group, OwnerNode=vm.owner_node,
                PersistentState=clusters.group_state(vm) == clusters.GROUP_ONLINE, State=clusters.group_state(vm))


def _resource(cluster: Cluster, vm: VirtualMachine, kind: str, private: dict[str, Any], private_types: dict[str, str]) -> CimInstance:
    name = f'{kind} {vm.name}'
    value, cim_type = _private_properties(cluster, private, private_types)
    instance = make('MSCluster_Resource', Caption=name, Description='', Id=clusters.resource_id(cluster, name), Name=name,
                    OwnerGroup=vm.group, OwnerNode=vm.owner_node, PrivateProperties=value, State=clusters.resource_state(vm), Type=kind)
    instance.types['PrivateProperties'] = cim_type
    return instance


def vm_resources(lab: Lab, cluster: Cluster, vm: VirtualMachine) -> list[CimInstance]:
    """A VM role's two resources: the Virtual Machine (VmID, MigrationState...) and its configuration."""
    guid = vm.guid.lower()  # clusters show the VM id in lower case; Msvm_ComputerSystem.Name is upper case here
    machine = _resource(cluster, vm, clusters.VM_RESOURCE_TYPE,
                        {'VmID': guid, 'MigrationState': clusters.migration_state(lab, vm), 'OfflineAction': 1, 'ShutdownAction': 0,
                         'CheckHeartbeat': 1},
                        {'VmID': 'string', 'MigrationState': 'uint32', 'OfflineAction': 'uint32', 'ShutdownAction': 'uint32',
                         'CheckHeartbeat': 'uint32'})
    configuration = _resource(cluster, vm, clusters.VM_CONFIG_RESOURCE_TYPE,
                              {'VmID': guid, 'ConfigStoreRootPath': f'C:\\ClusterStorage\\Volume1\\{vm.name}'},
                              {'VmID': 'string', 'ConfigStoreRootPath': 'string'})
    return [machine, configuration]


def _node_ref(node: str) -> Ref:
    return Ref('MSCluster_Node', {'Name': node})


def possible_owner_links(lab: Lab, cluster: Cluster, vm: VirtualMachine) -> list[CimInstance]:
    """MSCluster_ResourceToPossibleOwner for both resources of a VM role."""
    return [
        make('MSCluster_ResourceToPossibleOwner', GroupComponent=Ref('MSCluster_Resource', {'Name': resource.values['Name']}),
             PartComponent=_node_ref(node))
        for resource in vm_resources(lab, cluster, vm) for node in clusters.possible_owners(cluster, vm)
    ]


def preferred_node_links(cluster: Cluster, vm: VirtualMachine) -> list[CimInstance]:
    """MSCluster_ResourceGroupToPreferredNode, in preference order."""
    del cluster
    return [make('MSCluster_ResourceGroupToPreferredNode', GroupComponent=Ref('MSCluster_ResourceGroup', {'Name': vm.group}),
                 PartComponent=_node_ref(node)) for node in vm.preferred_owners]


def _per_group(build: Callable[[Lab, Cluster, VirtualMachine], list[CimInstance]]) -> Callable[[Lab, Host], list[CimInstance]]:
    def provide(lab: Lab, host: Host) -> list[CimInstance]:
        cluster = _cluster_of(lab, host)
        return [instance for vm in lab.cluster_groups(cluster) for instance in build(lab, cluster, vm)]
    return provide


CLUSTER_PROVIDERS: dict[str, Callable[[Lab, Host], list[CimInstance]]] = {
    'MSCluster_Cluster': lambda lab, host: [cluster_instance(lab, host)],
    'MSCluster_Node': lambda lab, host: [node_instance(lab, lab.hosts[node], index)
                                         for index, node in enumerate(_cluster_of(lab, host).nodes)],
    'MSCluster_ResourceGroup': _per_group(lambda lab, cluster, vm: [group_instance(lab, cluster, vm)]),
    'MSCluster_Resource': _per_group(vm_resources),
    'MSCluster_ResourceToPossibleOwner': _per_group(possible_owner_links),
    'MSCluster_ResourceGroupToPreferredNode': _per_group(lambda lab, cluster, vm: preferred_node_links(cluster, vm)),
}


# Enumerable classes, with their base-class aliases (WMI returns subclass instances for a base class query).
PROVIDERS: dict[str, Callable[[Lab, Host], list[CimInstance]]] = {
    'Msvm_ComputerSystem': lambda lab, host: [host_system(lab, host)] + [
        vm_system(lab, host, vm) for vm in lab.vms.values() if vm.host == host.name
    ],
    'Msvm_VirtualSystemMigrationService': lambda lab, host: [migration_service(lab, host)],
    'Msvm_VirtualSystemMigrationServiceSettingData': lambda lab, host: [migration_settings(lab, host)],
    'Msvm_VirtualSystemSettingData': lambda lab, host: [vm_settings(vm) for vm in lab.vms.values() if vm.host == host.name],
    'Msvm_ProcessorSettingData': lambda lab, host: [item for vm in lab.vms.values() if vm.host == host.name for item in vm_processors(vm)],
    'Msvm_MemorySettingData': lambda lab, host: [host_memory_defaults()] + [
        item for vm in lab.vms.values() if vm.host == host.name for item in vm_memory_settings(vm)],
    'Msvm_Memory': memories,
    'Msvm_MigrationJob': _migration_jobs,
    'Msvm_ConcreteJob': _migration_jobs,
    'Msvm_CompatibilityVector': lambda lab, host: [],
    'Msvm_Error': lambda lab, host: [],
}
CIMV2_PROVIDERS: dict[str, Callable[[Lab, Host], list[CimInstance]]] = {
    'Win32_OperatingSystem': lambda lab, host: [operating_system(lab, host)],
    'Win32_ComputerSystem': lambda lab, host: [computer_system(lab, host)],
}
ALIASES = {
    'CIM_ComputerSystem': 'Msvm_ComputerSystem',
    'CIM_VirtualSystemMigrationService': 'Msvm_VirtualSystemMigrationService',
    'CIM_VirtualSystemMigrationServiceSettingData': 'Msvm_VirtualSystemMigrationServiceSettingData',
    'CIM_VirtualSystemSettingData': 'Msvm_VirtualSystemSettingData',
    'CIM_ConcreteJob': 'Msvm_ConcreteJob',
    'CIM_Job': 'Msvm_ConcreteJob',
}


def canonical_class(name: str, namespace: str | None = None) -> str | None:
    """The provider class for a (case-insensitive) class name, or None when the namespace has no such class.

    root/MSCluster has the MSCluster_* classes only, root/cimv2 the Win32_* ones; the Hyper-V namespaces have the rest.
    """
    own = {MSCLUSTER.lower(): list(CLUSTER_PROVIDERS), CIMV2.lower(): list(CIMV2_PROVIDERS)}
    candidates = own.get((namespace or '').lower(), list(PROVIDERS) + list(ALIASES))
    for candidate in candidates:
        if candidate.lower() == name.lower():
            return ALIASES.get(candidate, candidate)
    return None


def instances(lab: Lab, host: Host, class_name: str) -> list[CimInstance]:
    """Every instance of a class (and its subclasses) on a host; the caller checked the class exists."""
    with lab.lock:
        lab.tick()
        provider = CLUSTER_PROVIDERS.get(class_name) or CIMV2_PROVIDERS.get(class_name) or PROVIDERS[class_name]
        return provider(lab, host)
