# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A clustered VM in the gate, pure: which nodes it may go to, why not the others, and what the decision says.

A VM that is a role of a failover cluster (a group holding a 'Virtual Machine' resource whose VmID is the VM's
GUID) moves only within its cluster and only through the cluster (MSCluster_ResourceGroup), to a node that is up,
not paused, and a possible owner of its resource. The cluster's view comes from one node (actions/gate_reads.py);
node names are the cluster's (NetBIOS) names, matched to inventory hosts without case, and by the first label of
an inventory name that is a fully qualified domain name.
"""

from __future__ import annotations

import typing as t

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.baseline import compat_baseline
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import is_guid, same_name
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.cluster import group_mates

USABLE_NODE_STATES = ("up",)


def clustered(view: t.Mapping[str, t.Any] | None, vm_id: str | None) -> dict[str, t.Any] | None:
    """The VM's cluster role ({resource, group, owner_node, state, migration_state, possible_owners}) in the view,
    or None when the view is None (a standalone host) or the VM is not clustered there."""
    if not view or not vm_id:
        return None
    return (view.get("vms") or {}).get(vm_id.strip("{}").upper())


def owner_of(view: t.Mapping[str, t.Any], vm: str) -> str | None:
    """The node that owns the VM role answering to `vm` (its GUID, or its group's name as Failover Cluster Manager
    shows it, case aside), when exactly one does: a hint where to look for the VM, which is then found there by
    its id (when `vm` is a GUID) or name as on any host."""
    roles = (view.get("vms") or {}).items()
    if is_guid(vm):  # an id is only ever an id (an ASCII GUID: "ﬀ".upper() is "FF"), never a group named like it
        owners = {role["owner_node"] for vm_id, role in roles if vm_id == vm.strip("{}").upper()}
    else:
        owners = {role["owner_node"] for _vm_id, role in roles if same_name(str(role.get("group") or ""), vm)}
    return owners.pop() if len(owners) == 1 else None


def node_name(view: t.Mapping[str, t.Any], host: str, computer_name: str | None = None) -> str | None:
    """The cluster's name for an inventory host: its node of the same name (without case), of the same first DNS
    label, or named as the host's computer name (same_name: never a lookalike); None when the host is not a node of
    this cluster."""
    wanted = [host, host.split(".", 1)[0]] + ([computer_name] if computer_name else [])
    return next((node for node in view.get("nodes") or {} if any(same_name(node, name) for name in wanted)), None)


def node_hosts(view: t.Mapping[str, t.Any], inventory: t.Iterable[str]) -> dict[str, str]:
    """Each node of the cluster that the inventory holds -> its inventory host (the first that matches)."""
    found: dict[str, str] = {}
    for host in inventory:
        node = node_name(view, host)
        if node is not None and node not in found:
            found[node] = host
    return found


def default_candidates(view: t.Mapping[str, t.Any], role: t.Mapping[str, t.Any], inventory: t.Iterable[str]
                       ) -> tuple[list[str], list[str]]:
    """Where a clustered VM may go when no host was named: the inventory hosts of its cluster's other nodes (those
    the cluster would refuse stay, so that the decision says why not), and the other nodes the inventory lacks."""
    hosts = node_hosts(view, inventory)
    others = [node for node in view["nodes"] if not same_name(node, str(role["owner_node"]))]
    return [hosts[node] for node in others if node in hosts], [node for node in others if node not in hosts]


def _may_own(role: t.Mapping[str, t.Any], node: str) -> bool:
    owners = role.get("possible_owners")
    return owners is None or any(same_name(owner, node) for owner in owners)


def node_problem(view: t.Mapping[str, t.Any], role: t.Mapping[str, t.Any], vm_label: str, host: str,
                 computer_name: str | None = None) -> str | None:
    """Why the cluster will not take the VM to this host, in a sentence with the remedy; None when it may."""
    cluster, group = view["name"], role["group"]
    mates = group_mates(view.get("vms") or {}, role)
    if mates:  # the cluster moves a group whole: the others would move too, ungated
        return (f"group {group} of cluster {cluster} holds {vm_label} and also {', '.join(mates)}: the cluster moves "
                "a group whole, so they would move too without being gated. Give each VM a role of its own, then gate "
                "it again.")
    node = node_name(view, host, computer_name)
    if node is None:
        return (f"{host} is not a node of cluster {cluster}, where {vm_label} is a clustered role (group {group}). A "
                f"clustered VM moves within its cluster, through the cluster: choose one of its nodes "
                f"({', '.join(view['nodes'])}), or remove the role from the cluster first.")
    state = view["nodes"][node].get("state")
    if state == "paused":
        return (f"{host} is paused in cluster {cluster} (Suspend-ClusterNode): it takes no roles. Resume it "
                "(Resume-ClusterNode) or choose another node.")
    if state not in USABLE_NODE_STATES:
        return f"{host} is {state or 'in an unknown state'} in cluster {cluster}: bring it up or choose another node."
    if not _may_own(role, node):
        return (f"{host} is not a possible owner of {group} in cluster {cluster} (its possible owners: "
                f"{', '.join(role['possible_owners']) or 'none'}). Add it (Set-ClusterOwnerNode) or choose one of them.")
    return None


def summary(view: t.Mapping[str, t.Any], role: t.Mapping[str, t.Any],
            node_vectors: t.Mapping[str, t.Any] | None = None) -> dict[str, t.Any]:
    """The decision's `cluster` entry: the cluster, the VM's group and resource as the cluster sees them, every
    node's state, and the baseline of the nodes whose vectors were read (what a VM must fit to run on all of them)."""
    vectors = {node: value for node, value in (node_vectors or {}).items() if value}
    return {
        "name": view["name"],
        "group": role["group"],
        "resource": role.get("resource"),
        "owner_node": role["owner_node"],
        "resource_state": role.get("state"),
        "migration_state": role.get("migration_state"),
        "possible_owners": role.get("possible_owners"),
        "preferred_owners": role.get("preferred_owners"),
        "nodes": {node: facts.get("state") for node, facts in view["nodes"].items()},
        "baseline": compat_baseline(list(vectors.values())) if vectors else None,
        "baseline_nodes": sorted(vectors),
    }
