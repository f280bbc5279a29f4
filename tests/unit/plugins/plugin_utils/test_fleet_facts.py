# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""fleet_facts(): compat_facts of several hosts into {hosts, vms}, no VM hiding another, no address kept."""

from __future__ import annotations

import pytest

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.fleet import fleet_report
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.fleet_facts import fleet_facts
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.vectors import VectorInputError
from ansible_collections.vmgate.hyperv.tests.unit.plugins.plugin_utils.helpers import SUBSET, vec

SMALL, BIG = [vec(1, SUBSET, 1)], [vec(1, SUBSET, 3)]
NO_MEMORY = {"total_mb": None, "free_mb": None, "logical_processors": None}  # facts gathered without the memory part


def host_facts(vectors, *vms, enabled=True):
    return {
        "gathered_at": "2026-11-21T08:15:02+00:00",
        "host": {"name": "HV", "endpoint": "https://hv:5986/wsman", "vectors": vectors,
                 "migration_service": {"live_migration_enabled": enabled, "listener_addresses": ["10.0.0.1", "10.0.1.1"],
                                       "active_vm_migrations": 1, "max_vm_migrations": 2, "selectors": {"Name": "x"}}},
        "vms": [{"id": vm_id, "name": name, "state": 2, "state_name": "Running", "configuration_version": "10.0",
                 "vectors": SMALL} for name, vm_id in vms],
    }


def test_hosts_and_vms_keep_names_ids_states_vectors_and_live_migration_state_only():
    fleet = fleet_facts({"hv02": host_facts(BIG, ("db01", "ID-2"), enabled=False), "hv01": host_facts(SMALL, ("web01", "ID-1"))})
    migration = {"live_migration_enabled": True, "networks": 2, "active_vm_migrations": 1, "max_vm_migrations": 2}
    assert fleet == {
        "hosts": {"hv01": {"vectors": SMALL, "migration": migration, "cluster": None, "memory": NO_MEMORY},
                  "hv02": {"vectors": BIG, "migration": dict(migration, live_migration_enabled=False), "cluster": None,
                           "memory": NO_MEMORY}},
        "vms": {
            "web01": {"name": "web01", "id": "ID-1", "host": "hv01", "state": "Running", "vectors": SMALL, "cluster": None,
                      "needed_mb": None, "virtual_processors": None},
            "db01": {"name": "db01", "id": "ID-2", "host": "hv02", "state": "Running", "vectors": SMALL, "cluster": None,
                     "needed_mb": None, "virtual_processors": None},
        },
    }
    assert "10.0.0.1" not in repr(fleet) and "wsman" not in repr(fleet)
    report = fleet_report(fleet)
    assert report["summary"]["compatible_pairs"] == 4 and report["summary"]["hosts_not_receiving"] == ["hv02"]
    details = dict(report["host_details"][1])
    assert details.pop("memory")["free_mb"] is None and details.pop("vm_memory")[0]["needed_mb"] is None
    assert details == {"name": "hv02", "group": 2, "live_migration_enabled": False, "networks": 2,
                       "active_vm_migrations": 1, "max_vm_migrations": 2, "receives": False, "cluster": None, "vms": ["db01"]}


def test_vms_sharing_a_name_are_keyed_by_their_id_and_one_vm_seen_twice_by_its_host():
    fleet = fleet_facts({
        "hv01": host_facts(SMALL, ("app01", "ID-A"), ("solo", "ID-S"), ("moving", "ID-M")),
        "hv02": host_facts(SMALL, ("app01", "ID-B"), ("moving", "ID-M")),  # mid-migration: both hosts report it
    })
    assert sorted(fleet["vms"]) == ["app01 (ID-A)", "app01 (ID-B)", "moving (ID-M) on hv01", "moving (ID-M) on hv02", "solo"]
    assert fleet["vms"]["app01 (ID-B)"]["host"] == "hv02" and fleet["vms"]["app01 (ID-B)"]["name"] == "app01"


def test_a_host_without_vms_is_a_column_all_the_same():
    fleet = fleet_facts({"hv01": {"host": {"vectors": SMALL}, "vms": []}, "hv02": {"host": {"vectors": BIG}}})
    assert fleet == {"hosts": {"hv01": {"vectors": SMALL, "cluster": None, "memory": NO_MEMORY},
                               "hv02": {"vectors": BIG, "cluster": None, "memory": NO_MEMORY}}, "vms": {}}


@pytest.mark.parametrize(
    ("facts", "message"),
    [
        ([], "facts_by_host: expected a mapping of inventory host name to its hyperv_compat facts, got list"),
        ({"hv01": None}, "facts_by_host['hv01']: expected the hyperv_compat facts of compat_facts, got NoneType"),
        ({"hv01": {"vms": []}}, "facts_by_host['hv01'].host: expected the host's facts, got NoneType"),
        ({"hv01": {"host": {}}}, "facts_by_host['hv01'].host.vectors: missing"),
        ({"hv01": {"host": {"vectors": []}, "vms": "web01"}}, "facts_by_host['hv01'].vms: expected a list of VMs"),
        ({"hv01": {"host": {"vectors": []}, "vms": [{"state": 2}]}}, "facts_by_host['hv01'].vms[0]: has neither a name nor an id"),
    ],
)
def test_bad_facts_are_an_error_naming_where(facts, message):
    with pytest.raises(VectorInputError) as error:
        fleet_facts(facts)
    assert str(error.value).startswith(message)


def cluster_facts(vectors, node, *roles, state="up", cluster="HVC"):
    """compat_facts of a cluster node (gather_subset with cluster): each role a (VM name, id, possible owners)."""
    facts = host_facts(vectors, *((name, vm_id) for name, vm_id, _owners in roles))
    facts["host"]["cluster_node"] = True
    facts["host"]["cluster"] = {"name": cluster, "node": node, "nodes": {
        "HVC-N1": {"state": "up", "drain_status": "not initiated"},
        node: {"state": state, "drain_status": "completed" if state == "paused" else "not initiated"}}}
    for vm, (name, _vm_id, owners) in zip(facts["vms"], roles):
        vm["cluster"] = {"cluster": cluster, "group": f"group {name}", "resource": f"Virtual Machine {name}",
                         "owner_node": node, "state": "online", "migration_state": "none",
                         "possible_owners": owners, "preferred_owners": [node]}
    return facts


def test_a_cluster_node_keeps_its_cluster_node_and_state_and_a_vm_its_role():
    standalone = host_facts(SMALL, ("web02", "ID-W"))
    standalone["host"].update(cluster_node=False, cluster=None)
    standalone["vms"][0]["cluster"] = None
    fleet = fleet_facts({
        "hvc-n2.lab": cluster_facts(BIG, "HVC-N2", ("sql01", "ID-S", ["HVC-N1", "HVC-N2"]), state="paused"),
        "hv-sa": standalone,
    })
    assert fleet["hosts"]["hvc-n2.lab"]["cluster"] == {"name": "HVC", "node": "HVC-N2", "state": "paused"}
    assert fleet["vms"]["sql01"]["cluster"] == {"cluster": "HVC", "group": "group sql01", "owner_node": "HVC-N2",
                                                "possible_owners": ["HVC-N1", "HVC-N2"]}
    assert fleet["hosts"]["hv-sa"]["cluster"] is None and fleet["vms"]["web02"]["cluster"] is None
    assert "preferred" not in repr(fleet) and "Virtual Machine" not in repr(fleet) and "drain" not in repr(fleet)
    assert "10.0.0.1" not in repr(fleet) and "wsman" not in repr(fleet)


def test_facts_without_cluster_keys_give_null_and_a_report_without_clusters():
    old = host_facts(SMALL, ("web01", "ID-1"))
    assert "cluster" not in old["host"] and "cluster" not in old["vms"][0]
    fleet = fleet_facts({"hv01": old})
    assert fleet["hosts"]["hv01"]["cluster"] is None and fleet["vms"]["web01"]["cluster"] is None
    report = fleet_report(fleet)
    assert report["clusters"] == [] and report["standalone_hosts"] == ["hv01"] and report["summary"]["clusters"] == 0


def test_possible_owners_are_node_names_mapped_to_inventory_names():
    # inventory names are FQDNs, the cluster names its nodes: the report says which inventory host a role cannot run on
    node1 = cluster_facts(BIG, "HVC-N1", ("sql01", "ID-S", ["HVC-N1", "hvc-n2"]))
    node1["vms"][0]["vectors"] = BIG
    fleet = fleet_facts({"hvc-n1.lab": node1, "hvc-n2.lab": cluster_facts(SMALL, "HVC-N2")})
    (cluster,) = fleet_report(fleet)["clusters"]
    assert [(host["name"], host["node"], host["state"]) for host in cluster["hosts"]] == [
        ("hvc-n1.lab", "HVC-N1", "up"), ("hvc-n2.lab", "HVC-N2", "up")]
    assert cluster["blocked_roles"] == [{
        "vm": "sql01", "group": "group sql01", "host": "hvc-n1.lab", "owner_node": "HVC-N1",
        "cannot_run_on": ["hvc-n2.lab"], "can_move_to": [], "owners_not_in_report": [],
    }]


def memory_facts(free_mb, *vms):
    """compat_facts with the memory part: each VM a (name, id, state name, needed_mb, virtual processors)."""
    facts = host_facts(SMALL, *((name, vm_id) for name, vm_id, *_rest in vms))
    facts["host"]["memory"] = {"total_mb": 65536, "free_mb": free_mb, "logical_processors": 56}
    for vm, (_name, _vm_id, state, needed, processors) in zip(facts["vms"], vms):
        vm.update(state_name=state, virtual_processors=processors,
                  memory={"assigned_mb": needed if state == "Running" else None, "startup_mb": 4096, "minimum_mb": 4096,
                          "maximum_mb": 4096, "dynamic": False, "needed_mb": needed})
    return facts


def test_memory_is_kept_a_hosts_figures_and_a_vms_demand_and_processors_only():
    fleet = fleet_facts({"hv01": memory_facts(6144, ("web01", "ID-1", "Running", 8192, 2), ("off01", "ID-2", "Off", 32768, 4))})
    assert fleet["hosts"]["hv01"]["memory"] == {"total_mb": 65536, "free_mb": 6144, "logical_processors": 56}
    assert fleet["vms"]["web01"]["needed_mb"] == 8192 and fleet["vms"]["web01"]["virtual_processors"] == 2
    assert fleet["vms"]["off01"]["needed_mb"] == 32768
    assert "assigned_mb" not in repr(fleet) and "startup_mb" not in repr(fleet)
    host = fleet_report(fleet, memory_reserve_mb=1024)["host_details"][0]
    assert host["memory"] == {"total_mb": 65536, "free_mb": 6144, "logical_processors": 56, "reserve_mb": 1024,
                              "for_vms_mb": 5120, "vms_mb": 8192, "vms_not_read": [], "vms_off_mb": 32768,
                              "virtual_processors": 2}
    assert host["vm_memory"] == [{"name": "off01", "needed_mb": 32768, "holds": False, "virtual_processors": 4},
                                 {"name": "web01", "needed_mb": 8192, "holds": True, "virtual_processors": 2}]


def test_facts_with_the_memory_part_left_out_give_null_figures():
    facts = memory_facts(6144, ("web01", "ID-1", "Running", 8192, 2))
    facts["host"]["memory"] = {"total_mb": None, "free_mb": None, "logical_processors": None}  # gather_subset: '!memory'
    facts["vms"][0].update(memory=dict.fromkeys(("assigned_mb", "needed_mb")), virtual_processors=None)
    fleet = fleet_facts({"hv01": facts})
    assert fleet["hosts"]["hv01"]["memory"] == NO_MEMORY and fleet["vms"]["web01"]["needed_mb"] is None
    memory = fleet_report(fleet)["host_details"][0]["memory"]
    assert memory["for_vms_mb"] is None and memory["vms_mb"] == 0 and memory["vms_not_read"] == ["web01"]
