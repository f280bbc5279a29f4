"""WQL injection through VM names and ids, via playbooks/migrate.yml against hvsim (whose WQL evaluator is real).

The gate asks the source for one VM with a WQL query (a wave lists the source's VMs once instead); a name written to
break out of its string literal must match only a VM of exactly that name, or nothing.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from hvsim.pytest_fixtures import DEMO_LAB, hvsim_factory  # noqa: F401  pylint: disable=unused-import
from faults.harness import decisions, write_inventory
from integration.conftest import run_playbook  # noqa: F401  pylint: disable=unused-import

PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "migrate.yml"
INJECTED = "x' OR Name LIKE '%"
INJECTED_ID = "0E0E0E0E-1111-2222-3333-444455556666"
# Each would select every VM of the host if it reached the query unescaped.
MATCH_NOTHING = [
    "nobody' OR Name LIKE '%",
    "nobody\\' OR ElementName LIKE '%",  # a backslash trying to escape the escaping
    "web01' OR '1'='1",
    "{6C9A2A5F-7F1B-4D4B-9C1E-0F0E1D2C3B4A}' OR Name LIKE '%",  # an id with a tail: not an id, so a name
]


def lab_with_an_injected_name() -> dict:
    lab = copy.deepcopy(yaml.safe_load(Path(DEMO_LAB).read_text()))
    web01 = next(vm for vm in lab["vms"] if vm["name"] == "web01")
    lab["vms"].append({**web01, "name": INJECTED, "guid": INJECTED_ID})
    return lab


def test_injected_names_match_literally_or_nothing(hvsim_factory, run_playbook, tmp_path, monkeypatch):
    monkeypatch.setenv("ANSIBLE_SHOW_CUSTOM_STATS", "1")
    sim = hvsim_factory(lab_with_an_injected_name())
    hosts = write_inventory(sim, tmp_path / "hosts.yml")
    wave = {"vms": [INJECTED, *MATCH_NOTHING], "source": "HV-OLD-01", "destination": "HV-NEW-01", "mode": "gate"}
    result = run_playbook(PLAYBOOK, "-i", str(hosts), "-e", json.dumps(wave))
    found = decisions(result.stdout)
    assert set(found) == set(wave["vms"]), result.stdout
    assert found[INJECTED]["vm_id"] == INJECTED_ID and found[INJECTED]["allowed"] is True, found[INJECTED]
    for name in MATCH_NOTHING:
        assert found[name]["allowed"] is False and "was not found" in found[name]["message"], found[name]
    assert result.returncode == 2 and f"{len(MATCH_NOTHING)} of {len(wave['vms'])} VMs did not move" in result.stdout
    # A wave lists its source's VMs once and matches the names itself: no name reaches a query
    assert sim.counters("HV-OLD-01")["Enumerate:Msvm_ComputerSystem"] == 1
    assert "Invoke:MigrateVirtualSystemToHost" not in sim.counters("HV-OLD-01")


@pytest.mark.parametrize("name", [INJECTED, *MATCH_NOTHING])
def test_one_injected_name_is_asked_by_wql_and_matches_literally_or_nothing(hvsim_factory, run_playbook, tmp_path,
                                                                            monkeypatch, name):
    monkeypatch.setenv("ANSIBLE_SHOW_CUSTOM_STATS", "1")
    sim = hvsim_factory(lab_with_an_injected_name())
    request = {"vm": name, "source": "HV-OLD-01", "destination": "HV-NEW-01", "mode": "gate"}
    result = run_playbook(PLAYBOOK, "-i", str(write_inventory(sim, tmp_path / "hosts.yml")), "-e", json.dumps(request))
    found = decisions(result.stdout)[name]
    if name == INJECTED:
        assert found["vm_id"] == INJECTED_ID and found["allowed"] is True and result.returncode == 0, found
    else:
        assert found["allowed"] is False and "was not found" in found["message"] and result.returncode == 2, found
    assert sim.counters("HV-OLD-01")["Enumerate:Msvm_ComputerSystem"] == 1  # the name went to the host in WQL
    assert "Invoke:MigrateVirtualSystemToHost" not in sim.counters("HV-OLD-01")
