"""Failover-cluster edges through migrate.yml against hvsim's cluster lab (and ClusterMover over a real socket where a
playbook cannot reach the case): a group holding two VMs, an id answered by a group named like it, a lost reply to a
move the cluster queued, a lost reply to a node's pause, and drains that stop midway."""

from __future__ import annotations

import pytest

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.move import MoveFailed
from hvsim.pytest_fixtures import hvsim_cluster, hvsim_cluster_session  # noqa: F401  pylint: disable=unused-import
from integration.ansible_output import task_failure
from integration.test_cluster_migrate import MIGRATE, decisions, migrate, sent  # noqa: F401  pylint: disable=unused-import
from unit.plugins.plugin_utils.test_hyperv_cluster_hvsim import MOVE, mover_of, request

SQL01, APP01, TOOLS01 = ("5A1C0E2B-3D4F-4A6B-8C0D-2E3F4A5B6C01", "5A1C0E2B-3D4F-4A6B-8C0D-2E3F4A5B6C02",
                         "5A1C0E2B-3D4F-4A6B-8C0D-2E3F4A5B6C06")


def set_group(sim, vm: str, group: str) -> None:
    """Rename a VM's role (the lab refuses two VMs in one group when loading it; a cluster does not)."""
    with sim.lab.lock:
        sim.lab.vms[vm].group = group


def test_a_group_holding_two_vms_is_blocked_by_the_gate(hvsim_cluster, migrate):
    set_group(hvsim_cluster, APP01, "sql01")  # app01 (on HVC-N1 too) now shares sql01's group
    message = task_failure(migrate(hvsim_cluster, "vm=sql01", "destination=HVC-N2"))
    assert ("[cluster] group sql01 of cluster HVC holds sql01 and also 'Virtual Machine app01' (VM " + APP01) in message
    assert "Give each VM a role of its own" in message
    assert hvsim_cluster.cluster_moves() == [] and sent(hvsim_cluster, MIGRATE) == 0


def test_a_group_holding_two_vms_is_not_moved_by_the_mover(hvsim_cluster):
    set_group(hvsim_cluster, APP01, "sql01")
    with pytest.raises(MoveFailed, match=r"group 'sql01' of failover cluster HVC holds VM 'sql01' .* and also "
                                         r"'Virtual Machine app01' \(VM " + APP01 + r"\).*Nothing was sent"):
        mover_of(hvsim_cluster).move(request(), check_mode=False)
    assert hvsim_cluster.cluster_moves() == []


def test_an_id_is_not_answered_by_a_group_named_like_it(hvsim_cluster, migrate):
    set_group(hvsim_cluster, APP01, TOOLS01)  # app01's role (on HVC-N1) named as tools01's id; tools01 is on HVC-N2
    result = migrate(hvsim_cluster, f"vm={TOOLS01}", "destination=HVC-N1", "mode=gate")
    assert result.returncode == 0, result.stdout
    decision = decisions(result)[TOOLS01]
    assert (decision["vm_name"], decision["source"], decision["cluster"]) == ("tools01", "HVC-N2", None)


def test_a_lost_reply_to_a_move_the_cluster_queued_is_not_called_not_arrived(hvsim_cluster):
    hvsim_cluster.inject("HVC-N2", "migration_limit")  # the destination's slots are full: the cluster queues the move
    hvsim_cluster.inject("HVC-N1", "drop", op=MOVE, phase="after", times=1)
    with pytest.raises(MoveFailed) as failure:
        mover_of(hvsim_cluster).move(request(lost_reply_grace_s=0.3), check_mode=False)
    message = str(failure.value)
    assert "does not say whether the move waits in its queue" in message and "the move may still start" in message
    assert "most likely did not arrive" not in message and "It was not sent again" in message
    assert [move["state"] for move in hvsim_cluster.cluster_moves()] == ["queued"]  # it did arrive


def test_a_lost_reply_to_the_pause_of_a_drained_node_asks_the_node(hvsim_cluster, migrate):
    hvsim_cluster.inject("HVC-N1", "drop", op="Invoke:Pause", phase="after", times=1)
    result = migrate(hvsim_cluster, "drain=HVC-N1")
    assert result.returncode == 0, result.stdout
    assert "Cluster node HVC-N1 is paused and drained: ready for maintenance." in result.stdout
    assert hvsim_cluster.node_state("HVC-N1")["state"] == "paused" and sent(hvsim_cluster, "Invoke:Pause") == 1


def pause_hvc_n2(sim) -> None:
    """Another drain (or an operator) pauses HVC-N2 while this drain of HVC-N1 moves its VMs there."""
    with sim.lab.lock:
        sim.lab.hosts["HVC-N2"].cluster_state = "paused"


@pytest.mark.parametrize("fault", [
    {"kind": "migration_fail", "op": MOVE, "nth": 2, "percent": 40},
    {"kind": "call", "op": MOVE, "action": None},  # the action is the paused node, set below
], ids=["a-move-fails", "its-destination-paused-by-another-drain"])
def test_a_drain_that_stops_midway_leaves_the_node_up_and_says_which_moved(hvsim_cluster, migrate, fault):
    if fault["kind"] == "call":
        fault = {**fault, "action": lambda: pause_hvc_n2(hvsim_cluster)}
    hvsim_cluster.inject("HVC-N1", times=1, **fault)
    result = migrate(hvsim_cluster, "drain=HVC-N1")
    message = task_failure(result)
    assert "did not move" in message and "MOVE FAILED" in message
    moved = {vm for vm in ("sql01", "app01", "file01") if hvsim_cluster.where(vm) != "HVC-N1"}
    assert "app01" in moved and moved != {"sql01", "app01", "file01"}  # a midway stop: some moved, not all
    for vm in moved:
        assert f"{vm}: MOVED" in result.stdout
    assert hvsim_cluster.node_state("HVC-N1")["state"] == "up" and sent(hvsim_cluster, "Invoke:Pause") == 0
    assert all(move["state"] != "queued" for move in hvsim_cluster.cluster_moves())  # nothing left behind
    assert sent(hvsim_cluster, MIGRATE) == 0
