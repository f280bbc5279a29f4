# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Failover clusters over the lab: group moves, node pause/drain/resume, and the refusals, as plain values.

A group move is a live migration run by the cluster: it waits in a queue until both nodes have a free
migration slot (nothing is refused for the limits), then runs as an ordinary MigrationJob (origin 'cluster')
on the source node, so limits, durations, peaks and the VM's move between the nodes' root/virtualization/v2
work as for Hyper-V's own migrations. When the job ends the owner node changes (success) or the VM resource's
MigrationState becomes 5 and the group stays on its source (the move returns to the source, flag 2).
Lab.tick() calls advance(); every function here expects the caller to hold lab.lock.

Refusals carry Win32 codes, numbers and texts from Microsoft's System Error Codes pages (WinError.h):
learn.microsoft.com/windows/win32/debug/system-error-codes--0-499- and --4000-5999-.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hvsim.jobs import JOB_COMPLETED, JOB_EXCEPTION

if TYPE_CHECKING:
    from hvsim.lab import Cluster, Host, Lab, VirtualMachine

ERROR_INVALID_PARAMETER = 87
ERROR_HOST_NODE_NOT_AVAILABLE = 5005
ERROR_HOST_NODE_NOT_RESOURCE_OWNER = 5015
ERROR_CLUSTER_NODE_NOT_FOUND = 5042
ERROR_CLUSTER_NODE_DOWN = 5050
ERROR_CLUSTER_NODE_NOT_PAUSED = 5058
ERROR_CLUSTER_NODE_PAUSED = 5070
ERROR_CLUSTER_GROUP_MOVING = 5908
ERROR_CLUSTER_NODE_DRAIN_IN_PROGRESS = 5962
MESSAGES = {
    ERROR_INVALID_PARAMETER: 'The parameter is incorrect.',
    ERROR_HOST_NODE_NOT_AVAILABLE: 'A cluster node is not available for this operation.',
    ERROR_HOST_NODE_NOT_RESOURCE_OWNER: ('The operation failed because either the specified cluster node is not the owner of the resource, '
                                         'or the node is not a possible owner of the resource.'),
    ERROR_CLUSTER_NODE_NOT_FOUND: 'The cluster node was not found.',
    ERROR_CLUSTER_NODE_DOWN: 'The cluster node is down.',
    ERROR_CLUSTER_NODE_NOT_PAUSED: 'The cluster node is not paused.',
    ERROR_CLUSTER_NODE_PAUSED: 'The cluster node is paused.',
    ERROR_CLUSTER_GROUP_MOVING: 'The group is unable to accept the request since it is moving to another node.',
    ERROR_CLUSTER_NODE_DRAIN_IN_PROGRESS: 'A node drain is already in progress.',
}

# CLUSPROP property lists as os-win builds them for MoveClusterGroupEx (os_win/utils/winapi/constants.py)
CLUSPROP_SYNTAX_ENDMARK = 0
CLUSPROP_SYNTAX_NAME = 0x00040003
CLUSPROP_SYNTAX_LIST_VALUE_DWORD = 0x00010002
VM_RESOURCE_TYPE = 'Virtual Machine'
VM_CONFIG_RESOURCE_TYPE = 'Virtual Machine Configuration'
MOVE_PROPERTIES = (VM_RESOURCE_TYPE, VM_CONFIG_RESOURCE_TYPE)
LIVE_MIGRATION = 4  # os-win _LIVE_MIGRATION_TYPE; 0-3 are the offline kinds (turn off, save, shut down, force shut down)
MIGRATION_TYPES = range(0, 5)
FLAG_RETURN_TO_SOURCE_NODE_ON_ERROR = 2
FLAG_HIGH_PRIORITY_START = 8

# MSCluster_Resource MigrationState (private property of the Virtual Machine resource)
MIGRATION_NONE, MIGRATION_SETUP, MIGRATION_TRANSFER, MIGRATION_MOVE, MIGRATION_FAILURE = 0, 1, 2, 3, 5
# MSCluster_ResourceGroup.State / MSCluster_Resource.State
GROUP_ONLINE, GROUP_OFFLINE = 0, 1
RESOURCE_ONLINE, RESOURCE_OFFLINE = 2, 3
ONLINE_VM_STATES = {2, 32768}  # running, paused: a saved or off VM's role is offline
NODE_STATE = {'up': 0, 'down': 1, 'paused': 2}
DRAIN_NONE, DRAIN_IN_PROGRESS, DRAIN_COMPLETED, DRAIN_FAILED = 0, 1, 2, 3
ACTIVE = ('queued', 'running')
NODE_REFUSALS = {'down': ERROR_CLUSTER_NODE_DOWN, 'paused': ERROR_CLUSTER_NODE_PAUSED}


class ClusterRefusal(Exception):
    """The cluster refuses a call: a Win32 error code and its text."""

    def __init__(self, code: int, detail: str = ''):
        self.code = code
        self.detail = detail
        super().__init__(MESSAGES.get(code, f'Win32 error {code}'))

    @property
    def message(self) -> str:
        """Windows' text for the code."""
        return str(self)


@dataclass
class ClusterMove:
    """One MoveToNewNodeParams / MoveToNewNode call (refused ones too) or one move of a drain."""

    move_id: int
    method: str  # MoveToNewNodeParams, MoveToNewNode or drain
    cluster: str
    group: str
    vm_guid: str
    vm_name: str
    node_name: str  # NodeName as the caller wrote it (the drain's choice for a drain move)
    via: str  # the node whose WS-Man endpoint received the call
    requested: float  # lab clock
    source: str | None = None
    destination: str | None = None
    migration_type: int | None = None
    properties: dict[str, int] | None = None  # the decoded CLUSPROP list (MoveToNewNodeParams)
    flags: int | None = None
    state: str = 'queued'  # queued, running, completed, failed, refused
    refused_code: int | None = None
    error: str | None = None
    job_id: str | None = None
    drain_of: str | None = None
    fail_at: int | None = None
    fail_message: str | None = None
    started: float | None = None
    finished: float | None = None

    @property
    def active(self) -> bool:
        """Queued or running: the group is moving."""
        return self.state in ACTIVE

    def describe(self) -> dict[str, Any]:
        """JSON-friendly form (Simulator.cluster_moves)."""
        return {
            'id': self.move_id, 'method': self.method, 'cluster': self.cluster, 'group': self.group, 'vm': self.vm_name,
            'guid': self.vm_guid, 'node_name': self.node_name, 'via': self.via, 'source': self.source,
            'destination': self.destination, 'migration_type': self.migration_type,
            'properties': dict(self.properties) if self.properties is not None else None, 'flags': self.flags,
            'state': self.state, 'refused_code': self.refused_code, 'error': self.error, 'job_id': self.job_id,
            'drain_of': self.drain_of, 'requested': self.requested, 'started': self.started, 'finished': self.finished,
        }


# The CLUSPROP buffer of MoveToNewNodeParams


def _dword(data: bytes, offset: int, what: str) -> tuple[int, int]:
    if offset + 4 > len(data):
        raise ValueError(f'the buffer ends inside {what} at byte {offset}')
    return struct.unpack_from('<I', data, offset)[0], offset + 4


def _aligned(size: int) -> int:
    return (size + 3) & ~3


def _entry_name(data: bytes, offset: int) -> tuple[str, int]:
    syntax, offset = _dword(data, offset, 'a name syntax')
    if syntax != CLUSPROP_SYNTAX_NAME:
        raise ValueError(f'expected CLUSPROP_SYNTAX_NAME (0x{CLUSPROP_SYNTAX_NAME:08X}), got 0x{syntax:08X}')
    length, offset = _dword(data, offset, 'a name length')
    if length < 2 or length % 2 or offset + _aligned(length) > len(data):
        raise ValueError(f'name length {length} does not fit the buffer')
    raw = data[offset:offset + length]
    if raw[-2:] != b'\0\0':
        raise ValueError('the property name has no terminating NUL')
    try:
        name = raw[:-2].decode('utf-16-le')
    except UnicodeDecodeError as exc:
        raise ValueError(f'the property name is not UTF-16LE: {exc}') from exc
    if any(data[offset + length:offset + _aligned(length)]):
        raise ValueError('non-zero padding after a property name')
    return name, offset + _aligned(length)


def _entry_value(data: bytes, offset: int) -> tuple[int, int]:
    syntax, offset = _dword(data, offset, 'a value syntax')
    if syntax != CLUSPROP_SYNTAX_LIST_VALUE_DWORD:
        raise ValueError(f'expected CLUSPROP_SYNTAX_LIST_VALUE_DWORD (0x{CLUSPROP_SYNTAX_LIST_VALUE_DWORD:08X}), got 0x{syntax:08X}')
    length, offset = _dword(data, offset, 'a value length')
    if length != 4:
        raise ValueError(f'a DWORD value has length {length}')
    value, offset = _dword(data, offset, 'a DWORD value')
    endmark, offset = _dword(data, offset, 'an endmark')
    if endmark != CLUSPROP_SYNTAX_ENDMARK:
        raise ValueError(f'expected the endmark 0, got 0x{endmark:08X}')
    return value, offset


def decode_move_parameters(data: bytes) -> dict[str, int]:
    """The CLUSPROP list of MoveToNewNodeParams -> {property name: DWORD}; ValueError says what is malformed."""
    count, offset = _dword(data, 0, 'the property count')
    if not 1 <= count <= len(MOVE_PROPERTIES):
        raise ValueError(f'property count {count}')
    properties: dict[str, int] = {}
    for _index in range(count):
        name, offset = _entry_name(data, offset)
        value, offset = _entry_value(data, offset)
        if name not in MOVE_PROPERTIES or name in properties:
            raise ValueError(f'unexpected or repeated property {name!r}')
        properties[name] = value
    if offset != len(data):
        raise ValueError(f'{len(data) - offset} byte(s) after the last property')
    return properties


def migration_type_of(properties: dict[str, int] | None) -> int:
    """The migration type a move asks for (the VM resource's entry); live when none is given."""
    if not properties:
        return LIVE_MIGRATION
    kinds = set(properties.values())
    if len(kinds) != 1 or VM_RESOURCE_TYPE not in properties or properties[VM_RESOURCE_TYPE] not in MIGRATION_TYPES:
        raise ClusterRefusal(ERROR_INVALID_PARAMETER, f'migration types {properties}')
    return properties[VM_RESOURCE_TYPE]


# Read-side values


def group_id(cluster: Cluster, group: str) -> str:
    """MSCluster_ResourceGroup.Id: stable per cluster and group name."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f'hvsim-cluster:{cluster.name}:{group.lower()}'))


def resource_id(cluster: Cluster, resource: str) -> str:
    """MSCluster_Resource.Id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f'hvsim-resource:{cluster.name}:{resource.lower()}'))


def group_state(vm: VirtualMachine) -> int:
    """Online while the VM runs (or is paused), offline otherwise; a move keeps it online."""
    return GROUP_ONLINE if vm.state in ONLINE_VM_STATES else GROUP_OFFLINE


def resource_state(vm: VirtualMachine) -> int:
    """The VM resources' State."""
    return RESOURCE_ONLINE if vm.state in ONLINE_VM_STATES else RESOURCE_OFFLINE


def running_move(lab: Lab, vm: VirtualMachine) -> ClusterMove | None:
    """The VM's move that is queued or running, if any."""
    return next((move for move in lab.cluster_moves if move.vm_guid == vm.guid and move.active), None)


def migration_state(lab: Lab, vm: VirtualMachine) -> int:
    """MigrationState now: 1 setup, 2 data transfer, 3 move while the job runs (by its progress), else the kept value."""
    move = running_move(lab, vm)
    if move is None or move.state != 'running':
        return vm.migration_state
    percent = lab.jobs[move.job_id].percent
    if percent < 10:
        return MIGRATION_SETUP
    return MIGRATION_TRANSFER if percent < 90 else MIGRATION_MOVE


def possible_owners(cluster: Cluster, vm: VirtualMachine) -> list[str]:
    """Nodes that may own the VM's resources (all nodes unless the lab restricted them)."""
    return list(vm.possible_owners) if vm.possible_owners is not None else list(cluster.nodes)


# Moves


def _new_move(lab: Lab, cluster: Cluster, vm: VirtualMachine, **values: Any) -> ClusterMove:
    """A move record (not yet in lab.cluster_moves)."""
    return ClusterMove(move_id=len(lab.cluster_moves) + 1, cluster=cluster.name, group=vm.group, vm_guid=vm.guid,
                       vm_name=vm.name, requested=lab.clock(), source=vm.owner_node, **values)


def _destination(lab: Lab, cluster: Cluster, vm: VirtualMachine, node_name: str) -> str:
    """The node a move may go to, or the refusal Windows gives."""
    node = cluster.node(node_name)
    if node is None:
        raise ClusterRefusal(ERROR_CLUSTER_NODE_NOT_FOUND, f'{node_name!r} is not a node of cluster {cluster.name!r}')
    if running_move(lab, vm) is not None:
        raise ClusterRefusal(ERROR_CLUSTER_GROUP_MOVING, f'group {vm.group!r} is already moving')
    state = lab.hosts[node].cluster_state
    if state == 'down':
        raise ClusterRefusal(ERROR_CLUSTER_NODE_DOWN, f'node {node!r} is down')
    if state == 'paused':
        raise ClusterRefusal(ERROR_CLUSTER_NODE_PAUSED, f'node {node!r} is paused')
    if node not in possible_owners(cluster, vm):
        raise ClusterRefusal(ERROR_HOST_NODE_NOT_RESOURCE_OWNER, f'{node!r} is not a possible owner of {vm.group!r}')
    return node


def _decode_call(move: ClusterMove, parameters: bytes | None) -> None:
    """MoveToNewNodeParams' buffer -> the move's properties and migration type (live for MoveToNewNode or no buffer)."""
    if parameters:
        try:
            move.properties = decode_move_parameters(parameters)
        except ValueError as exc:
            raise ClusterRefusal(ERROR_INVALID_PARAMETER, f'Parameters: {exc}') from exc
    move.migration_type = migration_type_of(move.properties)


def request_move(lab: Lab, cluster: Cluster, vm: VirtualMachine, node_name: str, parameters: bytes | None = None,
                 **call: Any) -> ClusterMove:
    """MoveToNewNodeParams / MoveToNewNode: queue the move (or refuse it); every call is recorded, refused ones too.

    call: method, via, flags, fail_at, fail_message (ClusterMove fields).
    """
    move = _new_move(lab, cluster, vm, node_name=node_name, **call)
    try:
        _decode_call(move, parameters)
        move.destination = _destination(lab, cluster, vm, node_name)
    except ClusterRefusal as refusal:
        move.state, move.refused_code, move.error = 'refused', refusal.code, f'{refusal.message} ({refusal.detail})'
        raise
    finally:
        lab.cluster_moves.append(move)
    if move.destination == vm.owner_node:  # MS-CMRP ApiMoveGroupToNode: already there is a success
        move.state, move.finished = 'completed', move.requested
    else:
        vm.migration_state = MIGRATION_NONE  # a kept failure lasts until the next migration
    return move


def _start(lab: Lab, move: ClusterMove) -> None:
    """Run a queued move as a migration job on the node the VM is on."""
    from hvsim.methods import MigrationService  # pylint: disable=import-outside-toplevel  # methods imports lab, which imports this module
    vm = lab.vms[move.vm_guid]
    move.source = vm.host
    job = MigrationService(lab, vm.host).start_job(vm, lab.hosts[move.destination], move.destination, move.migration_type,
                                                   fail_at=move.fail_at, fail_message=move.fail_message, origin='cluster')
    move.state, move.job_id, move.started = 'running', job.instance_id, job.started


def _fail(move: ClusterMove, vm: VirtualMachine, error: str, now: float) -> None:
    move.state, move.error, move.finished = 'failed', error, now
    vm.migration_state = MIGRATION_FAILURE


def _has_slot(lab: Lab, host: Host) -> bool:
    return lab.active_migrations(host) < host.migration.max_vm


def _start_queued(lab: Lab) -> None:
    """Start queued moves (high priority first, then in order) whose nodes both have a free slot."""
    queued = sorted((move for move in lab.cluster_moves if move.state == 'queued'),
                    key=lambda move: (not (move.flags or 0) & FLAG_HIGH_PRIORITY_START, move.move_id))
    for move in queued:
        vm, dest = lab.vms[move.vm_guid], lab.hosts[move.destination]
        if dest.cluster_state != 'up':
            _fail(move, vm, f'{MESSAGES[NODE_REFUSALS[dest.cluster_state]]} ({move.destination})', lab.clock())
        elif _has_slot(lab, lab.hosts[vm.host]) and _has_slot(lab, dest):
            _start(lab, move)


def _finish_running(lab: Lab) -> None:
    """Moves whose job ended: the owner node changes, or MigrationState 5 and the group stays on its source."""
    for move in lab.cluster_moves:
        job = lab.jobs.get(move.job_id) if move.state == 'running' else None
        if job is None or job.state not in (JOB_COMPLETED, JOB_EXCEPTION):
            continue
        vm = lab.vms[move.vm_guid]
        if job.state == JOB_COMPLETED:
            move.state, move.finished = 'completed', job.finished
            vm.owner_node, vm.migration_state = move.destination, MIGRATION_NONE
        else:
            _fail(move, vm, job.error_description, job.finished)


def _settle_drains(lab: Lab) -> None:
    """A drain is over when all its moves are: completed (2), or failed (3) when a group could not leave."""
    for host in lab.hosts.values():
        if host.drain_status != DRAIN_IN_PROGRESS:
            continue
        moves = [move for move in lab.cluster_moves if move.drain_of == host.name]
        if not any(move.active for move in moves):
            host.drain_status = DRAIN_COMPLETED if all(move.state == 'completed' for move in moves) else DRAIN_FAILED


def advance(lab: Lab) -> None:
    """Bring moves and drains up to date (after the jobs were)."""
    _finish_running(lab)
    _start_queued(lab)
    _settle_drains(lab)


# Nodes


def _load(lab: Lab, cluster: Cluster, node: str) -> int:
    owned = sum(1 for vm in lab.cluster_groups(cluster) if vm.owner_node == node)
    return owned + sum(1 for move in lab.cluster_moves if move.active and move.destination == node)


def drain_destination(lab: Lab, cluster: Cluster, vm: VirtualMachine, source: str, target: str | None) -> str | None:
    """Where a drain sends a group: the target when it may host it, else the up possible owners, preferred owners
    first, then the least loaded; None when no node can take it."""
    candidates = [node for node in possible_owners(cluster, vm) if node != source and lab.hosts[node].cluster_state == 'up']
    if target is not None:
        return target if target in candidates else None

    def rank(node: str) -> tuple[int, int, int]:
        preferred = vm.preferred_owners.index(node) if node in vm.preferred_owners else len(vm.preferred_owners)
        return preferred, _load(lab, cluster, node), cluster.nodes.index(node)
    return min(candidates, key=rank, default=None)


def _plan_drain(lab: Lab, cluster: Cluster, node: str, target: str | None) -> None:
    for vm in lab.cluster_groups(cluster):
        if vm.owner_node != node or running_move(lab, vm) is not None:
            continue
        destination = drain_destination(lab, cluster, vm, node, target)
        move = _new_move(lab, cluster, vm, method='drain', node_name=destination or '', via=node, drain_of=node,
                         destination=destination, migration_type=LIVE_MIGRATION, flags=FLAG_RETURN_TO_SOURCE_NODE_ON_ERROR)
        lab.cluster_moves.append(move)
        if destination is None:
            move.state, move.error, move.finished = 'failed', f'no up node that is a possible owner can take {vm.group!r}', move.requested
        else:
            vm.migration_state = MIGRATION_NONE


def pause(lab: Lab, cluster: Cluster, node: str, drain_type: int | None, target_name: str | None) -> None:
    """MSCluster_Node.Pause: the node is paused; with DrainType 1 or 2 its groups move away (2 is handled as 1)."""
    host = lab.hosts[node]
    if host.cluster_state == 'down':
        raise ClusterRefusal(ERROR_CLUSTER_NODE_DOWN, f'node {node!r} is down')
    drain_type = drain_type or 0
    if drain_type not in (0, 1, 2):
        raise ClusterRefusal(ERROR_INVALID_PARAMETER, f'DrainType {drain_type}')
    if drain_type and host.drain_status == DRAIN_IN_PROGRESS:
        raise ClusterRefusal(ERROR_CLUSTER_NODE_DRAIN_IN_PROGRESS, f'node {node!r}')
    target = _drain_target(lab, cluster, node, target_name) if drain_type else None
    host.cluster_state = 'paused'
    if drain_type:
        host.drain_status, host.drain_target = DRAIN_IN_PROGRESS, target
        _plan_drain(lab, cluster, node, target)
        advance(lab)


def _drain_target(lab: Lab, cluster: Cluster, node: str, target_name: str | None) -> str | None:
    """TargetNode of a drain: a node of the cluster that is up (MS-CMRP ApiPauseNodeWithDrainTarget: 5005 otherwise)."""
    if not (target_name or '').strip():
        return None
    target = cluster.node(target_name)
    if target is None:
        raise ClusterRefusal(ERROR_CLUSTER_NODE_NOT_FOUND, f'TargetNode {target_name!r}')
    if target == node or lab.hosts[target].cluster_state != 'up':
        raise ClusterRefusal(ERROR_HOST_NODE_NOT_AVAILABLE, f'TargetNode {target!r} is {lab.hosts[target].cluster_state}')
    return target


def resume(lab: Lab, node: str) -> None:
    """MSCluster_Node.Resume: a paused node is up again (failback is not modelled; a drain under way goes on)."""
    host = lab.hosts[node]
    if host.cluster_state == 'down':
        raise ClusterRefusal(ERROR_CLUSTER_NODE_DOWN, f'node {node!r} is down')
    if host.cluster_state != 'paused':
        raise ClusterRefusal(ERROR_CLUSTER_NODE_NOT_PAUSED, f'node {node!r} is {host.cluster_state}')
    host.cluster_state = 'up'


def node_state_code(host: Host) -> int:
    """MSCluster_Node.State."""
    return NODE_STATE[host.cluster_state]


def describe_group(lab: Lab, vm: VirtualMachine) -> dict[str, Any]:
    """What Simulator.cluster_group returns."""
    cluster = lab.cluster_of(vm.owner_node)
    return {
        'cluster': cluster.name if cluster else None, 'group': vm.group, 'vm': vm.name, 'guid': vm.guid,
        'owner_node': vm.owner_node, 'host': vm.host, 'state': group_state(vm), 'migration_state': migration_state(lab, vm),
        'moving': running_move(lab, vm) is not None,
    }
