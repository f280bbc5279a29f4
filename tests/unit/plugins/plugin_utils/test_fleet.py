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
        "hosts_in_reserve": [], "planned_moves": None, "hosts_overfilled": [],  # no memory read, no plan
    }
    assert fleet["host_details"][0] == {
        "name": "hv-gen1-a", "group": 1, "live_migration_enabled": None, "networks": None,
        "active_vm_migrations": None, "max_vm_migrations": None, "receives": None, "cluster": None,
        "vms": ["legacy01", "lost01"],
        # no memory in these facts: every figure null, the VMs' memory not read (a VM without a state holds memory)
        "memory": {"total_mb": None, "free_mb": None, "logical_processors": None, "reserve_mb": 2048, "for_vms_mb": None,
                   "vms_mb": 0, "vms_not_read": ["legacy01", "lost01"], "vms_off_mb": 0, "virtual_processors": 0},
        "vm_memory": [{"name": "legacy01", "needed_mb": None, "holds": True, "virtual_processors": None},
                      {"name": "lost01", "needed_mb": None, "holds": True, "virtual_processors": None}],
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


# Memory, and what each host would hold after a planned wave (the gate's decisions of a gate-only run)

MEMORY_HOSTS = {
    "src": {"vectors": GEN1, "memory": {"total_mb": 196608, "free_mb": 100000, "logical_processors": 112}},
    "full": {"vectors": GEN1, "memory": {"total_mb": 65536, "free_mb": 6144, "logical_processors": 56}},
    "roomy": {"vectors": GEN2, "memory": {"total_mb": 65536, "free_mb": 45056, "logical_processors": 56}},
    "unread": {"vectors": GEN2},  # facts without the memory part
}
MEMORY_VMS = {
    "wave01": {"host": "src", "state": "Running", "vectors": GEN1, "needed_mb": 8192, "virtual_processors": 2},
    "wave02": {"host": "src", "state": "Running", "vectors": GEN1, "needed_mb": 10240, "virtual_processors": 4},
    "off01": {"host": "src", "state": "Off", "vectors": GEN1, "needed_mb": 32768, "virtual_processors": 4},
    "big01": {"host": "src", "state": "Running", "vectors": GEN1, "needed_mb": 63488, "virtual_processors": 16},
    "res01": {"host": "full", "state": "Running", "vectors": GEN1, "needed_mb": 54000, "virtual_processors": 8},
}


def decision(source, destination, needed_mb, state="Running", allowed=True, **extra):
    """A gate decision as migration_gate_decisions holds it, with the memory figures of its destination."""
    memory = {destination: {"needed_mb": needed_mb, "free_mb": 1, "reserve_mb": 2048, "placed_mb": 0, "after_mb": 1}}
    return {"vm": "x", "source": source, "destination": destination, "allowed": allowed, "state": state,
            "verdict": "allowed" if allowed else "blocked", "reasons": [], "moved": False,
            "checks": {"memory": memory if destination else {}, "vectors": {}}, **extra}


PLAN = {
    "wave01": decision("src", "roomy", 8192),
    "wave02": decision("src", "full", 10240),  # a plan made by hand: full has 6144 MB free
    "off01": decision("src", "roomy", 32768, state="Off"),  # holds no memory on src, needs its startup memory on roomy
    "big01": decision("src", None, None, allowed=False, reasons=[
        {"host": "roomy", "role": "candidate", "check": "memory", "message": "roomy has no room for big01: it needs 63488 MB."},
        {"host": "full", "role": "candidate", "check": "memory", "message": "full has no room either."}]),
    "res01": decision("full", "full", 54000, verdict="already_there"),
    "gone01": {"vm": "gone01", "verdict": "error", "allowed": False, "moved": False,
               "error": {"task": "reading the hosts", "msg": "src did not answer"}},
}


def test_each_hosts_memory_free_for_vms_after_the_reserve_and_its_vms_memory():
    report = fleet_report({"hosts": MEMORY_HOSTS, "vms": MEMORY_VMS}, memory_reserve_mb=4096)
    memory = {info["name"]: info["memory"] for info in report["host_details"]}
    assert memory["full"] == {"total_mb": 65536, "free_mb": 6144, "logical_processors": 56, "reserve_mb": 4096,
                              "for_vms_mb": 2048, "vms_mb": 54000, "vms_not_read": [], "vms_off_mb": 0, "virtual_processors": 8}
    assert memory["src"]["vms_mb"] == 8192 + 10240 + 63488 and memory["src"]["vms_off_mb"] == 32768  # off01 holds none
    assert memory["unread"]["free_mb"] is None and memory["unread"]["for_vms_mb"] is None
    assert report["memory_reserve_mb"] == 4096 and report["plan"] is None
    assert report["summary"]["hosts_in_reserve"] == [] and report["summary"]["planned_moves"] is None
    # the default reserve is the gate's, 2048 MB; a host with less free than its reserve is named
    tight = fleet_report({"hosts": MEMORY_HOSTS, "vms": MEMORY_VMS}, memory_reserve_mb=8192)
    assert tight["summary"]["hosts_in_reserve"] == ["full"]
    assert fleet_report({"hosts": MEMORY_HOSTS, "vms": {}})["host_details"][0]["memory"]["reserve_mb"] == 2048
    row = next(row for row in report["vms"] if row["name"] == "big01")
    assert row["needed_mb"] == 63488 and row["virtual_processors"] == 16


def test_a_planned_wave_each_host_now_in_out_after_and_the_host_it_would_overfill():
    report = fleet_report({"hosts": MEMORY_HOSTS, "vms": MEMORY_VMS}, PLAN)
    plan = report["plan"]
    hosts = {host["name"]: host for host in plan["hosts"]}
    assert list(hosts) == [info["name"] for info in report["host_details"]]
    # roomy takes wave01 and off01 (its startup memory): 45056 - 8192 - 32768 = 4096, 2048 for VMs after the reserve
    assert {key: hosts["roomy"][key] for key in ("free_mb", "for_vms_mb", "in_mb", "out_mb", "after_mb", "after_for_vms_mb",
                                                 "peak_for_vms_mb", "overfilled", "over_mb")} == {
        "free_mb": 45056, "for_vms_mb": 43008, "in_mb": 40960, "out_mb": 0, "after_mb": 4096, "after_for_vms_mb": 2048,
        "peak_for_vms_mb": 2048, "overfilled": False, "over_mb": None}
    assert hosts["roomy"]["in_vms"] == [{"vm": "off01", "source": "src", "needed_mb": 32768},
                                        {"vm": "wave01", "source": "src", "needed_mb": 8192}]
    # full: 6144 free, 2048 kept, 10240 brought: overfilled by 6144
    assert hosts["full"]["overfilled"] is True and hosts["full"]["over_mb"] == 6144 and hosts["full"]["after_for_vms_mb"] == -6144
    # src gives up what the running VMs hold; off01 held nothing there
    assert hosts["src"]["out_mb"] == 8192 + 10240 and hosts["src"]["in_mb"] == 0 and hosts["src"]["after_mb"] == 118432
    assert [item["holds"] for item in hosts["src"]["out_vms"]] == [False, True, True]
    assert hosts["unread"]["overfilled"] is False and hosts["unread"]["after_mb"] is None  # nothing planned there
    assert plan["overfilled_hosts"] == ["full"] and report["summary"]["hosts_overfilled"] == ["full"]
    assert report["summary"]["planned_moves"] == 3 and plan["in_mb"] == 8192 + 10240 + 32768
    assert plan["already_there"] == [{"vm": "res01", "host": "full"}]
    # the VMs that stay, with their first reason (a stopped gate: its error)
    assert plan["blocked"] == [
        {"vm": "big01", "verdict": "blocked", "source": "src", "destination": None,
         "reason": {"host": "roomy", "check": "memory", "message": "roomy has no room for big01: it needs 63488 MB."}},
        {"vm": "gone01", "verdict": "error", "source": None, "destination": None,
         "reason": {"host": None, "check": "reading the hosts", "message": "src did not answer"}},
    ]


def test_a_plan_to_a_host_not_read_or_not_in_the_report_or_without_figures_says_not_known():
    plan = {"wave01": decision("src", "unread", 8192), "wave02": decision("src", "elsewhere", 10240),
            "wave03": decision("src", "roomy", None), "done01": decision("src", "roomy", 4096, moved=True)}
    report = fleet_report({"hosts": MEMORY_HOSTS, "vms": MEMORY_VMS}, plan)["plan"]
    hosts = {host["name"]: host for host in report["hosts"]}
    assert hosts["unread"]["overfilled"] is None and hosts["unread"]["in_mb"] == 8192 and hosts["unread"]["after_mb"] is None
    assert hosts["elsewhere"]["in_report"] is False and report["hosts_not_in_report"] == ["elsewhere"]
    assert hosts["roomy"]["overfilled"] is None and hosts["roomy"]["not_read"] == ["wave03"]
    assert hosts["src"]["not_read"] == ["wave03"] and hosts["src"]["after_mb"] is None
    assert report["unknown_hosts"] == ["roomy", "unread", "elsewhere"] and report["overfilled_hosts"] == []
    # a decision of a move run that already moved its VM is not counted again
    assert report["moved"] == [{"vm": "done01", "source": "src", "destination": "roomy"}] and hosts["roomy"]["in_mb"] == 0
    # what is known to overfill is said even when another VM's memory is not known
    plan["wave04"] = decision("src", "roomy", 50000)
    assert fleet_report({"hosts": MEMORY_HOSTS, "vms": MEMORY_VMS}, plan)["plan"]["overfilled_hosts"] == ["roomy"]


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ([], "plan: expected a mapping of VM to its gate decision (migration_gate_decisions of a gate-only run), got list"),
        ('{"wave01": {}}', "plan: expected a mapping of VM to its gate decision"),
        ({"wave01": "allowed"}, "plan['wave01']: expected the VM's gate decision, a mapping, got str 'allowed'"),
        ({"wave01": {"source": "src"}}, "plan['wave01'].allowed: expected true or false, got NoneType"),
        ({"wave01": dict(decision("src", "roomy", 1), allowed="yes")}, "plan['wave01'].allowed: expected true or false, got str 'yes'"),
        ({"wave01": dict(decision("src", "roomy", 1), allowed=1)}, "plan['wave01'].allowed: expected true or false, got int 1"),
        ({"wave01": dict(decision("src", "roomy", 1), destination=["roomy"])}, "plan['wave01'].destination: expected a host name, got list"),
        ({"wave01": dict(decision("src", "roomy", 1), destination=None)},
         "plan['wave01'].destination: an allowed decision names its destination host, got None"),
        ({"wave01": dict(decision("src", "roomy", 1), source="")}, "plan['wave01'].source: an allowed decision names its source host"),
        ({"wave01": dict(decision("src", "roomy", 1), moved="no")}, "plan['wave01'].moved: expected true or false, got str"),
        ({"wave01": dict(decision("src", "roomy", 1), checks=[])}, "plan['wave01'].checks: expected a mapping of the gate's checks, got list"),
        ({"wave01": dict(decision("src", "roomy", 1), checks={"memory": "8192"})}, "plan['wave01'].checks.memory: expected a mapping"),
        ({"wave01": dict(decision("src", "roomy", 1), checks={"memory": {"roomy": 8192}})},
         "plan['wave01'].checks.memory['roomy']: expected a mapping with needed_mb, got int 8192"),
        ({"wave01": decision("src", "roomy", "8192")},
         "plan['wave01'].checks.memory['roomy'].needed_mb: expected a whole number of MB, 0 or more, or null, got str '8192'"),
        ({"wave01": decision("src", "roomy", -1)}, "plan['wave01'].checks.memory['roomy'].needed_mb: expected a whole number"),
        ({"wave01": decision("src", "roomy", True)}, "plan['wave01'].checks.memory['roomy'].needed_mb: expected a whole number"),
        ({"big01": decision("src", None, None, allowed=False, reasons="no room")}, "plan['big01'].reasons: expected a list of reasons, got str"),
        ({"big01": decision("src", None, None, allowed=False, reasons=[{"message": 1}])}, "plan['big01'].reasons[0].message: expected a string, got int 1"),
        ({"big01": decision("src", None, None, allowed=False, error="boom")}, "plan['big01'].error: expected a mapping with task and msg, got str"),
        ({1: decision("src", "roomy", 1)}, "plan: key 1 is not a VM name"),
    ],
)
def test_a_plan_of_the_wrong_shape_is_an_error_naming_the_field(plan, message):
    with pytest.raises(VectorInputError) as error:
        fleet_report({"hosts": MEMORY_HOSTS, "vms": MEMORY_VMS}, plan)
    assert str(error.value).startswith(message), str(error.value)


@pytest.mark.parametrize(
    ("hosts", "vms", "reserve", "message"),
    [
        ({"h": {"vectors": GEN1, "memory": {"free_mb": "6144"}}}, {}, 2048,
         "fleet.hosts['h'].memory.free_mb: expected a whole number, 0 or more, or null, got str '6144'"),
        ({"h": {"vectors": GEN1, "memory": {"total_mb": -1}}}, {}, 2048, "fleet.hosts['h'].memory.total_mb: expected a whole number"),
        ({"h": {"vectors": GEN1, "memory": 6144}}, {}, 2048,
         "fleet.hosts['h'].memory: expected a mapping with total_mb, free_mb and logical_processors, got int"),
        ({"h": GEN1}, {"v": {"vectors": GEN1, "needed_mb": 1.5}}, 2048, "fleet.vms['v'].needed_mb: expected a whole number, 0 or more, or null, got float"),
        ({"h": GEN1}, {"v": {"vectors": GEN1, "virtual_processors": False}}, 2048, "fleet.vms['v'].virtual_processors: expected a whole number"),
        ({"h": GEN1}, {}, -1, "memory_reserve_mb: must be a whole number of MB, 0 or more, got int -1"),
        ({"h": GEN1}, {}, True, "memory_reserve_mb: must be a whole number of MB, 0 or more, got bool"),
        ({"h": GEN1}, {}, "2 GB", "memory_reserve_mb: must be a whole number of MB, 0 or more, got str '2 GB'"),
    ],
)
def test_memory_figures_of_the_wrong_type_are_an_error_naming_where(hosts, vms, reserve, message):
    with pytest.raises(VectorInputError) as error:
        fleet_report({"hosts": hosts, "vms": vms}, memory_reserve_mb=reserve)
    assert str(error.value).startswith(message), str(error.value)


def test_the_reserve_may_come_as_a_string_of_digits_as_extra_vars_send_it():
    assert fleet_report({"hosts": MEMORY_HOSTS, "vms": {}}, memory_reserve_mb=" 4096 ")["memory_reserve_mb"] == 4096
