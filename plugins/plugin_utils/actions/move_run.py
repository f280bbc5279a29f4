# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One move, with the sessions of its two hosts: vm_move's work, shared with the wave.

A VM that is a role of a failover cluster moves only through its cluster (hyperv/cluster_move.py), never with
Hyper-V's MigrateVirtualSystemToHost, which would move it behind the cluster's back; any other VM moves with
Hyper-V (hyperv/move.py), also when it runs on a cluster node.
"""

from __future__ import annotations

import dataclasses
import typing as t

from ansible.errors import AnsibleActionFail

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.host_session import HostSession
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import HyperVError, is_guid
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.cluster import FailoverCluster, NotAClusterNode, same_node
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.cluster_move import ClusterMover, ClusterMoveRequest
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.failures import StepFailed, step
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.move import MoveFailed, MoveRequest, Mover
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.errors import WSManError


def move(source: HostSession, destination: HostSession, request: MoveRequest, check_mode: bool,
         say: t.Callable[[str], None]) -> dict[str, t.Any]:
    """vm_move's result fields; AnsibleActionFail with the message of the host and step that failed."""
    try:
        role = _cluster_role(source, request.vm, request.vm_name)
        if role is not None:
            return _through_the_cluster(source, destination, request, role, check_mode, say)
        report = Mover(source.api, destination.api, source.label, destination.label, say=say).move(request, check_mode)
    except MoveFailed as exc:
        raise AnsibleActionFail(f"{source.label}: {exc}") from None
    except StepFailed as exc:
        (destination if exc.host == destination.label else source).fail(exc)
    except (HyperVError, WSManError) as exc:
        source.fail(exc)
    return {**dataclasses.asdict(report), "through_cluster": None}


def _cluster_role(source: HostSession, vm: str, name: str | None) -> dict[str, t.Any] | None:
    """The VM's role in the source's failover cluster ({vm_id, vm_name, cluster}), or None: the source is no cluster
    node, the VM is not clustered, or it is not on the source (Hyper-V's move then says where it is). One request on
    a standalone host; on a node, one more to find a VM named by its name."""
    cluster = FailoverCluster(source.api.client)
    with step("asking the source's failover cluster whether the VM is a role there (MSCluster_Resource)"):
        try:
            resources = cluster.vm_resources()
        except NotAClusterNode:
            return None
    vm_id, vm_name = (vm.strip("{}").upper(), name) if is_guid(vm) else (None, vm)
    if vm_id is None:
        with step("finding the VM (Msvm_ComputerSystem)"):
            system = source.api.find_vm(vm)
        if system is None:
            return None
        vm_id = str(system.get("Name", "")).upper()
    if vm_id not in resources:
        return None
    with step("reading the failover cluster's name (MSCluster_Cluster)"):
        name = cluster.cluster_name()
    return {"vm_id": vm_id, "vm_name": vm_name, "cluster": name, "resource": resources[vm_id]}


def _through_the_cluster(source: HostSession, destination: HostSession, request: MoveRequest, role: dict[str, t.Any],
                         check_mode: bool, say: t.Callable[[str], None]) -> dict[str, t.Any]:
    label = role["vm_name"] or role["vm_id"]
    if request.migration_type != "live":
        raise MoveFailed(f"{label} is a role of failover cluster {role['cluster']}, which moves it by live migration "
                         "only; its files stay on the cluster's shared storage (move them with Move-VMStorage). Nothing "
                         "was moved: use migration_type live.")
    mover = ClusterMover(FailoverCluster(source.api.client), role["cluster"], say=say)
    try:
        report = mover.move(ClusterMoveRequest(
            vm_id=role["vm_id"], destination=destination.label, vm_name=role["vm_name"],
            expected_source=source.label,  # moved by someone else since: gated for another source, so not sent
            timeout_s=request.timeout_s, poll_interval_s=request.poll_interval_s), check_mode)
    except MoveFailed as exc:
        if "is not a node of failover cluster" in str(exc):
            raise MoveFailed(f"{label} is a role of failover cluster {role['cluster']}: it moves only through the "
                             f"cluster, to one of its nodes. {exc} Hyper-V's MigrateVirtualSystemToHost would move it "
                             "behind the cluster's back, so it was not sent either.") from None
        raise
    final = dict(report.final)  # its host as the inventory names it, like Hyper-V's move reports it
    for session, node in ((destination, report.destination), (source, report.source)):
        if same_node(final.get("host"), node):
            final["host"] = session.label
            break
    return {"changed": report.changed, "job_id": None, "duration": report.duration, "progress": report.progress,
            "vm": report.vm, "final": final, "msg": report.msg, "limit_refusals": 0, "limit_waited": 0.0,
            "through_cluster": role["cluster"]}
