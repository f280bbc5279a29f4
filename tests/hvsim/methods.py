# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Msvm_VirtualSystemMigrationService and root/MSCluster methods over the lab (plain values in, plain values out).

Return codes follow the facts document: the service's own methods use 0 / 4096 / 32768-32778 / 32784,
the two CheckVirtualSystemIsMigratable* methods the CIM codes 0-6 of seed 002. The cluster methods are void:
they succeed without a ReturnValue or raise cluster.ClusterRefusal. wsman.py converts the XML parameters to
the kinds in SIGNATURES / CLUSTER_SIGNATURES and renders the Out values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hvsim import blob, cimxml, classes
from hvsim import cluster as cluster_engine
from hvsim.classes import Ref
from hvsim.compat import assess
from hvsim.jobs import JOB_OUT_OF_MEMORY_CODE, MigrationJob
from hvsim.lab import MIGRATABLE_STATES, Host, Lab, VirtualMachine, normalize_guid

OK = 0
JOB_STARTED = 4096
FAILED = 32768
NOT_SUPPORTED = 32770
INVALID_PARAMETER = 32773
IN_USE = 32774
INVALID_STATE = 32775
NOT_COMPATIBLE = 32784
# CIM_VirtualSystemMigrationService.CheckVirtualSystemIsMigratable* (seed 002)
CHECK_OK, CHECK_FAILED, CHECK_INVALID_PARAMETER, CHECK_INVALID_STATE, CHECK_INCOMPATIBLE_PARAMETERS = 0, 2, 4, 5, 6

LIVE_TYPES = {32768, 32771}  # VirtualSystem, VirtualSystemAndStorage
MIGRATION_ARGS = {
    'ComputerSystem': 'ref', 'DestinationHost': 'string', 'MigrationSettingData': 'string',
    'NewSystemSettingData': 'string', 'NewResourceSettingData': 'string[]',
}
SIGNATURES: dict[str, dict[str, str]] = {
    'GetSystemCompatibilityVectors': {'ComputerSystem': 'ref'},
    'GetSystemCompatibilityInfo': {'ComputerSystem': 'ref'},
    'CheckSystemCompatibilityInfo': {'CompatibilityInfo': 'uint8[]'},
    'CheckVirtualSystemIsMigratableToHost': MIGRATION_ARGS,
    'CheckVirtualSystemIsMigratable': MIGRATION_ARGS,
    'MigrateVirtualSystemToHost': MIGRATION_ARGS,
}
# (class, method) -> parameters of the MSCluster methods hvsim models (Failover Cluster WMI reference)
CLUSTER_SIGNATURES: dict[tuple[str, str], dict[str, str]] = {
    ('MSCluster_ResourceGroup', 'MoveToNewNodeParams'): {'NodeName': 'string', 'Parameters': 'uint8[]', 'Flags': 'uint32'},
    ('MSCluster_ResourceGroup', 'MoveToNewNode'): {'NodeName': 'string', 'TimeOut': 'uint32'},
    ('MSCluster_Node', 'Pause'): {'DrainType': 'uint32', 'TargetNode': 'string'},
    ('MSCluster_Node', 'Resume'): {'FailbackType': 'uint32'},
}
# Real methods of the class that the simulator does not model: they answer Not Supported.
UNMODELLED = {
    'AddNetworkSettings', 'ModifyNetworkSettings', 'RemoveNetworkSettings', 'ModifyServiceSettings',
    'MigrateVirtualSystemToSystem', 'CheckVirtualSystemIsMigratableToSystem', 'GetVirtualSystemThumbnailImage',
}


@dataclass
class Out:
    """An out parameter: kind is instances, embedded (EmbeddedInstance strings), uint8[], boolean or ref."""

    name: str
    kind: str
    value: Any


@dataclass
class MethodResult:
    """ReturnValue (None for a void method) plus out parameters."""

    return_value: int | None
    outputs: list[Out] = field(default_factory=list)


class BadParameter(ValueError):
    """An input parameter that cannot be used."""


def _selector(ref: Ref, name: str) -> str | None:
    for key, value in ref.selectors.items():
        if key.lower() == name.lower():
            return value
    return None


class MigrationService:
    """The migration service of one host."""

    def __init__(self, lab: Lab, host_name: str):
        self.lab = lab
        self.host_name = host_name

    @property
    def host(self) -> Host:
        """This host's current state."""
        return self.lab.host(self.host_name)

    def invoke(self, method: str, params: dict[str, Any], fail_at: int | None = None, fail_message: str | None = None) -> MethodResult:
        """Run a method; params hold the kinds SIGNATURES declares (absent ones None)."""
        with self.lab.lock:
            self.lab.tick()
            if method in UNMODELLED:
                return MethodResult(NOT_SUPPORTED)
            handler = {
                'GetSystemCompatibilityVectors': self.get_vectors,
                'GetSystemCompatibilityInfo': self.get_info,
                'CheckSystemCompatibilityInfo': self.check_info,
                'CheckVirtualSystemIsMigratableToHost': self.check_migratable,
                'CheckVirtualSystemIsMigratable': self.check_migratable,
            }.get(method)
            if handler is not None:
                return handler(params)
            return self.migrate(params, fail_at, fail_message)

    # Helpers

    def _system(self, ref: Ref | None) -> Host | VirtualMachine | None:
        """The host itself or one of its VMs, as a ComputerSystem REF names it; None when it names nothing here."""
        if ref is None or ref.class_name.lower() not in ('msvm_computersystem', 'cim_computersystem'):
            return None
        creation = _selector(ref, 'CreationClassName')
        name = _selector(ref, 'Name')
        if name is None or (creation is not None and creation.lower() != 'msvm_computersystem'):
            return None
        host = self.host
        if name.lower() == host.name.lower():
            return host
        guid = normalize_guid(name)
        vm = self.lab.vms.get(guid) if guid else None
        return vm if vm is not None and vm.host == host.name else None

    def _payload(self, system: Host | VirtualMachine) -> dict:
        """What the blob records (and what the destination judges)."""
        if isinstance(system, Host):
            return {'kind': 'host', 'source': system.name, 'vectors': [v.as_list() for v in system.vectors],
                    'captured': round(self.lab.wall(), 3)}
        return {
            'kind': 'vm', 'source': self.host_name, 'vm_guid': system.guid, 'vm_name': system.name,
            'state': system.state, 'version': system.version, 'compatibility_mode': system.compatibility_mode,
            'vectors': [v.as_list() for v in system.effective_vectors()], 'captured': round(self.lab.wall(), 3),
        }

    @staticmethod
    def _settings(text: str | None) -> tuple[int, list[str] | None]:
        """MigrationType and DestinationIPAddressList from the MigrationSettingData embedded instance."""
        if text is None or not text.strip():
            return 32768, None
        try:
            instance = cimxml.parse_instance(text)
        except cimxml.CimXmlError as exc:
            raise BadParameter(f'MigrationSettingData: {exc}') from exc
        if not instance.class_name.lower().endswith('virtualsystemmigrationsettingdata'):
            raise BadParameter(f'MigrationSettingData is a {instance.class_name}')
        migration_type = instance.get('MigrationType', 32768)
        addresses = instance.get('DestinationIPAddressList')
        if not isinstance(migration_type, int) or (addresses is not None and not isinstance(addresses, list)):
            raise BadParameter('MigrationSettingData has mistyped properties')
        return migration_type, addresses

    @staticmethod
    def _check_embedded(params: dict[str, Any]) -> None:
        """NewSystemSettingData / NewResourceSettingData, when given, must at least be instances."""
        for text in [params.get('NewSystemSettingData')] + list(params.get('NewResourceSettingData') or []):
            if text is not None and text.strip():
                try:
                    cimxml.parse_instance(text)
                except cimxml.CimXmlError as exc:
                    raise BadParameter(str(exc)) from exc

    def _blockers(self, dest: Host, addresses: list[str] | None, limits: bool = True) -> list[tuple[str, str]]:
        """Conditions of the hosts (not of compatibility) that stop a migration now: (side, message).

        limits=False leaves out the concurrent-migration limits (a cluster queues its moves until a slot is free).
        """
        source = self.host
        problems = []
        if not dest.hyperv_role:
            problems.append(('destination', f"The Virtual Machine Management Service on '{source.name}' failed to establish a connection "
                                            f"with host '{dest.name}': the Hyper-V role is not installed there."))
            return problems
        if not dest.migration.enabled:
            problems.append(('destination', f"The Virtual Machine Management Service on the destination host '{dest.name}' has not been "
                                            f"configured to accept live migrations. Enable incoming live migrations on '{dest.name}' and try again."))
        elif not dest.migration.listeners:
            problems.append(('destination', f"The destination host '{dest.name}' has no migration network: "
                                            'MigrationServiceListenerIPAddressList is empty.'))
        elif addresses and not {a.lower() for a in addresses} & {a.lower() for a in dest.migration.listeners}:
            problems.append(('destination', f"The Virtual Machine Management Service failed to establish a connection for a virtual machine "
                                            f"migration with host '{dest.name}': none of {', '.join(addresses)} is one of its migration "
                                            f"listeners ({', '.join(dest.migration.listeners)})."))
        for side, host in (('destination', dest), ('source', source)) if limits else ():
            active = self.lab.active_migrations(host)
            if active >= host.migration.max_vm:
                problems.append((side, f"The migration limit of {host.migration.max_vm} was reached on '{host.name}': it is already "
                                       f"performing {active} live migration(s). Wait for one to finish or raise "
                                       f"MaximumActiveVirtualSystemMigration on '{host.name}'."))
        return problems

    def _verdict(self, vm: VirtualMachine, dest: Host):
        return assess(self._payload(vm), dest.name, dest.vectors, dest.versions, dest.rejects, dest.warns)

    # Methods

    def get_vectors(self, params: dict[str, Any]) -> MethodResult:
        """GetSystemCompatibilityVectors: the VM's (state-dependent) or the host's vectors."""
        system = self._system(params.get('ComputerSystem'))
        if system is None:
            return MethodResult(INVALID_PARAMETER)
        vectors = system.vectors if isinstance(system, Host) else system.effective_vectors()
        return MethodResult(OK, [Out('CompatibilityVectors', 'instances', [classes.vector(v) for v in vectors])])

    def get_info(self, params: dict[str, Any]) -> MethodResult:
        """GetSystemCompatibilityInfo: the opaque blob."""
        system = self._system(params.get('ComputerSystem'))
        if system is None:
            return MethodResult(INVALID_PARAMETER)
        return MethodResult(OK, [Out('CompatibilityInfo', 'uint8[]', blob.encode(self._payload(system)))])

    def check_info(self, params: dict[str, Any]) -> MethodResult:
        """CheckSystemCompatibilityInfo on this (destination) host: 0 or 32784 with Reasons."""
        data = params.get('CompatibilityInfo')
        if not data:
            return MethodResult(INVALID_PARAMETER)
        try:
            payload = blob.decode(data)
        except blob.BlobError:
            return MethodResult(INVALID_PARAMETER)
        host = self.host
        verdict = assess(payload, host.name, host.vectors, host.versions, host.rejects, host.warns)
        reasons = [classes.error(message) for message in verdict.errors]
        reasons += [classes.error(message, warning=True, message_id='21026') for message in verdict.warnings]
        outputs = [Out('Reasons', 'embedded', reasons)] if reasons else []
        return MethodResult(OK if verdict.ok else NOT_COMPATIBLE, outputs)

    def check_migratable(self, params: dict[str, Any]) -> MethodResult:
        """CheckVirtualSystemIsMigratable(ToHost): CIM codes 0-6; IsMigratable only with 0."""
        system = self._system(params.get('ComputerSystem'))
        destination = (params.get('DestinationHost') or '').strip()
        if not isinstance(system, VirtualMachine) or not destination:
            return MethodResult(CHECK_INVALID_PARAMETER)
        try:
            migration_type, addresses = self._settings(params.get('MigrationSettingData'))
            self._check_embedded(params)
        except BadParameter:
            return MethodResult(CHECK_INVALID_PARAMETER)
        if migration_type not in LIVE_TYPES:
            return MethodResult(CHECK_INCOMPATIBLE_PARAMETERS)
        dest = self.lab.resolve_host(destination)
        if dest is None:
            return MethodResult(CHECK_FAILED)
        if dest.name == self.host_name:
            return MethodResult(CHECK_INVALID_PARAMETER)
        if (system.state not in MIGRATABLE_STATES or self.lab.busy(system.guid) or not self.host.migration.enabled
                or self._blockers(dest, addresses)):
            return MethodResult(CHECK_INVALID_STATE)
        return MethodResult(CHECK_OK, [Out('IsMigratable', 'boolean', self._verdict(system, dest).ok)])

    def migrate(self, params: dict[str, Any], fail_at: int | None, fail_message: str | None) -> MethodResult:
        """MigrateVirtualSystemToHost: 4096 and a job, or a return code when the request itself is unusable."""
        system = self._system(params.get('ComputerSystem'))
        destination = (params.get('DestinationHost') or '').strip()
        if not isinstance(system, VirtualMachine) or not destination:
            return MethodResult(INVALID_PARAMETER)
        if system.clustered:
            self._record_violation(system, destination)
        try:
            migration_type, addresses = self._settings(params.get('MigrationSettingData'))
            self._check_embedded(params)
        except BadParameter:
            return MethodResult(INVALID_PARAMETER)
        if migration_type not in LIVE_TYPES:
            return MethodResult(NOT_SUPPORTED)
        dest = self.lab.resolve_host(destination)
        if dest is not None and dest.name == self.host_name:
            return MethodResult(INVALID_PARAMETER)
        if self.lab.busy(system.guid):
            return MethodResult(IN_USE)
        if system.state not in MIGRATABLE_STATES or not self.host.migration.enabled:
            return MethodResult(INVALID_STATE)
        job = self.start_job(system, dest, destination, migration_type, addresses, fail_at, fail_message)
        return MethodResult(JOB_STARTED, [Out('Job', 'ref', Ref('Msvm_MigrationJob', {'InstanceID': job.instance_id}))])

    def start_job(self, vm: VirtualMachine, dest: Host | None, destination_text: str, migration_type: int,
                  addresses: list[str] | None = None, fail_at: int | None = None, fail_message: str | None = None,
                  origin: str = 'hyperv') -> MigrationJob:
        """Register a migration job of a VM of this host: running, or already failed when a host condition or the
        destination's compatibility verdict stops it. A cluster's job (origin 'cluster') ignores the limits: the
        cluster only starts it when both nodes have a free slot."""
        now, wall = self.lab.clock(), self.lab.wall()
        job = MigrationJob(
            vm_guid=vm.guid, vm_name=vm.name, source=self.host_name, destination=dest.name if dest else None,
            destination_text=destination_text, migration_type=migration_type, started=now, submitted_wall=wall,
            duration=self.host.migration.duration_s, fail_at=fail_at, fail_message=fail_message, origin=origin,
        )
        if dest is None:
            job.fail(now, wall, f"The Virtual Machine Management Service failed to establish a connection for a virtual machine migration "
                                f"with host '{destination_text}': No such host is known. (0x80072AF9)")
        else:
            blockers = self._blockers(dest, addresses, limits=origin != 'cluster')
            verdict = self._verdict(vm, dest)
            if blockers:
                job.fail(now, wall, ' '.join(message for _side, message in blockers), side=blockers[0][0])
            elif not verdict.ok:
                job.fail(now, wall, ' '.join(verdict.errors), side='destination')
            elif not self._has_room(vm, dest):
                job.fail(now, wall, out_of_memory(vm), side='destination', code=JOB_OUT_OF_MEMORY_CODE)
        return self.lab.add_job(job)

    def _has_room(self, vm: VirtualMachine, dest: Host) -> bool:
        """Whether the destination has the memory the VM holds free now (a VM that holds none always fits)."""
        return (vm.assigned_mb or 0) <= self.lab.free_mb(dest)

    def _record_violation(self, vm: VirtualMachine, destination: str) -> None:
        """A clustered VM migrated by Hyper-V behind its cluster's back: allowed, as on a real host, but recorded."""
        self.lab.cluster_violations.append({
            'vm': vm.name, 'guid': vm.guid, 'group': vm.group, 'source': self.host_name, 'destination': destination,
            'owner_node': vm.owner_node, 'at': self.lab.clock(),
        })


def out_of_memory(vm: VirtualMachine) -> str:
    """The destination worker's words when it cannot allocate the VM's memory: Hyper-V-Worker events 3122 ("Not enough
    memory in the system to start the virtual machine <name> with ram size <n> megabytes") and 3050 ("'<name>' could not
    initialize memory: Ran out of memory (0x8007000E)"), as Microsoft's Dynamic Memory FAQ and an Azure support guide
    quote them. That a migration job's ErrorDescription carries them after its summary is unconfirmed."""
    vm_id = f'(Virtual machine ID {vm.guid})'
    return (f"Not enough memory in the system to start the virtual machine {vm.name} with ram size {vm.assigned_mb} megabytes. "
            f"{vm_id} '{vm.name}' could not initialize memory: Ran out of memory (0x8007000E). {vm_id}")


class ClusterService:
    """The root/MSCluster methods as one node receives them (every node acts for the whole cluster)."""

    def __init__(self, lab: Lab, host_name: str):
        self.lab = lab
        self.host_name = host_name

    def invoke(self, class_name: str, method: str, key: str, params: dict[str, Any], fail_at: int | None = None,
               fail_message: str | None = None) -> MethodResult:
        """Run a method on the instance whose Name is key; raises cluster.ClusterRefusal."""
        with self.lab.lock:
            self.lab.tick()
            cluster = self.lab.cluster_of(self.host_name)
            if class_name == 'MSCluster_ResourceGroup':
                group = self.lab.cluster_group(cluster, key)
                cluster_engine.request_move(self.lab, cluster, group, (params.get('NodeName') or '').strip(), params.get('Parameters'),
                                            method=method, via=self.host_name, flags=params.get('Flags'), fail_at=fail_at,
                                            fail_message=fail_message)
            elif method == 'Pause':
                cluster_engine.pause(self.lab, cluster, cluster.node(key), params.get('DrainType'), params.get('TargetNode'))
            else:
                cluster_engine.resume(self.lab, cluster.node(key))
            self.lab.tick()  # a move starts at once when both nodes have a free slot
        return MethodResult(None)
