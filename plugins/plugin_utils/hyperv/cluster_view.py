# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One node's view of its failover cluster, as the gate and the facts use it: the cluster's name, its nodes and
their states, and its VM roles by the VMs' GUIDs with their owners (hyperv/cluster.py makes the requests).

A host that is not a cluster node costs one request and has no view (None); a node costs four (five with the
preferred owners, which only the facts show).
"""

from __future__ import annotations

import typing as t

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.cluster import FailoverCluster, NotAClusterNode
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.failures import step
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.client import WSManClient


def read(client: WSManClient, *, preferred: bool = False) -> dict[str, t.Any] | None:
    """{name, nodes: {node: {state, state_value, drain_status}}, vms: {VM GUID: role}}, or None for a host that is
    not a cluster node. A role: its resource, group, owner node, states, and possible (and preferred) owners."""
    cluster = FailoverCluster(client)
    with step("reading the failover cluster's VM roles (MSCluster_Resource)"):
        try:
            resources = cluster.vm_resources()  # first: it tells a standalone host in one request
        except NotAClusterNode:
            return None
    with step("reading the failover cluster (MSCluster_Cluster, MSCluster_Node, possible owners)"):
        name, nodes, owners = cluster.cluster_name(), cluster.nodes(), cluster.possible_owners()
        preferred_by_group = cluster.preferred_owners() if preferred else {}
    roles = {}
    for vm_id, resource in resources.items():
        role = {**resource, "possible_owners": owners.get(resource["resource"])}
        if preferred:
            role["preferred_owners"] = preferred_by_group.get(resource["group"], [])
        roles[vm_id] = role
    return {"name": name, "nodes": nodes, "vms": roles}
