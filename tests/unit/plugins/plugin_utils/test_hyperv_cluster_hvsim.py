# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""FailoverCluster and ClusterMover against hvsim's cluster lab (labs/cluster.yml) over real sockets: the reads from
any node, a standalone host, both PrivateProperties encodings, a move through the cluster followed to its end, the
refusals, a lost reply, a failed move, and a drain."""

from __future__ import annotations

import time

import pytest
import yaml

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.cluster import ClusterCallFailed, FailoverCluster, NotAClusterNode
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.cluster_move import ClusterMover, ClusterMoveRequest
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.move import MoveFailed
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.client import WSManClient
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.settings import WinRMSettings
from hvsim import pytest_fixtures
from hvsim.pytest_fixtures import CLUSTER_LAB, HVSIM_PASSWORD, HVSIM_USER

# hvsim's fixtures, used by name below
hvsim_cluster_session = pytest_fixtures.hvsim_cluster_session
hvsim_cluster = pytest_fixtures.hvsim_cluster
hvsim_factory = pytest_fixtures.hvsim_factory

SQL01 = "5A1C0E2B-3D4F-4A6B-8C0D-2E3F4A5B6C01"
FILE01 = "5A1C0E2B-3D4F-4A6B-8C0D-2E3F4A5B6C04"
TOOLS01 = "5A1C0E2B-3D4F-4A6B-8C0D-2E3F4A5B6C06"
MOVE = "Invoke:MoveToNewNodeParams"


def cluster_of(sim, host: str) -> FailoverCluster:
    handle = sim.hosts[host]
    settings = WinRMSettings(host=handle.bind, port=handle.http_port, scheme="http", username=HVSIM_USER,
                             password=HVSIM_PASSWORD).check()
    return FailoverCluster(WSManClient(settings))


def mover_of(sim, host: str = "HVC-N1", said: list[str] | None = None) -> ClusterMover:
    return ClusterMover(cluster_of(sim, host), "HVC", say=(said if said is not None else []).append)


def request(vm_id: str = SQL01, destination: str = "HVC-N2", **options) -> ClusterMoveRequest:
    return ClusterMoveRequest(**{"vm_id": vm_id, "destination": destination, "vm_name": "sql01", "timeout_s": 30.0,
                                 "poll_interval_s": 0.05, **options})


@pytest.mark.parametrize("host", ["HVC-N1", "HVC-N3"])
def test_every_node_answers_for_the_whole_cluster(hvsim_cluster, host):  # pylint: disable=redefined-outer-name
    cluster = cluster_of(hvsim_cluster, host)
    assert cluster.cluster_name() == "HVC"
    assert cluster.nodes() == {name: {"state": "up", "state_value": 0, "drain_status": "not initiated"}
                               for name in ("HVC-N1", "HVC-N2", "HVC-N3")}
    resources = cluster.vm_resources()
    assert TOOLS01 not in resources and len(resources) == 5
    assert resources[SQL01]["resource"] == "Virtual Machine sql01" and resources[SQL01]["owner_node"] == "HVC-N1"
    assert (resources[SQL01]["state"], resources[SQL01]["migration_state"]) == ("online", "none")
    assert cluster.possible_owners()[resources[FILE01]["resource"]] == ["HVC-N1", "HVC-N2"]
    assert cluster.preferred_owners()[resources[SQL01]["group"]] == ["HVC-N1", "HVC-N2"]
    group = cluster.group(resources[SQL01]["group"])
    assert (group["owner_node"], group["state"], group["group_type"]) == ("HVC-N1", "online", 111)


def test_a_standalone_host_is_not_a_cluster_node(hvsim_cluster):  # pylint: disable=redefined-outer-name
    cluster = cluster_of(hvsim_cluster, "HV-SA-01")
    for read in (cluster.vm_resources, cluster.nodes, cluster.cluster_name, cluster.possible_owners):
        with pytest.raises(NotAClusterNode, match="is not a node of a failover cluster"):
            read()


def test_private_properties_as_cimxml(hvsim_factory):  # pylint: disable=redefined-outer-name
    lab = yaml.safe_load(CLUSTER_LAB.read_text(encoding="utf-8"))
    lab["clusters"][0]["private_properties_encoding"] = "cimxml"
    sim = hvsim_factory(lab)
    resources = cluster_of(sim, "HVC-N2").vm_resources()
    assert resources[SQL01]["owner_node"] == "HVC-N1" and resources[SQL01]["migration_state_value"] == 0
    assert len(resources) == 5


def test_a_live_migration_through_the_cluster(hvsim_cluster):  # pylint: disable=redefined-outer-name
    said: list[str] = []
    report = mover_of(hvsim_cluster, "HVC-N2", said).move(request(), check_mode=False)
    assert report.changed and report.final == {"host": "HVC-N2", "state": 0, "state_name": "online"}
    assert hvsim_cluster.where("sql01") == "HVC-N2" and hvsim_cluster.cluster_violations() == []
    [move] = hvsim_cluster.cluster_moves("sql01")
    assert (move["state"], move["flags"], move["migration_type"], move["destination"]) == ("completed", 14, 4, "HVC-N2")
    assert move["properties"] == {"Virtual Machine": 4, "Virtual Machine Configuration": 4}
    assert report.progress[-1]["owner_node"] == "HVC-N2" and said


def test_check_mode_and_a_vm_already_there_send_nothing(hvsim_cluster):  # pylint: disable=redefined-outer-name
    mover = mover_of(hvsim_cluster)
    assert mover.move(request(), check_mode=True).changed
    assert not mover.move(request(destination="hvc-n1.lab.example"), check_mode=False).changed
    assert hvsim_cluster.cluster_moves() == [] and hvsim_cluster.where("sql01") == "HVC-N1"


def test_refusals_before_sending(hvsim_cluster):  # pylint: disable=redefined-outer-name
    mover = mover_of(hvsim_cluster)
    with pytest.raises(MoveFailed, match="HVC-N3 is not a possible owner"):
        mover.move(request(FILE01, "HVC-N3", vm_name="file01"), check_mode=False)
    hvsim_cluster.set_node_state("HVC-N2", "paused")
    with pytest.raises(MoveFailed, match="cluster node HVC-N2 is paused"):
        mover.move(request(), check_mode=False)
    with pytest.raises(MoveFailed, match="is not a role of failover cluster HVC"):
        mover.move(request(TOOLS01, "HVC-N1", vm_name="tools01"), check_mode=False)
    assert hvsim_cluster.cluster_moves() == []


@pytest.mark.parametrize("vm_id, node, code", [(FILE01, "HVC-N3", 5015), (SQL01, "HVC-N9", 5042)])
def test_the_cluster_s_own_refusals_carry_their_win32_code(hvsim_cluster, vm_id, node, code):  # pylint: disable=redefined-outer-name
    cluster = cluster_of(hvsim_cluster, "HVC-N1")
    group = cluster.vm_resources()[vm_id]["group"]
    with pytest.raises(ClusterCallFailed) as failure:
        cluster.move_group(group, node)
    assert failure.value.win32_code == code


def test_a_paused_destination_refused_by_the_cluster(hvsim_cluster):  # pylint: disable=redefined-outer-name
    hvsim_cluster.set_node_state("HVC-N2", "paused")
    with pytest.raises(ClusterCallFailed, match="5070 ERROR_CLUSTER_NODE_PAUSED"):
        cluster_of(hvsim_cluster, "HVC-N1").move_group("sql01", "HVC-N2")


def test_a_lost_reply_is_not_sent_again(hvsim_cluster):  # pylint: disable=redefined-outer-name
    hvsim_cluster.inject("HVC-N1", "drop", op=MOVE, phase="after", times=1)
    report = mover_of(hvsim_cluster).move(request(), check_mode=False)
    assert "reply was lost" in report.msg and report.final["host"] == "HVC-N2"
    assert len(hvsim_cluster.cluster_moves("sql01")) == 1 and hvsim_cluster.where("sql01") == "HVC-N2"


def test_a_lost_request_is_reported_as_such(hvsim_cluster):  # pylint: disable=redefined-outer-name
    hvsim_cluster.inject("HVC-N1", "drop", op=MOVE, phase="before", times=1)
    with pytest.raises(MoveFailed, match="still on HVC-N1 and the cluster shows no move of it.*It was not sent again"):
        mover_of(hvsim_cluster).move(request(lost_reply_grace_s=0.5), check_mode=False)
    assert hvsim_cluster.cluster_moves("sql01") == [] and hvsim_cluster.where("sql01") == "HVC-N1"


def test_a_failed_move_leaves_the_vm_on_its_source(hvsim_cluster):  # pylint: disable=redefined-outer-name
    hvsim_cluster.inject("HVC-N1", "migration_fail", op=MOVE, percent=40, message="The network connection was interrupted.")
    with pytest.raises(MoveFailed, match="to HVC-N2 failed.*it is still on HVC-N1, where the cluster returned it"):
        mover_of(hvsim_cluster).move(request(), check_mode=False)
    assert hvsim_cluster.where("sql01") == "HVC-N1" and hvsim_cluster.cluster_moves("sql01")[0]["state"] == "failed"


def test_pause_with_drain_then_resume(hvsim_cluster):  # pylint: disable=redefined-outer-name
    cluster = cluster_of(hvsim_cluster, "HVC-N2")
    cluster.pause_node("HVC-N3", drain=True)
    assert cluster.nodes()["HVC-N3"]["state"] == "paused"
    deadline = time.monotonic() + 20
    while cluster.drain_status("HVC-N3") == "in progress" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cluster.drain_status("HVC-N3") == "completed" and hvsim_cluster.where("batch01") != "HVC-N3"
    cluster.resume_node("HVC-N3")
    assert cluster.nodes()["HVC-N3"]["state"] == "up"
