# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report's content: the matrix, the baseline, host groups that no VM can tell apart, the summary."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.compat import report
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.fleet import compat_groups, fleet_report
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.vectors import VectorInputError
from ansible_collections.vmgate.hyperv.tests.unit.plugins.plugin_utils.helpers import (
    DETERMINISTIC,
    EQUAL,
    SUBSET,
    canonical,
    vec,
    vector_lists,
)

GEN1 = [vec(1, SUBSET, 0x3FFFFFFFFF), vec(2, SUBSET, 7), vec(3, EQUAL, 64)]
GEN2 = [vec(1, SUBSET, 0xFFFFFFFFFFF), vec(2, SUBSET, 231), vec(3, EQUAL, 64)]
HOSTS = {"hv-gen2-a": GEN2, "hv-gen1-b": GEN1, "hv-gen1-a": GEN1, "hv-gen2-b": GEN2, "hv-odd": [vec(1, SUBSET, 1)]}
VMS = {
    "web01": {"host": "hv-gen2-a", "state": "Running", "vectors": GEN2},
    "legacy01": {"host": "hv-gen1-a", "vectors": [vec(1, SUBSET, 0xFFFFFF), vec(2, SUBSET, 3), vec(3, EQUAL, 64)]},
    "Zeta": [vec(1, SUBSET, 1)],  # a bare vector list, no host known
    "lost01": {"host": "hv-gen1-a", "vectors": [vec(9, EQUAL, 1)]},  # fits nowhere, not even where it runs
}


def test_hosts_with_the_same_values_form_one_group_the_largest_first():
    groups = compat_groups(HOSTS)
    assert [group["hosts"] for group in groups] == [["hv-gen1-a", "hv-gen1-b"], ["hv-gen2-a", "hv-gen2-b"], ["hv-odd"]]
    assert groups[0]["vectors"][0] == {
        "vector_id": 1, "name": "ProcessorFeatures", "compare_operation": SUBSET, "operation": "Subset",
        "compatibility_info": 0x3FFFFFFFFF, "hex": "0x3FFFFFFFFF",
    }


def test_a_host_operation_does_not_split_a_group_but_a_missing_id_does():
    # check() reads only the host's values, so the operation a host reports changes no verdict.
    groups = compat_groups({"a": [vec(1, SUBSET, 7)], "b": [vec(1, EQUAL, 7)], "c": [vec(1, SUBSET, 7), vec(4, EQUAL, 0)]})
    assert [group["hosts"] for group in groups] == [["a", "b"], ["c"]]


@settings(DETERMINISTIC, max_examples=300)
@given(hosts=st.dictionaries(st.sampled_from("abcdef"), vector_lists(min_size=1, max_size=3), min_size=1),
       vms=st.lists(vector_lists(max_size=3), max_size=6))
def test_no_vm_tells_the_hosts_of_a_group_apart_and_some_vm_tells_groups_apart(hosts, vms):
    groups = [group["hosts"] for group in compat_groups(hosts)]
    assert sorted(name for names in groups for name in names) == sorted(hosts)
    for names in groups:
        for vm in vms:
            assert len({report(vm, hosts[name])["compatible"] for name in names}) == 1
    values = [{entry["vector_id"]: entry["compatibility_info"] for entry in map(canonical, hosts[names[0]])} for names in groups]
    for index, first in enumerate(values):
        for second in values[index + 1:]:
            # a VM asking for one host's exact value on an id where they differ fits one and not the other
            vector_id = next(key for key in sorted(set(first) | set(second)) if first.get(key) != second.get(key))
            witness = [vec(vector_id, EQUAL, first.get(vector_id, second.get(vector_id)))]
            verdicts = {
                report(witness, [vec(key, EQUAL, value) for key, value in side.items()])["compatible"]
                for side in (first, second)
            }
            assert verdicts == {True, False}


def test_the_matrix_has_one_cell_per_host_in_column_order_agreeing_with_report():
    fleet = fleet_report({"hosts": HOSTS, "vms": VMS})
    assert fleet["hosts"] == ["hv-gen1-a", "hv-gen1-b", "hv-gen2-a", "hv-gen2-b", "hv-odd"]
    assert fleet["host_group"] == {"hv-gen1-a": 1, "hv-gen1-b": 1, "hv-gen2-a": 2, "hv-gen2-b": 2, "hv-odd": 3}
    assert [vm["name"] for vm in fleet["vms"]] == ["legacy01", "lost01", "web01", "Zeta"]  # case-insensitive order
    vectors = {name: value["vectors"] if isinstance(value, dict) else value for name, value in VMS.items()}
    for vm in fleet["vms"]:
        assert [cell["host"] for cell in vm["cells"]] == fleet["hosts"]
        for cell in vm["cells"]:
            expected = report(vectors[vm["name"]], HOSTS[cell["host"]])
            assert cell["compatible"] is expected["compatible"] and cell["reasons"] == expected["reasons"]
            assert cell["current"] is (cell["host"] == vm["host"])
    web01 = next(vm for vm in fleet["vms"] if vm["name"] == "web01")
    assert web01["state"] == "Running" and web01["compatible_hosts"] == ["hv-gen2-a", "hv-gen2-b"]
    assert web01["roams"] is False
    zeta = next(vm for vm in fleet["vms"] if vm["name"] == "Zeta")
    assert zeta["host"] is None and not any(cell["current"] for cell in zeta["cells"])
    assert zeta["compatible_hosts"][0] == "hv-odd"  # the closest fit first, as rank_hosts orders


def test_baseline_roaming_and_the_summary():
    fleet = fleet_report({"hosts": HOSTS, "vms": VMS})
    assert fleet["baseline"] == [{"vector_id": 1, "name": "ProcessorFeatures", "compare_operation": SUBSET,
                                  "operation": "Subset", "compatibility_info": 1, "hex": "0x1"}]
    assert fleet["summary"] == {
        "vms": 4, "hosts": 5, "groups": 3, "clusters": 0, "pairs": 20,
        "compatible_pairs": 4 + 0 + 2 + 5,  # legacy01, lost01, web01, Zeta
        "roaming_vms": ["Zeta"],
        "vms_without_host": ["lost01"],
        "pinned_vms": ["lost01"],
        "hosts_not_receiving": [],  # the facts say nothing about the migration service: not counted
    }
    assert fleet["host_details"][0] == {
        "name": "hv-gen1-a", "group": 1, "live_migration_enabled": None, "networks": None,
        "active_vm_migrations": None, "max_vm_migrations": None, "receives": None, "cluster": None,
        "vms": ["legacy01", "lost01"],
    }
    assert [group["vms"] for group in fleet["groups"]] == [["legacy01", "Zeta"], ["legacy01", "web01", "Zeta"], ["Zeta"]]


def test_blocked_pairs_are_listed_once_per_vm_vectors_and_host_group():
    vms = {"web02": GEN2, "web01": GEN2, "db01": {"host": "hv-gen2-a", "vectors": GEN2}, "tiny": [vec(1, SUBSET, 1)]}
    fleet = fleet_report({"hosts": HOSTS, "vms": vms})
    blocked = fleet["blocked"]
    # three VMs with GEN2's vectors fail group 1 (both gen1 hosts) and group 3 (hv-odd) for the same reasons
    assert [(entry["vms"], entry["group"], entry["hosts"]) for entry in blocked] == [
        (["db01", "web01", "web02"], 1, ["hv-gen1-a", "hv-gen1-b"]),
        (["db01", "web01", "web02"], 3, ["hv-odd"]),
    ]
    assert blocked[0]["short"] == [
        "The VM uses ProcessorFeatures (vector 1) bits the host lacks: 0xFC000000000 (bits 38, 39, 40, 41, 42, 43).",
        "The VM uses ProcessorXSave (vector 2) bits the host lacks: 0xE0 (bits 5, 6, 7).",
    ]
    for row in fleet["vms"]:
        for cell in row["cells"]:
            if cell["compatible"]:
                assert cell["blocked"] is None
            else:
                entry = blocked[cell["blocked"] - 1]
                assert row["name"] in entry["vms"] and cell["host"] in entry["hosts"] and entry["reasons"] == cell["reasons"]


def test_a_vm_that_fits_only_its_own_host_is_pinned():
    hosts = {"a": [vec(1, SUBSET, 3)], "b": [vec(1, SUBSET, 1)]}
    fleet = fleet_report({"hosts": hosts, "vms": {"big": {"host": "a", "vectors": [vec(1, SUBSET, 3)]}}})
    assert fleet["summary"]["pinned_vms"] == ["big"] and fleet["summary"]["vms_without_host"] == []


@pytest.mark.parametrize(
    ("migration", "receives"),
    [({"live_migration_enabled": True, "networks": 1}, True), ({"live_migration_enabled": False, "networks": 1}, False),
     ({"live_migration_enabled": True, "networks": 0}, False), ({"live_migration_enabled": None}, None), (None, None)],
)
def test_a_host_receives_live_migrations_when_enabled_with_a_network(migration, receives):
    fleet = fleet_report({"hosts": {"a": {"vectors": GEN1, "migration": migration}}, "vms": {}})
    assert fleet["host_details"][0]["receives"] is receives
    assert fleet["summary"]["hosts_not_receiving"] == (["a"] if receives is False else [])


def test_hosts_sharing_no_vector_have_an_empty_baseline_and_no_vm_roams():
    fleet = fleet_report({"hosts": {"a": [vec(1, SUBSET, 3)], "b": [vec(2, SUBSET, 3)]},
                          "vms": {"vm": [vec(1, SUBSET, 1)]}})
    assert fleet["baseline"] == [] and fleet["summary"]["roaming_vms"] == []


def test_an_empty_fleet_of_vms_still_reports_the_hosts():
    fleet = fleet_report({"hosts": {"a": GEN1}, "vms": {}})
    assert fleet["vms"] == [] and fleet["summary"]["pairs"] == 0 and fleet["groups"][0]["vms"] == []


@pytest.mark.parametrize(
    ("fleet", "message"),
    [
        ([], "fleet: expected a mapping with 'hosts' and 'vms'"),
        ({"hosts": {}}, "fleet: expected a mapping with 'hosts' and 'vms'"),
        ({"hosts": {}, "vms": {}}, "fleet.hosts: is empty"),
        ({"hosts": ["a"], "vms": {}}, "fleet.hosts: expected a mapping of name to vectors, got list"),
        ({"hosts": {"a": GEN1}, "vms": {"x": {"host": "a"}}}, "fleet.vms['x']: has no 'vectors'"),
        ({"hosts": {"a": GEN1}, "vms": {1: GEN1}}, "fleet.vms: key 1 is not a string name"),
        ({"hosts": {"a": GEN1}, "vms": {"x": [vec(1, 2, -1)]}}, "fleet.vms['x'].vectors[0].compatibility_info: -1 is negative"),
        ({"hosts": {"a": None}, "vms": {}}, "fleet.hosts['a'].vectors: is null"),
    ],
)
def test_bad_input_is_an_error_naming_where(fleet, message):
    with pytest.raises(VectorInputError) as error:
        fleet_report(fleet)
    assert str(error.value).startswith(message)


def test_compat_groups_names_bad_input():
    with pytest.raises(VectorInputError, match=r"^hosts\['a'\]\[0\]: missing 'vector_id'"):
        compat_groups({"a": [{}]})


def node(vectors, name, state="up", cluster="HVC"):
    """A host of a failover cluster as fleet_facts keeps it; the node's name differs from the inventory's."""
    return {"vectors": vectors, "cluster": {"name": cluster, "node": name, "state": state}}


def role(host, vectors, possible_owners=None, cluster="HVC"):
    """A clustered VM as fleet_facts keeps it; possible_owners None: not read, so every node."""
    return {"host": host, "state": "Running", "vectors": vectors,
            "cluster": {"cluster": cluster, "group": f"g-{host}", "owner_node": host.upper(), "possible_owners": possible_owners}}


CLUSTER_FLEET = {
    "hosts": {
        "n1.lab": node(GEN2, "HVC-N1"),
        "n2.lab": node(GEN2, "HVC-N2", state="paused"),  # paused (drained): a drain sends no role there
        "n3.lab": node(GEN1, "HVC-N3"),  # the older generation, without AVX-512
        "a1.lab": node(GEN1, "A1", cluster="alpha"),
        "sa.lab": {"vectors": GEN2},  # standalone: as facts without cluster keys give it
    },
    "vms": {
        "sql01": role("n1.lab", GEN2, ["HVC-N1", "HVC-N2", "HVC-N3"]),  # not on n3, and n2 is paused: stuck on n1
        "sql02": role("n2.lab", GEN2),  # every node (not read): not on n3, can go to n1
        "file01": role("n1.lab", GEN2, ["HVC-N1", "HVC-N2"]),  # its owners leave out n3: fits them all
        "app01": role("n3.lab", GEN1, ["hvc-n1", "HVC-N3", "HVC-N9"]),  # names case-insensitive; N9 is not in the report
        "tools01": {"host": "n2.lab", "vectors": GEN1, "cluster": None},  # on a node, not a role
        "batch01": role("a1.lab", GEN1, cluster="alpha"),
        "web01": {"host": "sa.lab", "vectors": GEN2},
    },
}


def test_clusters_in_name_order_with_their_nodes_states_and_roles():
    fleet = fleet_report(CLUSTER_FLEET)
    assert [cluster["name"] for cluster in fleet["clusters"]] == ["alpha", "HVC"]  # case-insensitive order
    alpha, hvc = fleet["clusters"]
    assert hvc["hosts"] == [
        {"name": "n1.lab", "node": "HVC-N1", "state": "up", "vms": ["file01", "sql01"]},
        {"name": "n2.lab", "node": "HVC-N2", "state": "paused", "vms": ["sql02"]},
        {"name": "n3.lab", "node": "HVC-N3", "state": "up", "vms": ["app01"]},
    ]
    assert hvc["vms"] == ["app01", "file01", "sql01", "sql02"] and alpha["vms"] == ["batch01"]
    assert hvc["roaming_vms"] == ["app01"] and hvc["vms_not_clustered"] == ["tools01"]
    assert fleet["standalone_hosts"] == ["sa.lab"] and fleet["summary"]["clusters"] == 2
    details = {host["name"]: host["cluster"] for host in fleet["host_details"]}
    assert details == {"n1.lab": {"name": "HVC", "node": "HVC-N1", "state": "up"},
                       "n2.lab": {"name": "HVC", "node": "HVC-N2", "state": "paused"},
                       "n3.lab": {"name": "HVC", "node": "HVC-N3", "state": "up"},
                       "a1.lab": {"name": "alpha", "node": "A1", "state": "up"}, "sa.lab": None}


def test_the_cluster_baseline_is_the_baseline_of_its_nodes_alone():
    hvc = fleet_report(CLUSTER_FLEET)["clusters"][1]
    nodes_only = fleet_report({"hosts": {name: CLUSTER_FLEET["hosts"][name] for name in ("n1.lab", "n2.lab", "n3.lab")}, "vms": {}})
    assert hvc["baseline"] == nodes_only["baseline"] == compat_groups({"gen1": GEN1})[0]["vectors"]
    two_new = fleet_report({"hosts": {"n1": node(GEN2, "N1"), "n2": node(GEN2, "N2"), "old": {"vectors": GEN1}}, "vms": {}})
    assert two_new["clusters"][0]["baseline"] == compat_groups({"gen2": GEN2})[0]["vectors"] != two_new["baseline"]


def test_roles_some_possible_owner_cannot_run_name_those_nodes_and_where_a_drain_can_send_them():
    hvc = fleet_report(CLUSTER_FLEET)["clusters"][1]
    assert hvc["blocked_roles"] == [
        {"vm": "app01", "group": "g-n3.lab", "host": "n3.lab", "owner_node": "N3.LAB",
         "cannot_run_on": [], "can_move_to": ["n1.lab"], "owners_not_in_report": ["HVC-N9"]},
        # fits both its owners, but the other one is paused: stuck if n1 is drained
        {"vm": "file01", "group": "g-n1.lab", "host": "n1.lab", "owner_node": "N1.LAB",
         "cannot_run_on": [], "can_move_to": [], "owners_not_in_report": []},
        {"vm": "sql01", "group": "g-n1.lab", "host": "n1.lab", "owner_node": "N1.LAB",
         "cannot_run_on": ["n3.lab"], "can_move_to": [], "owners_not_in_report": []},  # n2 fits but is paused
        {"vm": "sql02", "group": "g-n2.lab", "host": "n2.lab", "owner_node": "N2.LAB",
         "cannot_run_on": ["n3.lab"], "can_move_to": ["n1.lab"], "owners_not_in_report": []},
    ]
    resumed = dict(CLUSTER_FLEET, hosts=dict(CLUSTER_FLEET["hosts"], **{"n2.lab": node(GEN2, "HVC-N2")}))
    blocked = {entry["vm"]: entry for entry in fleet_report(resumed)["clusters"][1]["blocked_roles"]}
    assert sorted(blocked) == ["app01", "sql01", "sql02"] and blocked["sql01"]["can_move_to"] == ["n2.lab"]


def test_a_role_of_a_one_node_cluster_has_nowhere_to_go():
    alpha = fleet_report(CLUSTER_FLEET)["clusters"][0]
    assert alpha["roaming_vms"] == ["batch01"]
    assert [(entry["vm"], entry["cannot_run_on"], entry["can_move_to"]) for entry in alpha["blocked_roles"]] == [("batch01", [], [])]


def test_a_fleet_without_clusters_has_none_and_every_host_standalone():
    fleet = fleet_report({"hosts": HOSTS, "vms": VMS})
    assert fleet["clusters"] == [] and fleet["standalone_hosts"] == sorted(HOSTS)
    assert all(host["cluster"] is None for host in fleet["host_details"])
