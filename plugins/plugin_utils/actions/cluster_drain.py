# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Draining a failover-cluster node the cluster's way, once the wave moved its running VMs where the gate chose:
pause it with drain (Suspend-ClusterNode -Drain: MSCluster_Node.Pause, DrainType 1), so that the cluster moves
whatever roles are left (VMs that are off, other roles) and places nothing more there, then follow its drain."""

from __future__ import annotations

import time
import typing as t

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.host_session import HostSession
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.cluster import FailoverCluster
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.failures import step

DRAIN_OVER = ("completed", "failed")


def pause(session: HostSession, node: str, cluster: str, *, timeout: float, poll: float,
          say: t.Callable[[str], None], sleep: t.Callable[[float], None] = time.sleep,
          clock: t.Callable[[], float] = time.monotonic) -> dict[str, t.Any]:
    """Pause `node` with drain and follow its NodeDrainStatus until it completes, fails or `timeout` passes.
    {node, cluster, paused, drain_status, failed, msg}; the session's failures raise AnsibleActionFail."""
    def work(api: t.Any) -> dict[str, t.Any]:
        failover = FailoverCluster(api.client)
        with step(f"pausing cluster node {node} with drain (MSCluster_Node.Pause)"):
            failover.pause_node(node, drain=True)
        say(f"Cluster node {node} of {cluster}: paused, the cluster drains what is left on it")
        started, status = clock(), None
        while True:
            with step(f"following the drain of cluster node {node} (MSCluster_Node.NodeDrainStatus)"):
                status = failover.drain_status(node)
            if status in DRAIN_OVER or status is None or clock() - started >= timeout:
                break
            sleep(poll)
        failed = status != "completed"
        if status == "failed":
            msg = (f"Cluster node {node} is paused, but the cluster could not move every role off it (drain status "
                   "failed). See which roles are still there (Get-ClusterGroup) and the cluster events.")
        elif failed:
            msg = (f"Cluster node {node} is paused; its drain is {status or 'not reported'} after {timeout:g} s. "
                   "Follow it (Get-ClusterNode) before starting maintenance.")
        else:
            msg = f"Cluster node {node} is paused and drained: ready for maintenance. Resume it with Resume-ClusterNode."
        say(msg)
        return {"node": node, "cluster": cluster, "paused": True, "drain_status": status, "failed": failed, "msg": msg}
    return session.run(work)
