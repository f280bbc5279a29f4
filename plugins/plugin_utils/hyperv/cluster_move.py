# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Move a clustered VM through its failover cluster: MoveToNewNodeParams on its group, then follow the VM resource's
MigrationState and owner node to the end.

The request is sent once. Before it, what the cluster would refuse is refused here with the reason (a destination
that is not up or not a possible owner, a VM already moving); a VM already on the destination is left alone. After a
lost reply the request is never sent again: the cluster is asked where the VM is, and that is what gets reported.
"""

from __future__ import annotations

import dataclasses
import time
import typing as t

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import HyperVError
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.cluster import (
    GROUP_ONLINE,
    GROUP_PENDING,
    MIGRATING,
    MIGRATION_CANCELED,
    MIGRATION_FAILED,
    MIGRATION_TYPES,
    NODE_UP,
    ClusterCallFailed,
    FailoverCluster,
    group_mates,
    normal_vm_id,
    same_node,
)
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.failures import StepFailed, step
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.move import MoveFailed, next_poll
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.errors import ResponseError, TransportError, WSManError, WSManFault

# What to do about a refusal, by its Win32 code
REFUSAL_ADVICE = {
    5015: "Add the node to the VM's possible owners (Set-ClusterOwnerNode) or choose another node.",
    5050: "Bring the node back up or choose another node.",
    5070: "Resume the node (Resume-ClusterNode) or choose another node.",
    5908: "Someone else is moving it: wait for that move to end, then gate it again.",
}


@dataclasses.dataclass
class ClusterMoveRequest:
    vm_id: str  # the VM's GUID, as Msvm_ComputerSystem.Name and the resource's VmId hold it
    destination: str  # a node of the cluster
    vm_name: str | None = None  # for the messages
    expected_source: str | None = None  # the owner the decision was made for: elsewhere now means decide again
    migration_type: str = "live"
    timeout_s: float = 600.0
    poll_interval_s: float = 1.0
    lost_reply_grace_s: float = 10.0  # after a lost reply, how long a VM that shows no move is watched


@dataclasses.dataclass
class ClusterMoveReport:
    changed: bool = False
    duration: float = 0.0
    source: str | None = None
    destination: str | None = None
    progress: list[dict[str, t.Any]] = dataclasses.field(default_factory=list)
    vm: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    final: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    msg: str = ""


@dataclasses.dataclass
class _Move:
    """What the checks found: the VM's resource and group, where it is and where it goes."""

    label: str
    resource: str
    group: str
    source: str
    destination: str
    group_state: int | None
    migration_state: int | None


def is_lost_reply(exc: Exception) -> bool:
    """No answer to a request that was sent: it may have arrived, and the move may be under way."""
    return isinstance(exc, (TransportError, ResponseError)) or (isinstance(exc, WSManFault) and exc.retryable)


class ClusterMover:
    """One move of one clustered VM through the failover cluster that `cluster` (one node's endpoint) reaches."""

    def __init__(self, cluster: FailoverCluster, cluster_label: str, *, say: t.Callable[[str], None] = lambda _text: None,
                 clock: t.Callable[[], float] = time.monotonic, sleep: t.Callable[[float], None] = time.sleep):
        self.cluster, self.where = cluster, cluster_label
        self.say, self.clock, self.sleep = say, clock, sleep

    def move(self, request: ClusterMoveRequest, check_mode: bool) -> ClusterMoveReport:
        if request.migration_type not in MIGRATION_TYPES:
            raise ValueError(f"migration_type must be one of {', '.join(MIGRATION_TYPES)}, not {request.migration_type!r}")
        report = ClusterMoveReport(destination=request.destination)
        plan = self._plan(request, report)
        if plan is None:
            return report
        if check_mode:
            report.changed = True
            report.msg = f"{plan.label} would move from {plan.source} to {plan.destination} through the failover cluster."
            return report
        started = self.clock()
        lost = self._send(plan, request)
        report.changed = True
        self._follow(plan, request, report, started, lost)
        report.duration = round(self.clock() - started, 3)
        report.msg = (f"{plan.label} moved from {plan.source} to {plan.destination} through the failover cluster in "
                      f"{report.duration:g} s.{report.msg}")
        return report

    # Before sending

    def _plan(self, request: ClusterMoveRequest, report: ClusterMoveReport) -> _Move | None:
        """Read the VM's resource, its group, the nodes and the possible owners; refuse what the cluster would.
        None: the VM is already on the destination."""
        vm_id = normal_vm_id(request.vm_id)
        label = f"VM {request.vm_name!r} ({vm_id})" if request.vm_name else f"VM {vm_id}"
        with step(f"reading the VM roles of failover cluster {self.where}"):
            resources = self.cluster.vm_resources()
        resource = resources.get(vm_id)
        if resource is None:
            raise MoveFailed(f"{label} is not a role of failover cluster {self.where}, so the cluster cannot move it; "
                             "nothing was moved. Move a VM that is not clustered with vm_move, or make it a role "
                             "(Add-ClusterVirtualMachineRole) first.")
        mates = group_mates(resources, resource)
        if mates:
            raise MoveFailed(f"group {resource['group']!r} of failover cluster {self.where} holds {label} and also "
                             f"{', '.join(mates)}; "
                             "the cluster moves a group whole, so they would move too without being gated. Nothing was "
                             "sent. Give each VM a role of its own, then gate it again.")
        report.vm = {"id": vm_id, "name": request.vm_name, "resource": resource["resource"], "group": resource["group"]}
        if resource["migration_state_value"] in MIGRATING:
            raise MoveFailed(f"{label} is already being moved by failover cluster {self.where} (migration state "
                             f"'{resource['migration_state']}', owner {resource['owner_node']}); nothing was sent. "
                             "Wait for that move to end, then gate it again.")
        with step(f"reading the cluster group of {label}"):
            group = self.cluster.group(str(resource["group"]))
        if group is None:
            raise MoveFailed(f"failover cluster {self.where} lists no group {resource['group']!r}, which holds {label}; "
                             "nothing was moved. Check the role in Failover Cluster Manager.")
        source = str(group["owner_node"])
        report.source, report.vm["group"] = source, group["name"]
        report.final = {"host": source, "state": group["state_value"], "state_name": group["state"]}
        destination = self._destination(request.destination, label)
        report.destination = destination
        if same_node(source, destination):
            report.msg = f"{label} is already on {source}; nothing to do."
            return None
        if request.expected_source and not _names_node(request.expected_source, source):
            raise MoveFailed(f"{label} is on {source}, not on {request.expected_source} as when the decision was made; "
                             "nothing was moved. Gate it again.")
        self._check_possible_owner(resource["resource"], destination, label)
        return _Move(label, resource["resource"], group["name"], source, destination, group["state_value"],
                     resource["migration_state_value"])

    def _destination(self, wanted: str, label: str) -> str:
        """The destination as the cluster names it (a host's FQDN matches its node's short name); it must be up."""
        with step(f"reading the nodes of failover cluster {self.where}"):
            nodes = self.cluster.nodes()
        matches = [name for name in nodes if same_node(name, wanted)]
        matches = matches or [name for name in nodes if _names_node(wanted, name)]
        if len(matches) != 1:
            raise MoveFailed(f"{wanted} is not a node of failover cluster {self.where} (its nodes: "
                             f"{', '.join(sorted(nodes)) or 'none'}); {label} was not moved. Choose one of its nodes.")
        node = matches[0]
        state = nodes[node]
        if state["state_value"] != NODE_UP:
            advice = {"paused": "Resume it (Resume-ClusterNode) or choose another node.",
                      "down": "Bring it back up or choose another node."}.get(state["state"], "Choose another node.")
            raise MoveFailed(f"cluster node {node} is {state['state']}, so failover cluster {self.where} would not take "
                             f"{label} there; nothing was moved. {advice}")
        return node

    def _check_possible_owner(self, resource: str, destination: str, label: str) -> None:
        with step(f"reading the possible owners of {label}"):
            owners = self.cluster.possible_owners().get(resource)
        if owners and not any(same_node(owner, destination) for owner in owners):
            raise MoveFailed(f"cluster node {destination} is not a possible owner of {label} (resource {resource!r}: "
                             f"{', '.join(owners)}); nothing was moved. Add it (Set-ClusterOwnerNode) or choose one of those.")

    # Sending, once

    def _send(self, move: _Move, request: ClusterMoveRequest) -> Exception | None:
        """Request the move. Returns the failure when the reply was lost (the request may have arrived)."""
        self.say(f"{move.label}: asking failover cluster {self.where} to move group {move.group!r} from {move.source} "
                 f"to {move.destination} ({request.migration_type})")
        try:
            self.cluster.move_group(move.group, move.destination, request.migration_type)
        except ClusterCallFailed as exc:
            advice = REFUSAL_ADVICE.get(exc.win32_code, "Check the role and the nodes in Failover Cluster Manager.")
            raise MoveFailed(f"failover cluster {self.where} refused to move {move.label} to {move.destination}: {exc}. "
                             f"It is still on {move.source}; nothing was moved. {advice}") from None
        except (WSManError, HyperVError) as exc:
            if is_lost_reply(exc):
                self.say(f"{move.label}: the move request's reply was lost ({exc}); asking the cluster where the VM is")
                return exc
            raise StepFailed(f"requesting the move of {move.label} to {move.destination} "
                             "(MSCluster_ResourceGroup.MoveToNewNodeParams)", exc) from exc
        return None

    # Following

    def _follow(self, move: _Move, request: ClusterMoveRequest, report: ClusterMoveReport, started: float,
                lost: Exception | None) -> None:
        """Poll the VM resource until it is on the destination with its group settled; fail, saying where it is,
        when the cluster gave up, moved it elsewhere, or the time ran out."""
        seen_moving = False
        last = None
        while True:
            resource = self._read_resource(move, lost)
            elapsed = round(self.clock() - started, 3)
            state, owner, percent = resource["migration_state_value"], resource["owner_node"], resource["migration_progress"]
            if (state, owner, percent) != last:
                self._record(move, report, resource, elapsed)
                last = (state, owner, percent)
            seen_moving = seen_moving or state in MIGRATING
            if state not in MIGRATING and same_node(owner, move.destination) and self._settled(move, report):
                if lost is not None:
                    report.msg = f" The move request's reply was lost ({lost}); the cluster shows it done. It was not sent again."
                return
            fresh = seen_moving or state != move.migration_state  # MigrationState keeps an earlier failure
            if state in (MIGRATION_FAILED, MIGRATION_CANCELED) and fresh:
                raise MoveFailed(self._gave_up(move, resource))
            if state not in MIGRATING and owner and not same_node(owner, move.source) and not same_node(owner, move.destination):
                raise MoveFailed(f"failover cluster {self.where} put {move.label} on {owner}, not on {move.destination}. "
                                 "Check why (Get-ClusterGroup, the cluster events) before gating it again.")
            if lost is not None and not seen_moving and elapsed >= request.lost_reply_grace_s:
                self._not_started_after_lost_reply(move, lost)
            if elapsed >= request.timeout_s:
                raise MoveFailed(self._timed_out(move, request, resource, seen_moving))
            self.sleep(next_poll(elapsed, percent, request.poll_interval_s))

    def _read_resource(self, move: _Move, lost: Exception | None) -> dict[str, t.Any]:
        try:
            with step(f"following the move of {move.label}"):
                resource = self.cluster.vm_resource(move.resource)
        except StepFailed as exc:
            sent = f"Its move request's reply was lost ({lost}) and" if lost is not None else "The move was requested, but"
            raise MoveFailed(f"{sent} where {move.label} is could not be read ({exc}). It was not sent again; check "
                             "where it is (Get-ClusterGroup) before doing anything else with it.") from None
        if resource is None:
            raise MoveFailed(f"{move.label}'s resource {move.resource!r} left failover cluster {self.where} during its "
                             "move. Check where the VM is (Get-ClusterGroup, Get-VM).")
        return resource

    def _record(self, move: _Move, report: ClusterMoveReport, resource: dict[str, t.Any], elapsed: float) -> None:
        report.progress.append({"elapsed": elapsed, "owner_node": resource["owner_node"], "percent": resource["migration_progress"],
                                "migration_state": resource["migration_state"]})
        percent = f" {resource['migration_progress']}%" if resource["migration_progress"] is not None else ""
        self.say(f"{move.label}: on {resource['owner_node']}, migration state '{resource['migration_state']}'{percent}")

    def _settled(self, move: _Move, report: ClusterMoveReport) -> bool:
        """On the destination: the group must be there too, online if it was online, and no longer pending."""
        with step(f"confirming that {move.label} arrived on {move.destination}"):
            group = self.cluster.group(move.group)
        if group is None:
            raise MoveFailed(f"{move.label}'s group {move.group!r} left failover cluster {self.where} during its move.")
        report.final = {"host": group["owner_node"], "state": group["state_value"], "state_name": group["state"]}
        if not same_node(group["owner_node"], move.destination) or group["state_value"] == GROUP_PENDING:
            return False
        if move.group_state == GROUP_ONLINE and group["state_value"] != GROUP_ONLINE:
            raise MoveFailed(f"{move.label} is on {move.destination} but its group is {group['state']}; it was online "
                             "before the move. Check it there (Get-ClusterGroup, the cluster events).")
        return True

    def _gave_up(self, move: _Move, resource: dict[str, t.Any]) -> str:
        owner = resource["owner_node"]
        where = (f"it is still on {move.source}, where the cluster returned it" if same_node(owner, move.source)
                 else f"it is on {owner}")
        reason = resource["migration_failure_reason"]
        cause = f" (MigrationFailureReason 0x{reason:08X})" if reason else ""
        ended = "was canceled" if resource["migration_state_value"] == MIGRATION_CANCELED else "failed"
        return (f"the failover cluster's move of {move.label} to {move.destination} {ended}{cause}; {where}. "
                "Look at the cluster events for the VM (Failover Cluster Manager, Get-ClusterLog) before gating it again.")

    def _not_started_after_lost_reply(self, move: _Move, lost: Exception) -> None:
        """After a lost reply the VM still sits on its source: unless the cluster queued the move, it did not start."""
        with step(f"asking whether the cluster queued the move of {move.label}"):
            group = self.cluster.group(move.group)
        if group is not None and group["queued"]:
            return
        shown = f"the reply to the move request of {move.label} was lost ({lost}); {move.label} is still on {move.source} " \
                "and the cluster shows no move of it"
        if group is not None and group["queued"] is None:  # no StatusInformation: a queued move looks just like this
            raise MoveFailed(f"{shown}, but it does not say whether the move waits in its queue (its group reports no "
                             "StatusInformation), so the move may still start. It was not sent again; check the group "
                             "(Get-ClusterGroup) and let any move of it end before running the task again.")
        raise MoveFailed(f"{shown}, so the request most likely did not arrive. It was not sent again; run the task again "
                         "when the cluster is reachable.")

    def _timed_out(self, move: _Move, request: ClusterMoveRequest, resource: dict[str, t.Any], seen_moving: bool) -> str:
        if resource["migration_state_value"] in MIGRATING:
            now = f"it is still moving (migration state '{resource['migration_state']}')"
        elif seen_moving:
            now = f"it is on {resource['owner_node']}"
        else:
            now = f"it is still on {move.source} and the move has not started (the cluster may have queued it)"
        return (f"{move.label} is not on {move.destination} after {request.timeout_s:g} s: {now}. The move was not "
                "canceled; follow it (Get-ClusterGroup) and check where the VM is before trying again.")


def _names_node(host: str, node: str) -> bool:
    """Whether an inventory host names this cluster node: by its name, or by its first DNS label (an FQDN)."""
    return same_node(node, host) or same_node(node, host.split(".", 1)[0])
