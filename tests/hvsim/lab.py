# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab: simulated Hyper-V hosts, their VMs and migration jobs, loaded from a YAML file or a dict.

This is backend state only (no XML, no HTTP). Every access goes through Lab.lock, and Lab.tick() brings
the migration jobs up to date with the clock first, so readers always see a consistent lab.
See labs/demo.yml for the file format (labs/cluster.yml for failover clusters); unknown keys are errors, so
typos do not pass silently.
"""

from __future__ import annotations

import copy
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hvsim import cluster as cluster_engine
from hvsim.compat import Rule, Vector, VersionSupport
from hvsim.jobs import MigrationJob

STATES = {
    'unknown': 0, 'other': 1, 'running': 2, 'enabled': 2, 'off': 3, 'disabled': 3, 'enabled_offline': 6,
    'paused': 32768, 'saved': 32769, 'suspended': 32769, 'starting': 32770, 'snapshotting': 32771,
    'saving': 32773, 'stopping': 32774, 'pausing': 32776, 'resuming': 32777,
}
# Live (running, paused) or quick/offline (off, saved) migration is possible from these EnabledStates.
MIGRATABLE_STATES = {2, 3, 32768, 32769}
STATE_OFF = 3
SUBSET = 2
# EnabledStates in which a VM holds no host memory: off, enabled but offline, saved (its memory is on disk).
MEMORY_FREE_STATES = {3, 6, 32769}
V2 = 'root/virtualization/v2'
CLUSTER = 'root/HyperVCluster/v2'
MSCLUSTER = 'root/MSCluster'
CIMV2 = 'root/cimv2'  # Windows' own classes (Win32_OperatingSystem, Win32_ComputerSystem): on every Windows host
BLOB_ENCODINGS = ('base64', 'array')
REASON_ENCODINGS = ('element', 'cimxml')
PRIVATE_PROPERTIES_ENCODINGS = ('element', 'cimxml')
NODE_STATES = ('up', 'down', 'paused')
_GUID = re.compile(r'^\{?([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\}?$')


class LabError(ValueError):
    """The lab definition is invalid; the message names the offending key."""


@dataclass
class MigrationSettings:
    """Msvm_VirtualSystemMigrationService(SettingData) state of one host."""

    enabled: bool = True
    listeners: list[str] = field(default_factory=list)
    max_vm: int = 2
    max_storage: int = 2
    active_vm: int = 0  # migrations the lab says are already running (not jobs of this simulator)
    active_storage: int = 0
    duration_s: float = 2.0  # how long a migration job takes from this source
    authentication_type: int = 1  # 0 CredSSP, 1 Kerberos
    service_name: str = 'migrationwmi'  # Msvm_VirtualSystemMigrationService.Name, per the class reference


@dataclass
class Host:
    """One simulated Hyper-V host and how it is reached."""

    name: str
    fqdn: str | None = None
    address: str | None = None  # the address clients and DestinationHost use; defaults to bind
    bind: str = '127.0.0.1'
    http_port: int = 0  # 0 = any free port
    https_port: int = 0
    hyperv_role: bool = True
    cluster: bool = False
    os: str = 'Windows Server 2022'
    processor: str = ''
    versions: VersionSupport = field(default_factory=lambda: VersionSupport.parse('8.0-10.0'))
    vectors: list[Vector] = field(default_factory=list)
    migration: MigrationSettings = field(default_factory=MigrationSettings)
    # The forms the evidence supports (docs/wsman-wire.md): a uint8[] out parameter as one element per byte, Reasons as
    # CIM-XML embedded instances (Microsoft's CheckSystemCompatibilityInfo page); the others are lab options.
    blob_encoding: str = 'array'
    reasons_encoding: str = 'cimxml'
    rejects: list[Rule] = field(default_factory=list)
    warns: list[Rule] = field(default_factory=list)
    allow_unencrypted: bool = False  # WinRM's AllowUnencrypted: plaintext bodies over HTTP get 401
    basic_auth: bool = True
    negotiate_auth: bool = True
    tls_san_mismatch: bool = False  # serve a certificate whose SAN names some other host
    max_envelope_size: int = 512000  # MaxEnvelopeSizekb=500; old hosts 153600
    enumeration_expiry_s: float = 60.0
    computer_system_version: bool = False  # True: also expose Version on Msvm_ComputerSystem (real hosts do not)
    cluster_name: str | None = None  # the failover cluster this host is a node of (from the lab's clusters:)
    cluster_state: str = 'up'  # runtime as a cluster node: up, down (answers nothing) or paused
    drain_status: int = 0  # runtime MSCluster_Node.NodeDrainStatus: 0 not initiated, 1 in progress, 2 completed, 3 failed
    drain_target: str | None = None
    phantom_migrations: int = 0  # runtime: migrations injected by tests to fill the slots
    # Defaults large enough that labs which say nothing of memory never run short (1 TiB, 4 GiB for the host itself).
    memory_mb: int = 1048576  # physical memory visible to Windows (Win32_OperatingSystem.TotalVisibleMemorySize)
    host_memory_mb: int = 4096  # what the host itself uses (the root partition), never free for VMs
    logical_processors: int = 64  # Win32_ComputerSystem.NumberOfLogicalProcessors

    def __post_init__(self):
        if self.address is None:
            self.address = self.bind

    @property
    def namespaces(self) -> list[str]:
        """The Hyper-V and failover cluster WMI namespaces this host serves."""
        if not self.hyperv_role:
            return []
        served = [V2, CLUSTER] if self.cluster else [V2]
        return served + [MSCLUSTER] if self.cluster_name else served

    @property
    def wmi_namespaces(self) -> list[str]:
        """Every WMI namespace this host serves: root/cimv2 too, with or without the Hyper-V role, as on Windows."""
        return self.namespaces + [CIMV2]

    @property
    def unreachable(self) -> bool:
        """A cluster node that is down answers nothing at all."""
        return self.cluster_name is not None and self.cluster_state == 'down'

    def known_as(self, name: str) -> bool:
        """Whether DestinationHost text names this host (computer name, FQDN, address or a listener address)."""
        wanted = name.strip().lower()
        names = {self.name.lower(), (self.address or '').lower()}
        if self.fqdn:
            names.update({self.fqdn.lower(), self.fqdn.split('.')[0].lower()})
        names.update(listener.lower() for listener in self.migration.listeners)
        return bool(wanted) and wanted in names


@dataclass
class VmMemory:
    """A VM's memory settings (Msvm_MemorySettingData) and, with Dynamic Memory, what a running VM has now."""

    startup_mb: int = 2048
    dynamic: bool = False
    minimum_mb: int | None = None  # Dynamic Memory only; default: startup
    maximum_mb: int | None = None  # Dynamic Memory only; default: startup
    assigned_mb: int | None = None  # Dynamic Memory only, while running; default: startup (Hyper-V starts a VM there)

    @property
    def minimum(self) -> int:
        """Msvm_MemorySettingData.Reservation."""
        return self.minimum_mb if self.dynamic and self.minimum_mb is not None else self.startup_mb

    @property
    def maximum(self) -> int:
        """Msvm_MemorySettingData.Limit."""
        return self.maximum_mb if self.dynamic and self.maximum_mb is not None else self.startup_mb

    @property
    def running_mb(self) -> int:
        """What a running VM holds: its static memory, or what Dynamic Memory gave it."""
        return self.assigned_mb if self.dynamic and self.assigned_mb is not None else self.startup_mb


@dataclass
class VirtualMachine:
    """One VM: its identity, where it runs and what it needs from a host."""

    guid: str
    name: str
    host: str
    state: int = 2
    version: str = '10.0'
    vectors: list[Vector] = field(default_factory=list)
    vectors_off: list[Vector] | None = None
    compatibility_mode: bool = False  # Msvm_ProcessorSettingData.LimitProcessorFeatures
    state_changed_wall: float = field(default_factory=time.time)
    clustered: bool = False  # a VM role of its host's failover cluster
    group: str | None = None  # MSCluster_ResourceGroup.Name (clustered VMs only)
    possible_owners: list[str] | None = None  # None: every node of the cluster
    preferred_owners: list[str] = field(default_factory=list)
    owner_node: str | None = None  # runtime: the group's OwnerNode; only cluster moves change it
    migration_state: int = 0  # runtime: the VM resource's MigrationState when no move is running (0 none, 5 failure)
    memory: VmMemory = field(default_factory=VmMemory)
    processors: int = 2  # Msvm_ProcessorSettingData.VirtualQuantity
    checkpoints: int = 0  # checkpoints whose settings data (memory, processors) sits beside the VM's own

    @property
    def assigned_mb(self) -> int | None:
        """The host memory the VM holds now (Msvm_Memory), or None when it holds none (off, saved)."""
        return None if self.state in MEMORY_FREE_STATES else self.memory.running_mb

    def effective_vectors(self) -> list[Vector]:
        """The vectors the VM presents now. Inferred, not documented: an off VM has no processor features
        in use, so unless the lab says otherwise its Subset (feature-mask) vectors report 0 and it fits more hosts.
        """
        if self.state != STATE_OFF:
            return list(self.vectors)
        if self.vectors_off is not None:
            return list(self.vectors_off)
        return [Vector(v.vector_id, v.operation, 0) if v.operation == SUBSET else v for v in self.vectors]


@dataclass
class Cluster:
    """A failover cluster: its nodes (host names, in lab order) and how its nodes render PrivateProperties."""

    name: str
    nodes: list[str]
    private_properties_encoding: str = 'element'

    def has_node(self, name: str) -> bool:
        """Whether a (case-insensitive) host name is one of the nodes."""
        return any(node.lower() == str(name).lower() for node in self.nodes)

    def node(self, name: str) -> str | None:
        """The node's spelling of a (case-insensitive) name, or None."""
        return next((node for node in self.nodes if node.lower() == str(name).strip().lower()), None)


# Definition parsing


def _check_keys(data: dict, allowed: set[str], where: str) -> None:
    if not isinstance(data, dict):
        raise LabError(f'{where}: expected a mapping, got {type(data).__name__}')
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise LabError(f'{where}: unknown key(s) {", ".join(map(str, unknown))}; allowed: {", ".join(sorted(allowed))}')


def _int(value: Any, where: str, minimum: int | None = 0) -> int:
    if isinstance(value, bool):
        raise LabError(f'{where}: expected an integer, got {value!r}')
    if isinstance(value, str):
        try:
            value = int(value.strip(), 0)
        except ValueError as exc:
            raise LabError(f'{where}: expected an integer, got {value!r}') from exc
    if not isinstance(value, int):
        raise LabError(f'{where}: expected an integer, got {value!r}')
    if minimum is not None and value < minimum:
        raise LabError(f'{where}: must be >= {minimum}, got {value}')
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise LabError(f'{where}: expected true or false, got {value!r}')
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool) or str(value) == '':
        raise LabError(f'{where}: expected a non-empty string, got {value!r}')
    return str(value)


def _choice(value: Any, choices: tuple[str, ...], where: str) -> str:
    if value not in choices:
        raise LabError(f'{where}: expected one of {", ".join(choices)}, got {value!r}')
    return value


def _vectors(items: Any, where: str) -> list[Vector]:
    if not isinstance(items, list):
        raise LabError(f'{where}: expected a list of vectors')
    vectors = []
    for index, item in enumerate(items):
        spot = f'{where}[{index}]'
        _check_keys(item, {'id', 'op', 'value', 'name'}, spot)
        for key in ('id', 'op', 'value'):
            if key not in item:
                raise LabError(f'{spot}: missing {key}')
        vector = Vector(_int(item['id'], f'{spot}.id'), _int(item['op'], f'{spot}.op'), _int(item['value'], f'{spot}.value'))
        if vector.value >= 1 << 64 or vector.vector_id >= 1 << 32 or vector.operation >= 1 << 32:
            raise LabError(f'{spot}: out of range for uint32/uint64')
        vectors.append(vector)
    return vectors


def _rules(items: Any, where: str) -> list[Rule]:
    if not isinstance(items, list):
        raise LabError(f'{where}: expected a list of {{vm, message}}')
    rules = []
    for index, item in enumerate(items):
        _check_keys(item, {'vm', 'message'}, f'{where}[{index}]')
        rules.append(Rule(_str(item.get('vm'), f'{where}[{index}].vm'), _str(item.get('message'), f'{where}[{index}].message')))
    return rules


def _state(value: Any, where: str) -> int:
    if isinstance(value, str) and value.strip().lower() in STATES:
        return STATES[value.strip().lower()]
    return _int(value, where)


def _guid(value: Any, where: str) -> str:
    match = _GUID.match(str(value))
    if not match:
        raise LabError(f'{where}: not a GUID: {value!r}')
    return match.group(1).upper()


def normalize_guid(value: str) -> str | None:
    """Upper-case GUID without braces, or None when value is not a GUID."""
    match = _GUID.match(str(value).strip())
    return match.group(1).upper() if match else None


HOST_KEYS = {
    'name', 'fqdn', 'address', 'bind', 'http_port', 'https_port', 'hyperv_role', 'cluster', 'os', 'processor',
    'supported_versions', 'vectors', 'migration', 'blob_encoding', 'reasons_encoding', 'compat_rules',
    'allow_unencrypted', 'basic_auth', 'negotiate_auth', 'tls_san_mismatch', 'max_envelope_size',
    'enumeration_expiry_s', 'computer_system_version', 'cluster_state', 'memory', 'logical_processors',
}
HOST_MEMORY_KEYS = {'total_mb', 'host_mb'}
VM_MEMORY_KEYS = {'startup_mb', 'dynamic', 'minimum_mb', 'maximum_mb', 'assigned_mb'}
MIGRATION_KEYS = {
    'enabled', 'listeners', 'max_vm', 'max_storage', 'active_vm', 'active_storage', 'duration_s',
    'authentication_type', 'service_name',
}
VM_KEYS = {
    'name', 'guid', 'host', 'state', 'version', 'vectors', 'vectors_off', 'compatibility_mode', 'clustered', 'group',
    'possible_owners', 'preferred_owners', 'memory', 'processors', 'checkpoints',
}
CLUSTER_KEYS = {'name', 'nodes', 'private_properties_encoding'}
TOP_KEYS = {'name', 'description', 'defaults', 'hosts', 'vms', 'users', 'clusters'}


def _merge(defaults: dict, item: dict) -> dict:
    merged = copy.deepcopy(defaults)
    for key, value in item.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _migration(data: dict, where: str) -> MigrationSettings:
    _check_keys(data, MIGRATION_KEYS, where)
    settings = MigrationSettings()
    if 'enabled' in data:
        settings.enabled = _bool(data['enabled'], f'{where}.enabled')
    if 'listeners' in data:
        if not isinstance(data['listeners'], list):
            raise LabError(f'{where}.listeners: expected a list of addresses')
        settings.listeners = [_str(item, f'{where}.listeners') for item in data['listeners']]
    for key in ('max_vm', 'max_storage', 'active_vm', 'active_storage', 'authentication_type'):
        if key in data:
            setattr(settings, key, _int(data[key], f'{where}.{key}'))
    if 'duration_s' in data:
        duration = data['duration_s']
        if isinstance(duration, bool) or not isinstance(duration, (int, float)) or duration < 0:
            raise LabError(f'{where}.duration_s: expected a number of seconds >= 0')
        settings.duration_s = float(duration)
    if 'service_name' in data:
        settings.service_name = _str(data['service_name'], f'{where}.service_name')
    return settings


def _host(data: dict, where: str) -> Host:
    _check_keys(data, HOST_KEYS, where)
    if 'name' not in data:
        raise LabError(f'{where}: missing name')
    host = Host(name=_str(data['name'], f'{where}.name'))
    for key in ('fqdn', 'address', 'bind', 'os', 'processor'):
        if key in data:
            setattr(host, key, _str(data[key], f'{where}.{key}'))
    if 'address' not in data:
        host.address = host.bind
    for key in ('http_port', 'https_port'):
        if key in data:
            setattr(host, key, _int(data[key], f'{where}.{key}'))
    for key in ('hyperv_role', 'cluster', 'allow_unencrypted', 'basic_auth', 'negotiate_auth', 'tls_san_mismatch',
                'computer_system_version'):
        if key in data:
            setattr(host, key, _bool(data[key], f'{where}.{key}'))
    if 'supported_versions' in data:
        try:
            host.versions = VersionSupport.parse(data['supported_versions'])
        except ValueError as exc:
            raise LabError(f'{where}.supported_versions: {exc}') from exc
    host.vectors = _vectors(data.get('vectors', []), f'{where}.vectors')
    host.migration = _migration(data.get('migration', {}), f'{where}.migration')
    if 'blob_encoding' in data:
        host.blob_encoding = _choice(data['blob_encoding'], BLOB_ENCODINGS, f'{where}.blob_encoding')
    if 'reasons_encoding' in data:
        host.reasons_encoding = _choice(data['reasons_encoding'], REASON_ENCODINGS, f'{where}.reasons_encoding')
    rules = data.get('compat_rules', {})
    _check_keys(rules, {'reject', 'warn'}, f'{where}.compat_rules')
    host.rejects = _rules(rules.get('reject', []), f'{where}.compat_rules.reject')
    host.warns = _rules(rules.get('warn', []), f'{where}.compat_rules.warn')
    if 'max_envelope_size' in data:
        host.max_envelope_size = _int(data['max_envelope_size'], f'{where}.max_envelope_size', minimum=8192)
    if 'enumeration_expiry_s' in data:
        expiry = data['enumeration_expiry_s']
        if isinstance(expiry, bool) or not isinstance(expiry, (int, float)) or expiry <= 0:
            raise LabError(f'{where}.enumeration_expiry_s: expected a positive number of seconds')
        host.enumeration_expiry_s = float(expiry)
    if 'cluster_state' in data:
        host.cluster_state = _choice(data['cluster_state'], NODE_STATES, f'{where}.cluster_state')
    _host_memory(host, data, where)
    return host


def _host_memory(host: Host, data: dict, where: str) -> None:
    """memory: {total_mb, host_mb} and logical_processors; the host must keep some memory for VMs to fit at all."""
    memory = data.get('memory', {})
    _check_keys(memory, HOST_MEMORY_KEYS, f'{where}.memory')
    if 'total_mb' in memory:
        host.memory_mb = _int(memory['total_mb'], f'{where}.memory.total_mb', minimum=1)
    if 'host_mb' in memory:
        host.host_memory_mb = _int(memory['host_mb'], f'{where}.memory.host_mb')
    if host.host_memory_mb > host.memory_mb:
        raise LabError(f'{where}.memory.host_mb: {host.host_memory_mb} is more than total_mb {host.memory_mb}')
    if 'logical_processors' in data:
        host.logical_processors = _int(data['logical_processors'], f'{where}.logical_processors', minimum=1)


def _vm(data: dict, where: str, hosts: dict[str, Host]) -> VirtualMachine:
    _check_keys(data, VM_KEYS, where)
    for key in ('name', 'host'):
        if key not in data:
            raise LabError(f'{where}: missing {key}')
    host = _str(data['host'], f'{where}.host')
    if host not in hosts:
        raise LabError(f'{where}.host: no host named {host!r} in the lab')
    # A stable GUID per (name, host) keeps labs without explicit GUIDs reproducible.
    guid = _guid(data['guid'], f'{where}.guid') if 'guid' in data else str(uuid.uuid5(uuid.NAMESPACE_URL, f'hvsim:{host}:{data["name"]}')).upper()
    vm = VirtualMachine(guid=guid, name=_str(data['name'], f'{where}.name'), host=host)
    if 'state' in data:
        vm.state = _state(data['state'], f'{where}.state')
    if 'version' in data:
        vm.version = _str(data['version'], f'{where}.version')
    vm.vectors = _vectors(data.get('vectors', []), f'{where}.vectors')
    if 'vectors_off' in data:
        vm.vectors_off = _vectors(data['vectors_off'], f'{where}.vectors_off')
    if 'compatibility_mode' in data:
        vm.compatibility_mode = _bool(data['compatibility_mode'], f'{where}.compatibility_mode')
    vm.memory = _vm_memory(data.get('memory', {}), f'{where}.memory')
    if 'processors' in data:
        vm.processors = _int(data['processors'], f'{where}.processors', minimum=1)
    if 'checkpoints' in data:
        vm.checkpoints = _int(data['checkpoints'], f'{where}.checkpoints')
    _vm_cluster_keys(vm, data, where)
    return vm


def _vm_memory(data: Any, where: str) -> VmMemory:
    """A VM's memory: static (startup_mb), or dynamic with minimum_mb <= startup_mb <= maximum_mb and, running,
    minimum_mb <= assigned_mb <= maximum_mb; the range keys belong to Dynamic Memory only."""
    _check_keys(data, VM_MEMORY_KEYS, where)
    memory = VmMemory()
    if 'startup_mb' in data:
        memory.startup_mb = _int(data['startup_mb'], f'{where}.startup_mb', minimum=1)
    if 'dynamic' in data:
        memory.dynamic = _bool(data['dynamic'], f'{where}.dynamic')
    for key in ('minimum_mb', 'maximum_mb', 'assigned_mb'):
        if key in data and not memory.dynamic:
            raise LabError(f'{where}.{key}: only Dynamic Memory (dynamic: true) has a {key}')
        if key in data:
            setattr(memory, key, _int(data[key], f'{where}.{key}', minimum=1))
    if not memory.minimum <= memory.startup_mb <= memory.maximum:
        raise LabError(f'{where}: expected minimum_mb <= startup_mb <= maximum_mb, got '
                       f'{memory.minimum} <= {memory.startup_mb} <= {memory.maximum}')
    if not memory.minimum <= memory.running_mb <= memory.maximum:
        raise LabError(f'{where}.assigned_mb: {memory.running_mb} is outside {memory.minimum}-{memory.maximum}')
    return memory


def _names(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise LabError(f'{where}: expected a non-empty list of host names')
    return [_str(item, where) for item in value]


def _vm_cluster_keys(vm: VirtualMachine, data: dict, where: str) -> None:
    """clustered, group, possible_owners, preferred_owners as written; _link_cluster checks them against the clusters."""
    if 'clustered' in data:
        vm.clustered = _bool(data['clustered'], f'{where}.clustered')
    for key in ('group', 'possible_owners', 'preferred_owners'):
        if key in data and not vm.clustered:
            raise LabError(f'{where}.{key}: only a clustered VM (clustered: true) has a {key}')
    if not vm.clustered:
        return
    vm.group = _str(data.get('group', vm.name), f'{where}.group')
    if 'possible_owners' in data:
        vm.possible_owners = _names(data['possible_owners'], f'{where}.possible_owners')
    if 'preferred_owners' in data:
        vm.preferred_owners = _names(data['preferred_owners'], f'{where}.preferred_owners')


def _cluster(data: dict, where: str, hosts: dict[str, Host]) -> Cluster:
    """One clusters: entry; its nodes must be hosts of the lab that are in no other cluster (checked here, marked on the hosts)."""
    _check_keys(data, CLUSTER_KEYS, where)
    for key in ('name', 'nodes'):
        if key not in data:
            raise LabError(f'{where}: missing {key}')
    cluster = Cluster(name=_str(data['name'], f'{where}.name'), nodes=[])
    for name in _names(data['nodes'], f'{where}.nodes'):
        host = next((item for item in hosts.values() if item.name.lower() == name.lower()), None)
        if host is None:
            raise LabError(f'{where}.nodes: no host named {name!r} in the lab')
        if host.cluster_name is not None:
            raise LabError(f'{where}.nodes: host {host.name!r} is already a node of cluster {host.cluster_name!r}')
        host.cluster_name = cluster.name
        cluster.nodes.append(host.name)
    if 'private_properties_encoding' in data:
        cluster.private_properties_encoding = _choice(data['private_properties_encoding'], PRIVATE_PROPERTIES_ENCODINGS,
                                                      f'{where}.private_properties_encoding')
    return cluster


def _check_node_states(hosts: dict[str, Host]) -> None:
    for index, host in enumerate(hosts.values()):
        if host.cluster_name is None and host.cluster_state != 'up':
            raise LabError(f'hosts[{index}].cluster_state: {host.name!r} is not a node of any cluster')


def _link_cluster(vm: VirtualMachine, where: str, hosts: dict[str, Host], clusters: dict[str, Cluster]) -> None:
    """A clustered VM: its host is a node, its owner lists name nodes of that cluster; the owner node starts as its host."""
    if not vm.clustered:
        return
    cluster_name = hosts[vm.host].cluster_name
    if cluster_name is None:
        raise LabError(f'{where}.clustered: host {vm.host!r} is not a node of any cluster')
    cluster = clusters[cluster_name]
    for key in ('possible_owners', 'preferred_owners'):
        names = getattr(vm, key) or []
        outside = [name for name in names if not cluster.has_node(name)]
        if outside:
            raise LabError(f'{where}.{key}: {", ".join(map(repr, outside))} not a node of cluster {cluster.name!r}')
        setattr(vm, key, [cluster.node(name) for name in names] if getattr(vm, key) is not None else None)
    if vm.possible_owners is not None and vm.host not in vm.possible_owners:
        raise LabError(f'{where}.possible_owners: must include its host {vm.host!r}')
    vm.owner_node = vm.host


def load_definition(source: str | Path | dict) -> dict:
    """A lab definition from a YAML file path or a dict (copied)."""
    if isinstance(source, dict):
        return copy.deepcopy(source)
    path = Path(source)
    try:
        data = yaml.safe_load(path.read_text(encoding='utf-8'))
    except (OSError, yaml.YAMLError) as exc:
        raise LabError(f'{path}: {exc}') from exc
    if not isinstance(data, dict):
        raise LabError(f'{path}: expected a mapping at the top level')
    return data


class Lab:
    """Hosts, VMs and jobs; thread-safe through self.lock (re-entrant)."""

    def __init__(self, definition: dict, clock=time.monotonic, wall=time.time, duration_s: float | None = None):
        self.definition = copy.deepcopy(definition)
        self.duration_override = duration_s  # every host's migration duration, e.g. short ones for tests
        self.clock = clock
        self.wall = wall
        self.lock = threading.RLock()
        self.name = 'lab'
        self.hosts: dict[str, Host] = {}
        self.vms: dict[str, VirtualMachine] = {}
        self.jobs: dict[str, MigrationJob] = {}
        self.users: list[tuple[str, str]] = []
        self.clusters: dict[str, Cluster] = {}
        self.cluster_moves: list[cluster_engine.ClusterMove] = []  # every MoveToNewNode(Params) call and drain move
        self.cluster_violations: list[dict[str, Any]] = []  # MigrateVirtualSystemToHost of a clustered VM
        self._build()

    @classmethod
    def load(cls, source: str | Path | dict, **kwargs) -> 'Lab':
        """Lab from a YAML path or a dict."""
        return cls(load_definition(source), **kwargs)

    def _build(self) -> None:
        data = self.definition
        _check_keys(data, TOP_KEYS, 'lab')
        self.name = str(data.get('name', 'lab'))
        defaults = data.get('defaults', {})
        _check_keys(defaults, HOST_KEYS - {'name'}, 'defaults')
        hosts: dict[str, Host] = {}
        for index, item in enumerate(data.get('hosts') or []):
            host = _host(_merge(defaults, item if isinstance(item, dict) else {}), f'hosts[{index}]')
            if host.name.lower() in (name.lower() for name in hosts):
                raise LabError(f'hosts[{index}].name: duplicate host {host.name!r}')
            hosts[host.name] = host
        if not hosts:
            raise LabError('lab: at least one host is required')
        clusters = self._build_clusters(data.get('clusters') or [], hosts)
        vms: dict[str, VirtualMachine] = {}
        groups: set[tuple[str, str]] = set()
        for index, item in enumerate(data.get('vms') or []):
            vm = _vm(item, f'vms[{index}]', hosts)
            if vm.guid in vms:
                raise LabError(f'vms[{index}].guid: duplicate GUID {vm.guid}')
            _link_cluster(vm, f'vms[{index}]', hosts, clusters)
            if vm.clustered:
                key = (hosts[vm.host].cluster_name, vm.group.lower())
                if key in groups:
                    raise LabError(f'vms[{index}].group: cluster {key[0]!r} already has a group {vm.group!r}; set group:')
                groups.add(key)
            vms[vm.guid] = vm
        users = []
        for index, item in enumerate(data.get('users') or []):
            _check_keys(item, {'user', 'password'}, f'users[{index}]')
            users.append((_str(item.get('user'), f'users[{index}].user'), _str(item.get('password'), f'users[{index}].password')))
        if self.duration_override is not None:
            for host in hosts.values():
                host.migration.duration_s = float(self.duration_override)
        with self.lock:
            self.hosts, self.vms, self.jobs, self.users = hosts, vms, {}, users
            self.clusters, self.cluster_moves, self.cluster_violations = clusters, [], []

    @staticmethod
    def _build_clusters(items: Any, hosts: dict[str, Host]) -> dict[str, Cluster]:
        if not isinstance(items, list):
            raise LabError('clusters: expected a list of clusters')
        clusters: dict[str, Cluster] = {}
        for index, item in enumerate(items):
            cluster = _cluster(item, f'clusters[{index}]', hosts)
            if cluster.name.lower() in (name.lower() for name in clusters):
                raise LabError(f'clusters[{index}].name: duplicate cluster {cluster.name!r}')
            clusters[cluster.name] = cluster
        _check_node_states(hosts)
        return clusters

    def reset(self) -> None:
        """Back to the definition: VMs where they started, no jobs, no phantom migrations, nodes and groups as defined."""
        with self.lock:
            self._build()

    # Queries (callers hold no lock; these take it)

    def tick(self) -> None:
        """Advance running jobs to the current clock."""
        with self.lock:
            now, wall = self.clock(), self.wall()
            for job in self.jobs.values():
                job.advance(now, wall, self._move_vm)
            if self.clusters:
                cluster_engine.advance(self)  # finish moves whose job ended, start queued ones as slots free

    def _move_vm(self, guid: str, host: str | None) -> None:
        vm = self.vms.get(guid)
        if vm is not None and host in self.hosts:
            vm.host = host

    def host(self, name: str) -> Host:
        """Host by exact or case-insensitive name; KeyError names the known hosts."""
        if name in self.hosts:
            return self.hosts[name]
        for host in self.hosts.values():
            if host.name.lower() == str(name).lower():
                return host
        raise KeyError(f'no host {name!r} in lab {self.name!r}; hosts: {", ".join(self.hosts)}')

    def resolve_host(self, text: str) -> Host | None:
        """The host a DestinationHost string names, or None."""
        with self.lock:
            matches = [host for host in self.hosts.values() if host.known_as(text)]
            return matches[0] if len(matches) == 1 else None

    def vms_on(self, host: str) -> list[VirtualMachine]:
        """VMs currently on a host."""
        with self.lock:
            self.tick()
            return [vm for vm in self.vms.values() if vm.host == host]

    def find_vms(self, name_or_guid: str) -> list[VirtualMachine]:
        """VMs by GUID (any case, braces optional) or by display name (several VMs may share one)."""
        with self.lock:
            self.tick()
            guid = normalize_guid(name_or_guid)
            if guid and guid in self.vms:
                return [self.vms[guid]]
            return [vm for vm in self.vms.values() if vm.name.lower() == str(name_or_guid).lower()]

    def vm(self, name_or_guid: str) -> VirtualMachine:
        """Exactly one VM by GUID or unique name; KeyError otherwise."""
        found = self.find_vms(name_or_guid)
        if len(found) != 1:
            raise KeyError(f'{len(found)} VMs match {name_or_guid!r}; use the GUID')
        return found[0]

    def cluster_of(self, host_name: str | None) -> Cluster | None:
        """The cluster a host is a node of, or None."""
        host = self.hosts.get(host_name) if host_name else None
        return self.clusters.get(host.cluster_name) if host is not None and host.cluster_name else None

    def cluster_groups(self, cluster: Cluster) -> list[VirtualMachine]:
        """The cluster's VM roles (a group belongs to the cluster of its owner node)."""
        with self.lock:
            return [vm for vm in self.vms.values() if vm.clustered and cluster.has_node(vm.owner_node or '')]

    def cluster_group(self, cluster: Cluster, name: str) -> VirtualMachine | None:
        """A VM role by (case-insensitive) group name."""
        return next((vm for vm in self.cluster_groups(cluster) if vm.group.lower() == str(name).lower()), None)

    def active_migrations(self, host: Host) -> int:
        """ActiveVirtualSystemMigrationCount: lab baseline + injected + running jobs touching the host."""
        with self.lock:
            running = sum(1 for job in self.jobs.values() if job.running and host.name in (job.source, job.destination))
            return host.migration.active_vm + host.phantom_migrations + running

    def reserved_mb(self, host: Host) -> int:
        """Memory held on a destination for the migrations running to it: Hyper-V sets it aside when a live migration
        starts (the VM's worker is created there first), so two migrations cannot both count on the same free memory."""
        with self.lock:
            incoming = (self.vms.get(job.vm_guid) for job in self.jobs.values() if job.running and job.destination == host.name)
            return sum(vm.assigned_mb or 0 for vm in incoming if vm is not None)

    def used_mb(self, host: Host) -> int:
        """The host's own memory, its VMs' (those that hold some) and what incoming migrations hold."""
        with self.lock:
            placed = sum(vm.assigned_mb or 0 for vm in self.vms.values() if vm.host == host.name)
            return host.host_memory_mb + placed + self.reserved_mb(host)

    def free_mb(self, host: Host) -> int:
        """Win32_OperatingSystem.FreePhysicalMemory in MB: what is left for VMs (never below 0: a lab may overcommit)."""
        return max(0, host.memory_mb - self.used_mb(host))

    def busy(self, guid: str) -> bool:
        """A migration of this VM is in progress."""
        with self.lock:
            return any(job.running and job.vm_guid == guid for job in self.jobs.values())

    def add_job(self, job: MigrationJob) -> MigrationJob:
        """Register a job (already failed or running)."""
        with self.lock:
            self.jobs[job.instance_id] = job
            return job

    def snapshot(self) -> dict:
        """JSON-friendly view: where every VM is, host counters and jobs (for the control endpoint and debugging)."""
        with self.lock:
            self.tick()
            now = self.clock()
            return {
                'name': self.name,
                'hosts': {
                    host.name: {
                        'address': host.address,
                        'active_migrations': self.active_migrations(host),
                        'migration_enabled': host.migration.enabled,
                        'max_migrations': host.migration.max_vm,
                        'vms': [vm.guid for vm in self.vms.values() if vm.host == host.name],
                        'cluster': host.cluster_name,
                        'cluster_state': host.cluster_state if host.cluster_name else None,
                        'memory_mb': host.memory_mb,
                        'free_mb': self.free_mb(host),
                        'reserved_mb': self.reserved_mb(host),
                    }
                    for host in self.hosts.values()
                },
                'clusters': {cluster.name: list(cluster.nodes) for cluster in self.clusters.values()},
                'vms': [
                    {'guid': vm.guid, 'name': vm.name, 'host': vm.host, 'state': vm.state, 'version': vm.version,
                     'group': vm.group, 'owner_node': vm.owner_node, 'assigned_mb': vm.assigned_mb,
                     'startup_mb': vm.memory.startup_mb}
                    for vm in self.vms.values()
                ],
                'jobs': [
                    {
                        'id': job.instance_id, 'vm': job.vm_guid, 'vm_name': job.vm_name, 'source': job.source,
                        'destination': job.destination or job.destination_text, 'state': job.state,
                        'percent': job.percent, 'error_code': job.error_code, 'error': job.error_description,
                        'elapsed_s': round(job.elapsed(now), 3), 'origin': job.origin,
                    }
                    for job in self.jobs.values()
                ],
            }
