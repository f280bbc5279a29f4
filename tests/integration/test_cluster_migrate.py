"""Clustered VMs through playbooks/migrate.yml against hvsim's cluster lab (tests/hvsim/labs/cluster.yml): three nodes
of cluster HVC (HVC-N3 without AVX-512), a standalone host HV-SA-01. A clustered VM is gated across its cluster's
nodes and moved through the cluster (MSCluster_ResourceGroup.MoveToNewNodeParams), never with Hyper-V's
MigrateVirtualSystemToHost; a VM that is not clustered moves as any other; a node is drained whole or not at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hvsim.pytest_fixtures import hvsim_cluster, hvsim_cluster_session  # noqa: F401  pylint: disable=unused-import
from integration.ansible_output import task_failure
from integration.lab_inventory import write_inventory

ROOT = Path(__file__).resolve().parents[2]
MIGRATE = "Invoke:MigrateVirtualSystemToHost"
LIVE, BACK_TO_SOURCE_QUEUED_FIRST = 4, 14
pytestmark = pytest.mark.every_core  # each playbook test runs on ansible-core 2.19 and 2.16 (conftest.py)


@pytest.fixture
def migrate(run_playbook, tmp_path, monkeypatch):
    monkeypatch.setenv("ANSIBLE_SHOW_CUSTOM_STATS", "1")

    def run(sim, *extra: str, playbook: str = "migrate.yml"):
        sim.reset_counters()
        args = [arg for pair in (("-e", item) for item in extra if not item.startswith("-")) for arg in pair]
        args += [item for item in extra if item.startswith("-")]
        return run_playbook(ROOT / "playbooks" / playbook, "-i", write_inventory(sim, tmp_path / "hosts.yml"),
                            "-e", "limit_poll=0.2", *args)

    return run


def decisions(result) -> dict:
    line = next(line for line in result.stdout.splitlines() if line.strip().startswith("RUN: "))
    return json.loads(line.split("RUN: ", 1)[1])["migration_gate_decisions"]


def requests(sim) -> int:
    return sum(count for host in sim.hosts for operation, count in sim.counters(host).items() if ":" in operation)


def sent(sim, operation: str) -> int:
    return sum(sim.counters(host).get(operation, 0) for host in sim.hosts)


def test_a_clustered_vm_is_blocked_from_a_node_without_its_processor_features(hvsim_cluster, migrate):
    result = migrate(hvsim_cluster, "vm=sql01", "destination=HVC-N3", "mode=gate")
    message = task_failure(result)
    assert message.startswith("BLOCKED: sql01 may not move from HVC-N1 to HVC-N3")
    assert "[vectors] The VM uses ProcessorFeatures (vector 1) bits the host lacks" in message
    assert "Cluster: a role of HVC (group sql01, owned by HVC-N1)" in message
    decision = decisions(result)["sql01"]
    assert decision["cluster"]["name"] == "HVC" and decision["cluster"]["owner_node"] == "HVC-N1"
    # the destination's cluster says where the VM runs (no search): 12 requests, and 2 more to weigh room (the VM's
    # memory on its source, the destination's free memory)
    assert requests(hvsim_cluster) <= 14
    assert hvsim_cluster.cluster_moves() == [] and sent(hvsim_cluster, MIGRATE) == 0


def test_a_clustered_vm_moves_through_the_cluster_and_never_with_hyper_v(hvsim_cluster, migrate):
    result = migrate(hvsim_cluster, "vm=sql01", "destination=HVC-N2")
    assert result.returncode == 0, result.stdout
    assert "sql01: MOVED from HVC-N1 to HVC-N2" in result.stdout
    [move] = hvsim_cluster.cluster_moves()
    assert (move["method"], move["group"], move["destination"], move["state"]) == (
        "MoveToNewNodeParams", "sql01", "HVC-N2", "completed")
    assert move["properties"] == {"Virtual Machine": LIVE, "Virtual Machine Configuration": LIVE}
    assert move["flags"] == BACK_TO_SOURCE_QUEUED_FIRST
    assert hvsim_cluster.cluster_group("sql01")["owner_node"] == "HVC-N2" and hvsim_cluster.where("sql01") == "HVC-N2"
    assert sent(hvsim_cluster, MIGRATE) == 0 and hvsim_cluster.cluster_violations() == []
    decision = decisions(result)["sql01"]
    assert decision["moved"] and decision["move"]["final"]["host"] == "HVC-N2"


def test_a_clustered_vm_may_not_leave_its_cluster(hvsim_cluster, migrate):
    message = task_failure(migrate(hvsim_cluster, "vm=sql01", "destination=HV-SA-01"))
    assert ("[cluster] HV-SA-01 is not a node of cluster HVC, where sql01 is a clustered role (group sql01). A "
            "clustered VM moves within its cluster, through the cluster") in message
    assert hvsim_cluster.where("sql01") == "HVC-N1" and sent(hvsim_cluster, MIGRATE) == 0


def test_a_node_outside_the_possible_owners_blocks(hvsim_cluster, migrate):
    message = task_failure(migrate(hvsim_cluster, "vm=file01", "destination=HVC-N3", "mode=gate"))
    assert "[cluster] HVC-N3 is not a possible owner of file01 in cluster HVC (its possible owners: HVC-N1, HVC-N2)" \
        in message
    assert "CheckSystemCompatibilityInfo" not in str(hvsim_cluster.counters("HVC-N3"))  # Hyper-V not asked there


def test_a_paused_node_blocks_with_the_remedy(hvsim_cluster, migrate):
    hvsim_cluster.set_node_state("HVC-N2", "paused")
    message = task_failure(migrate(hvsim_cluster, "vm=sql01", "destination=HVC-N2", "mode=gate"))
    assert "[cluster] HVC-N2 is paused in cluster HVC (Suspend-ClusterNode): it takes no roles. Resume it" in message


def test_without_a_destination_a_clustered_vm_chooses_among_its_clusters_other_nodes(hvsim_cluster, migrate):
    result = migrate(hvsim_cluster, "vm=sql01", "mode=gate")
    assert result.returncode == 0, result.stdout
    decision = decisions(result)["sql01"]
    assert decision["destination"] == "HVC-N2"
    assert {item["host"] for item in decision["selection"]} == {"HVC-N2", "HVC-N3"}  # not HV-SA-01, not itself
    # the baseline of every node read (the source's too): what a VM must fit to run anywhere in the cluster
    assert decision["cluster"]["baseline_nodes"] == ["HVC-N1", "HVC-N2", "HVC-N3"] and decision["cluster"]["baseline"]


def test_a_vm_on_a_node_that_is_not_clustered_moves_with_hyper_v(hvsim_cluster, migrate):
    result = migrate(hvsim_cluster, "vm=tools01", "destination=HVC-N1")
    assert result.returncode == 0, result.stdout
    assert decisions(result)["tools01"]["cluster"] is None
    assert hvsim_cluster.where("tools01") == "HVC-N1"
    assert sent(hvsim_cluster, MIGRATE) == 1 and hvsim_cluster.cluster_moves() == []


def test_a_node_drain_moves_every_vm_through_the_cluster_then_pauses_it(hvsim_cluster, migrate):
    result = migrate(hvsim_cluster, "drain=HVC-N1")
    assert result.returncode == 0, result.stdout
    assert "Drain HVC-N1: 3 running VMs; 3 can move, 0 can go nowhere." in result.stdout
    assert {move["vm"] for move in hvsim_cluster.cluster_moves() if move["drain_of"] is None} == {"sql01", "app01", "file01"}
    assert hvsim_cluster.where("sql01") == "HVC-N2" and hvsim_cluster.where("file01") == "HVC-N2"  # where each fits
    assert "Cluster node HVC-N1 is paused and drained: ready for maintenance." in result.stdout
    assert hvsim_cluster.node_state("HVC-N1")["state"] == "paused"
    assert sent(hvsim_cluster, MIGRATE) == 0


def test_a_node_drain_with_a_vm_that_can_go_nowhere_moves_nothing(hvsim_cluster, migrate):
    hvsim_cluster.set_node_state("HVC-N2", "paused")  # sql01 fits only HVC-N2, file01 may run on N1 and N2 only
    result = migrate(hvsim_cluster, "drain=HVC-N1")
    message = task_failure(result)
    assert "a cluster node is drained whole or not at all, and sql01, file01 can go nowhere" in result.stdout
    assert "[cluster] HVC-N2 is paused in cluster HVC" in message
    assert "[cluster] HVC-N3 is not a possible owner of file01" in message
    assert hvsim_cluster.cluster_moves() == [] and hvsim_cluster.node_state("HVC-N1")["state"] == "up"


def test_a_node_drain_in_check_mode_plans_and_sends_nothing(hvsim_cluster, migrate):
    result = migrate(hvsim_cluster, "drain=HVC-N1", "--check")
    assert result.returncode == 0, result.stdout
    assert "  sql01 -> HVC-N2" in result.stdout and "would now be paused with drain" in result.stdout
    assert hvsim_cluster.cluster_moves() == [] and hvsim_cluster.node_state("HVC-N1")["state"] == "up"
    assert sent(hvsim_cluster, "Invoke:Pause") == 0


def test_a_cluster_move_that_fails_is_reported_with_the_vm_back_on_its_node(hvsim_cluster, migrate):
    hvsim_cluster.inject("HVC-N1", "migration_fail", op="Invoke:MoveToNewNodeParams", percent=40, times=1)
    result = migrate(hvsim_cluster, "vm=sql01", "destination=HVC-N2")
    message = task_failure(result)
    assert "MOVE FAILED" in message and "it is still on HVC-N1, where the cluster returned it" in message
    assert hvsim_cluster.where("sql01") == "HVC-N1" and hvsim_cluster.cluster_group("sql01")["owner_node"] == "HVC-N1"
    assert len(hvsim_cluster.cluster_moves()) == 1  # never sent again


def test_a_lost_reply_to_the_cluster_move_is_followed_not_sent_again(hvsim_cluster, migrate):
    hvsim_cluster.inject("HVC-N1", "drop", op="Invoke:MoveToNewNodeParams", phase="after", times=1)
    result = migrate(hvsim_cluster, "vm=sql01", "destination=HVC-N2")
    assert result.returncode == 0, result.stdout
    decision = decisions(result)["sql01"]
    assert decision["moved"] and "reply was lost" in decision["move"]["msg"] and "not sent again" in decision["move"]["msg"]
    assert [move["state"] for move in hvsim_cluster.cluster_moves()] == ["completed"]
    assert hvsim_cluster.where("sql01") == "HVC-N2"
