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


def host_facts(vectors, *vms, enabled=True):
    return {
        "gathered_at": "2026-11-21T08:15:02+00:00",
        "host": {"name": "HV", "endpoint": "https://hv:5986/wsman", "vectors": vectors,
                 "migration_service": {"live_migration_enabled": enabled, "listener_addresses": ["10.0.0.1", "10.0.1.1"],
                                       "active_vm_migrations": 1, "max_vm_migrations": 2, "keys": {"Name": "x"}}},
        "vms": [{"id": vm_id, "name": name, "state": 2, "state_name": "Running", "configuration_version": "10.0",
                 "vectors": SMALL} for name, vm_id in vms],
    }


def test_hosts_and_vms_keep_names_ids_states_vectors_and_live_migration_state_only():
    fleet = fleet_facts({"hv02": host_facts(BIG, ("db01", "ID-2"), enabled=False), "hv01": host_facts(SMALL, ("web01", "ID-1"))})
    migration = {"live_migration_enabled": True, "networks": 2, "active_vm_migrations": 1, "max_vm_migrations": 2}
    assert fleet == {
        "hosts": {"hv01": {"vectors": SMALL, "migration": migration},
                  "hv02": {"vectors": BIG, "migration": dict(migration, live_migration_enabled=False)}},
        "vms": {
            "web01": {"name": "web01", "id": "ID-1", "host": "hv01", "state": "Running", "vectors": SMALL},
            "db01": {"name": "db01", "id": "ID-2", "host": "hv02", "state": "Running", "vectors": SMALL},
        },
    }
    assert "10.0.0.1" not in repr(fleet) and "wsman" not in repr(fleet)
    report = fleet_report(fleet)
    assert report["summary"]["compatible_pairs"] == 4 and report["summary"]["hosts_not_receiving"] == ["hv02"]
    assert report["host_details"][1] == {"name": "hv02", "group": 2, "live_migration_enabled": False, "networks": 2,
                                         "active_vm_migrations": 1, "max_vm_migrations": 2, "receives": False,
                                         "vms": ["db01"]}


def test_vms_sharing_a_name_are_keyed_by_their_id_and_one_vm_seen_twice_by_its_host():
    fleet = fleet_facts({
        "hv01": host_facts(SMALL, ("app01", "ID-A"), ("solo", "ID-S"), ("moving", "ID-M")),
        "hv02": host_facts(SMALL, ("app01", "ID-B"), ("moving", "ID-M")),  # mid-migration: both hosts report it
    })
    assert sorted(fleet["vms"]) == ["app01 (ID-A)", "app01 (ID-B)", "moving (ID-M) on hv01", "moving (ID-M) on hv02", "solo"]
    assert fleet["vms"]["app01 (ID-B)"]["host"] == "hv02" and fleet["vms"]["app01 (ID-B)"]["name"] == "app01"


def test_a_host_without_vms_is_a_column_all_the_same():
    fleet = fleet_facts({"hv01": {"host": {"vectors": SMALL}, "vms": []}, "hv02": {"host": {"vectors": BIG}}})
    assert fleet == {"hosts": {"hv01": {"vectors": SMALL}, "hv02": {"vectors": BIG}}, "vms": {}}


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
