# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Draining a failover-cluster node the cluster's way, once the wave moved its running VMs where the gate chose:
pause it with drain (Suspend-ClusterNode -Drain: MSCluster_Node.Pause, DrainType 1), so that the cluster moves
whatever roles are left (VMs that are off, other roles) and places nothing more there, then follow its drain."""

from __future__ import annotations

import time
import typing as t

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.host_session import HostSession
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import HyperVError
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.cluster import FailoverCluster
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.cluster_move import is_lost_reply
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.failures import step
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.errors import WSManError

DRAIN_UNDER_WAY = ("not initiated", "in progress")  # anything else (completed, failed, unknown, none) ends the wait


def pause(session: HostSession, node: str, cluster: str, *, timeout: float, poll: float,
          say: t.Callable[[str], None], sleep: t.Callable[[float], None] = time.sleep,
          clock: t.Callable[[], float] = time.monotonic) -> dict[str, t.Any]:
    """Pause `node` with drain and follow its NodeDrainStatus until it completes, fails or `timeout` passes.
    {node, cluster, paused, drain_status, failed, msg}; the session's failures raise AnsibleActionFail."""
    def work(api: t.Any) -> dict[str, t.Any]:
        failover = FailoverCluster(api.client)
        with step(f"pausing cluster node {node} with drain (MSCluster_Node.Pause)"):
            _pause_once(failover, node)
        say(f"Cluster node {node} of {cluster}: paused, the cluster drains what is left on it")
        started, status = clock(), None
        while True:
            with step(f"following the drain of cluster node {node} (MSCluster_Node.NodeDrainStatus)"):
                status = failover.drain_status(node)
            if status not in DRAIN_UNDER_WAY or clock() - started >= timeout:
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


def _pause_once(failover: FailoverCluster, node: str) -> None:
    """Pause with drain, sent once: after a lost reply the node is asked whether it is paused (then its drain is
    followed as usual), never sent the request again."""
    try:
        failover.pause_node(node, drain=True)
    except (WSManError, HyperVError) as exc:
        if not is_lost_reply(exc):
            raise
        now = failover.node(node)
        if now["state"] != "paused":
            raise HyperVError(f"the reply to the pause of cluster node {node} was lost ({exc}) and the node is "
                              f"{now['state']}, not paused; it was not sent again. Pause it (Suspend-ClusterNode -Drain) "
                              "when the cluster is reachable, or run the drain again.") from None
