"""gate/cluster.py: where a clustered VM may go, and why not elsewhere, from one node's view of its cluster."""

from __future__ import annotations

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import cluster
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import decision
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate.request import Request
from ansible_collections.vmgate.hyperv.tests.unit.plugins.plugin_utils.helpers import SUBSET, vec

SQL01 = "5B1C2D3E-0000-4000-8000-000000000001"
FILE01 = "5B1C2D3E-0000-4000-8000-000000000002"
VIEW = {
    "name": "HVC",
    "nodes": {"HVC-N1": {"state": "up"}, "HVC-N2": {"state": "up"}, "HVC-N3": {"state": "up"},
              "HVC-N4": {"state": "paused"}},
    "vms": {
        SQL01: {"resource": "Virtual Machine sql01", "group": "sql01", "owner_node": "HVC-N1", "state": "online",
                "migration_state": "none", "possible_owners": ["HVC-N1", "HVC-N2", "HVC-N3", "HVC-N4"],
                "preferred_owners": []},
        FILE01: {"resource": "Virtual Machine file01", "group": "file01", "owner_node": "HVC-N1", "state": "online",
                 "migration_state": "none", "possible_owners": ["HVC-N1", "HVC-N2"], "preferred_owners": ["HVC-N2"]},
    },
}
INVENTORY = ["hvc-n1.lab.example", "HVC-N2", "hvc-n3", "HV-SA-01"]


def test_a_vm_is_clustered_by_its_guid_without_case_or_braces():
    assert cluster.clustered(VIEW, "{" + SQL01.lower() + "}")["group"] == "sql01"
    assert cluster.clustered(VIEW, "00000000-0000-4000-8000-000000000009") is None
    assert cluster.clustered(None, SQL01) is None  # a standalone host
    assert cluster.clustered(VIEW, None) is None


def test_the_owner_of_a_role_is_a_hint_where_to_look_for_the_vm():
    assert cluster.owner_of(VIEW, "SQL01") == "HVC-N1"  # its group's name, case aside
    assert cluster.owner_of(VIEW, "{" + FILE01.lower() + "}") == "HVC-N1"
    assert cluster.owner_of(VIEW, " sql01") is None  # nothing trimmed
    assert cluster.owner_of(VIEW, "web01") is None
    assert cluster.owner_of({"name": "HVC", "nodes": {}}, "sql01") is None


def test_nodes_are_matched_to_inventory_hosts_by_name_first_label_or_computer_name():
    assert cluster.node_name(VIEW, "hvc-n1.lab.example") == "HVC-N1"
    assert cluster.node_name(VIEW, "HVC-N2") == "HVC-N2"
    assert cluster.node_name(VIEW, "hv-sa-01") is None
    assert cluster.node_name(VIEW, "10.0.0.7", computer_name="hvc-n3") == "HVC-N3"  # named by address in the inventory
    assert cluster.node_name(VIEW, "HVC-N1x") is None  # a prefix is not a match
    assert cluster.node_hosts(VIEW, INVENTORY) == {"HVC-N1": "hvc-n1.lab.example", "HVC-N2": "HVC-N2", "HVC-N3": "hvc-n3"}


def test_default_candidates_are_the_other_nodes_of_the_cluster_in_the_inventory():
    role = VIEW["vms"][SQL01]
    # HVC-N4 (paused, not in the inventory) and file01's non-owner HVC-N3 stay out of the hosts asked about only
    # where the inventory lacks them: the cluster's refusals are reasons of the decision (node_problem)
    assert cluster.default_candidates(VIEW, role, INVENTORY) == (["HVC-N2", "hvc-n3"], ["HVC-N4"])
    assert cluster.default_candidates(VIEW, VIEW["vms"][FILE01], INVENTORY) == (["HVC-N2", "hvc-n3"], ["HVC-N4"])
    assert cluster.default_candidates(VIEW, role, ["HVC-N2"]) == (["HVC-N2"], ["HVC-N3", "HVC-N4"])
    assert cluster.default_candidates(VIEW, {**role, "owner_node": "hvc-n2"}, INVENTORY) == (
        ["hvc-n1.lab.example", "hvc-n3"], ["HVC-N4"])  # the owner, case aside, is never its own candidate


def test_node_problems_name_the_cause_and_the_remedy():
    role = VIEW["vms"][FILE01]
    assert cluster.node_problem(VIEW, role, "file01", "HVC-N2") is None
    assert cluster.node_problem(VIEW, role, "file01", "hvc-n3") == (
        "hvc-n3 is not a possible owner of file01 in cluster HVC (its possible owners: HVC-N1, HVC-N2). Add it "
        "(Set-ClusterOwnerNode) or choose one of them.")
    assert cluster.node_problem(VIEW, VIEW["vms"][SQL01], "sql01", "HVC-N4").startswith(
        "HVC-N4 is paused in cluster HVC (Suspend-ClusterNode): it takes no roles. Resume it (Resume-ClusterNode)")
    assert cluster.node_problem(VIEW, role, "file01", "HV-SA-01") == (
        "HV-SA-01 is not a node of cluster HVC, where file01 is a clustered role (group file01). A clustered VM moves "
        "within its cluster, through the cluster: choose one of its nodes (HVC-N1, HVC-N2, HVC-N3, HVC-N4), or remove "
        "the role from the cluster first.")
    down = {**VIEW, "nodes": {**VIEW["nodes"], "HVC-N2": {"state": "down"}}}
    assert cluster.node_problem(down, role, "file01", "HVC-N2") == (
        "HVC-N2 is down in cluster HVC: bring it up or choose another node.")


def test_the_summary_carries_the_nodes_and_the_baseline_of_the_nodes_read():
    vectors = {"HVC-N2": [vec(1, SUBSET, 0xFF)], "HVC-N3": [vec(1, SUBSET, 0x0F)], "HVC-N1": None}
    summary = cluster.summary(VIEW, VIEW["vms"][SQL01], vectors)
    assert summary["nodes"] == {"HVC-N1": "up", "HVC-N2": "up", "HVC-N3": "up", "HVC-N4": "paused"}
    assert (summary["name"], summary["group"], summary["owner_node"]) == ("HVC", "sql01", "HVC-N1")
    assert summary["baseline_nodes"] == ["HVC-N2", "HVC-N3"]
    assert summary["baseline"] == [vec(1, SUBSET, 0x0F)]  # Subset: the features both have
    assert cluster.summary(VIEW, VIEW["vms"][SQL01])["baseline"] is None


def test_a_node_the_cluster_refuses_is_a_reason_of_its_own_and_is_not_asked_about():
    request = Request(vm="file01", source="HVC-N1", destination="hvc-n3", candidates=None, search_hosts=())
    vectors = [vec(1, SUBSET, 1)]
    hosts = {"hvc-n3": {"name": "HVC-N3", "vectors": vectors,
                        "migration_service": {"live_migration_enabled": True, "max_vm_migrations": 2,
                                              "active_vm_migrations": 0, "listener_addresses": ["10.0.2.3"]}}}
    problem = cluster.node_problem(VIEW, VIEW["vms"][FILE01], "file01", "hvc-n3")
    assessment = decision.assess(request, "HVC-N1", vectors, hosts, {}, {"hvc-n3": [("cluster", problem)]})
    assert assessment[0]["usable"] is False
    assert [(item["check"], item["message"]) for item in assessment[0]["reasons"]] == [("cluster", problem)]
    assert decision.hosts_to_ask(request, assessment, None) == []  # Hyper-V is not asked where the cluster says no
