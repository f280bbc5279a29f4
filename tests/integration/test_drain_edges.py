"""playbooks/drain.yml at its edges, run by ansible-playbook against hvsim: a host missing, blank, spaced, two hosts in
one, or drain= naming another are refused before any request, naming the host and the cause; a cluster node and a
standalone host each plan their own way in check mode, and nothing is sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hvsim.pytest_fixtures import (  # noqa: F401  pylint: disable=unused-import
    hvsim_cluster,
    hvsim_cluster_session,
    hvsim_lab,
    hvsim_session,
)
from integration.ansible_output import task_failure
from integration.lab_inventory import write_inventory

PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "drain.yml"
pytestmark = pytest.mark.every_core  # drain.yml's own check is YAML: each core templates it


@pytest.fixture
def drain(run_playbook, tmp_path):
    def run(sim, extra_vars: dict, *args: str):
        inventory = write_inventory(sim, tmp_path / "hosts.yml")
        return run_playbook(PLAYBOOK, "-i", inventory, "-e", "limit_poll=0.2", "-e", json.dumps(extra_vars), *args)

    return run


@pytest.mark.parametrize("extra_vars, message", [
    ({}, "drain.yml cannot start: no host. Give the inventory name of the host to empty: -e host=NAME."),
    ({"host": ""}, 'drain.yml cannot start: host is blank (""). Give the inventory name of the host to empty'),
    ({"host": " \t"}, 'drain.yml cannot start: host is blank (" \\t").'),
    ({"host": "HV-NEW-02", "drain": "HV-OLD-01"},
     'drain.yml cannot start: it drains host="HV-NEW-02", but drain="HV-OLD-01" names another.'),
], ids=["missing", "empty", "whitespace", "drain-names-another"])
def test_a_drain_without_its_one_host_is_refused_before_any_request(hvsim_lab, drain, extra_vars, message):
    assert task_failure(drain(hvsim_lab, extra_vars)).startswith(message)
    assert hvsim_lab.request_count() == 0


@pytest.mark.parametrize("host, said", [
    (" HV-NEW-02 ", "(The inventory has 'HV-NEW-02'; host names are taken literally, spaces included.)"),
    ("HV-NEW-02,HV-OLD-01", "(One host: names separated by commas are not split here.)"),
], ids=["spaces", "two-hosts"])
def test_a_host_not_named_as_the_inventory_names_it_is_refused(hvsim_lab, drain, host, said):
    message = task_failure(drain(hvsim_lab, {"host": host}, "--check"))
    assert f"drain must be the inventory name of the host to empty, got {host!r}." in message and said in message
    assert hvsim_lab.request_count() == 0


def test_drain_equal_to_host_is_the_same_drain(hvsim_lab, drain):
    result = drain(hvsim_lab, {"host": "HV-NEW-02", "drain": "HV-NEW-02"}, "--check")
    assert result.returncode == 0, result.stdout
    assert "Drain HV-NEW-02: 1 running VM; 1 can move" in result.stdout


def test_a_cluster_node_and_a_standalone_host_in_check_mode(hvsim_cluster, drain):
    node = drain(hvsim_cluster, {"host": "HVC-N1"}, "--check")
    assert node.returncode == 0, node.stdout
    assert "Drain HVC-N1: 3 running VMs; 3 can move, 0 can go nowhere." in node.stdout
    assert "Check mode: cluster node HVC-N1 of HVC would now be paused with drain; nothing was sent." in node.stdout

    standalone = drain(hvsim_cluster, {"host": "HV-SA-01"}, "--check")
    assert standalone.returncode == 0, standalone.stdout
    assert "Drain HV-SA-01: 1 running VM; 1 can move" in standalone.stdout and "paused" not in standalone.stdout
    assert hvsim_cluster.cluster_moves() == [] and hvsim_cluster.where("web02") == "HV-SA-01"
