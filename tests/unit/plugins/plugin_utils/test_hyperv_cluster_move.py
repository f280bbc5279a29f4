# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ClusterMover's decisions against a scripted cluster behind canned WinRM replies: what it refuses before sending,
that it sends once, how it follows MigrationState and the owner node, and what it reports after a lost reply, a
failure, a cancel or the timeout. The clock is simulated: every wait advances it."""

from __future__ import annotations

import typing as t

import pytest
import requests

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.cluster import FailoverCluster
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.cluster_move import ClusterMover, ClusterMoveRequest
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.failures import StepFailed
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.move import MoveFailed
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.errors import WSManFault
from ansible_collections.vmgate.hyperv.tests.unit.plugins.plugin_utils.test_hyperv_cluster import (
    ACCESS_DENIED,
    SQL01,
    CannedClient,
    Request,
    fault_reply,
    group,
    items_reply,
    node,
    output_reply,
    possible_owner,
    private_element,
    refusal,
    vm_resource,
)

LOST = requests.exceptions.ConnectionError("Connection reset by peer")
MOVED = {"migration": 0, "owner": "HVC-N2"}
LIVE_MIGRATION = [{"migration": 1}, {"migration": 2, "progress": 30}, {"migration": 2, "progress": 80}, {"migration": 3}, MOVED]


class ScriptedCluster:
    """Three nodes and one VM role, sql01 on HVC-N1. After the move request, each poll of the VM's resource applies the
    next step of `timeline` (a dict of changes) first; `on_move` answers the request (a void reply by default)."""

    def __init__(self) -> None:
        self.nodes = {"HVC-N1": 0, "HVC-N2": 0, "HVC-N3": 0}
        self.state = {"owner": "HVC-N1", "group_state": 0, "migration": 0, "progress": None, "queued": None, "reason": None}
        self.possible: list[str] | None = None
        self.timeline: list[dict[str, t.Any]] = []
        self.on_move: t.Callable[[Request], t.Any] = lambda _request: output_reply("MSCluster_ResourceGroup", "MoveToNewNodeParams")
        self.unreadable_after_move = False
        self.moves: list[Request] = []
        self.now = 0.0
        self.waits: list[float] = []
        self.said: list[str] = []

    def answer(self, request: Request) -> t.Any:
        if request.action == "MoveToNewNodeParams":
            self.moves.append(request)
            return self.on_move(request)
        kind = request.class_name
        if kind == "MSCluster_Resource":
            return self._resource(request)
        if kind == "MSCluster_ResourceGroup":
            status = {} if self.state["queued"] is None else {"StatusInformation": 4 if self.state["queued"] else 0}
            return items_reply(group("sql01", self.state["owner"], self.state["group_state"], **status))
        if kind == "MSCluster_Node":
            return items_reply(*(node(name, state) for name, state in self.nodes.items()))
        if kind == "MSCluster_ResourceToPossibleOwner":
            return items_reply(*(possible_owner("Virtual Machine sql01", name) for name in self.possible or self.nodes))
        raise AssertionError(f"unexpected request {request}")

    def _resource(self, request: Request) -> t.Any:
        if request.name is not None and self.moves:  # a poll while following
            if self.unreadable_after_move:
                return LOST
            if self.timeline:
                self.state.update(self.timeline.pop(0))
        extra = {name: self.state[key] for key, name in (("progress", "MigrationProgress"), ("reason", "MigrationFailureReason"))
                 if self.state[key] is not None}
        return items_reply(vm_resource("sql01", self.state["owner"], private_element(SQL01, self.state["migration"], **extra)))

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def mover(self) -> ClusterMover:
        return ClusterMover(FailoverCluster(CannedClient(self.answer)), "HVC", say=self.said.append, clock=self.clock,
                            sleep=self.sleep)

    def move(self, check_mode: bool = False, **options: t.Any) -> t.Any:
        request = ClusterMoveRequest(**{"vm_id": SQL01.lower(), "destination": "HVC-N2", "vm_name": "sql01",
                                        "timeout_s": 60.0, "poll_interval_s": 1.0, **options})
        return self.mover().move(request, check_mode)


@pytest.fixture
def lab() -> ScriptedCluster:
    return ScriptedCluster()


def test_a_live_migration_followed_to_its_end(lab):
    lab.timeline = list(LIVE_MIGRATION)
    report = lab.move()
    assert report.changed and (report.source, report.destination) == ("HVC-N1", "HVC-N2")
    assert report.final == {"host": "HVC-N2", "state": 0, "state_name": "online"}
    assert report.vm == {"id": SQL01, "name": "sql01", "resource": "Virtual Machine sql01", "group": "sql01"}
    assert [step["migration_state"] for step in report.progress] == ["setup", "data transfer", "data transfer", "move", "none"]
    assert [step["percent"] for step in report.progress] == [None, 30, 80, 80, 80]
    assert report.duration == pytest.approx(sum(lab.waits)) and report.msg.startswith(
        f"VM 'sql01' ({SQL01}) moved from HVC-N1 to HVC-N2 through the failover cluster in")
    [sent] = lab.moves
    assert sent.selectors == {"Name": "sql01"} and sent.parameters["NodeName"] == ["HVC-N2"]
    assert any("migration state 'data transfer' 30%" in line for line in lab.said)


def test_a_move_that_ended_before_the_reply_needs_one_poll(lab):
    def synchronous(_request):
        lab.state.update(MOVED)
        return output_reply("MSCluster_ResourceGroup", "MoveToNewNodeParams", "<p:ReturnValue>0</p:ReturnValue>")

    lab.on_move = synchronous
    report = lab.move()
    assert report.final["host"] == "HVC-N2" and lab.waits == [] and len(report.progress) == 1


def test_a_pending_group_on_the_destination_is_waited_for(lab):
    lab.timeline = [{"migration": 0, "owner": "HVC-N2", "group_state": 4}, {"group_state": 0}]
    assert lab.move().final == {"host": "HVC-N2", "state": 0, "state_name": "online"} and lab.waits == [1.0]


@pytest.mark.parametrize("destination", ["HVC-N1", "hvc-n1", "hvc-n1.example.com"])
def test_a_vm_already_on_the_destination_is_left_alone(lab, destination):
    report = lab.move(destination=destination)
    assert not report.changed and lab.moves == [] and report.msg == f"VM 'sql01' ({SQL01}) is already on HVC-N1; nothing to do."
    assert report.final == {"host": "HVC-N1", "state": 0, "state_name": "online"}


def test_a_host_name_is_matched_to_its_node(lab):
    lab.timeline = [MOVED]
    assert lab.move(destination="hvc-n2.example.com").destination == "HVC-N2"
    assert lab.moves[0].parameters["NodeName"] == ["HVC-N2"]


@pytest.mark.parametrize("state, fragments", [
    (1, ["cluster node HVC-N2 is down", "Bring it back up or choose another node"]),
    (2, ["cluster node HVC-N2 is paused", "Resume it (Resume-ClusterNode)"]),
    (3, ["cluster node HVC-N2 is joining", "Choose another node"]),
    (-1, ["cluster node HVC-N2 is unknown"]),
])
def test_a_destination_that_is_not_up_is_refused_before_sending(lab, state, fragments):
    lab.nodes["HVC-N2"] = state
    with pytest.raises(MoveFailed) as failure:
        lab.move()
    assert lab.moves == [] and "nothing was moved" in str(failure.value) and "VM 'sql01'" in str(failure.value)
    for fragment in fragments:
        assert fragment in str(failure.value)


def test_a_destination_that_is_not_a_possible_owner_is_refused_before_sending(lab):
    lab.possible = ["HVC-N1", "HVC-N3"]
    with pytest.raises(MoveFailed, match=r"HVC-N2 is not a possible owner of VM 'sql01' .*HVC-N1, HVC-N3\); nothing was "
                                         r"moved\. Add it \(Set-ClusterOwnerNode\)"):
        lab.move()
    assert lab.moves == []


def test_a_node_outside_the_cluster_is_refused(lab):
    with pytest.raises(MoveFailed, match=r"HV9 is not a node of failover cluster HVC \(its nodes: HVC-N1, HVC-N2, HVC-N3\)"):
        lab.move(destination="HV9")
    assert lab.moves == []


def test_a_vm_that_is_not_a_role_of_the_cluster(lab):
    with pytest.raises(MoveFailed, match="is not a role of failover cluster HVC.*vm_move"):
        lab.move(vm_id="11111111-2222-3333-4444-555555555555")
    assert lab.moves == []


def test_a_vm_already_moving_is_not_sent_a_second_move(lab):
    lab.state["migration"] = 2
    with pytest.raises(MoveFailed, match="already being moved .*'data transfer', owner HVC-N1\\); nothing was sent"):
        lab.move()
    assert lab.moves == []


def test_a_vm_that_left_the_source_of_the_decision(lab):
    lab.state["owner"] = "HVC-N3"
    with pytest.raises(MoveFailed, match="is on HVC-N3, not on hvc-n1 as when the decision was made; nothing was moved"):
        lab.move(expected_source="hvc-n1")
    assert lab.moves == []


def test_check_mode_sends_nothing(lab):
    report = lab.move(check_mode=True)
    assert report.changed and lab.moves == [] and report.msg == (
        f"VM 'sql01' ({SQL01}) would move from HVC-N1 to HVC-N2 through the failover cluster.")


def test_an_unknown_migration_type_sends_nothing(lab):
    with pytest.raises(ValueError, match="migration_type"):
        lab.move(migration_type="storage")
    assert lab.moves == []


@pytest.mark.parametrize("code, advice", [
    (5070, "Resume the node (Resume-ClusterNode)"), (5015, "Set-ClusterOwnerNode"), (5908, "Someone else is moving it"),
    (5012, "Check the role and the nodes in Failover Cluster Manager"),
])
def test_a_refusal_says_why_and_that_nothing_moved(lab, code, advice):
    lab.on_move = lambda _request: refusal(code, "The cluster refused. ")
    with pytest.raises(MoveFailed) as failure:
        lab.move()
    message = str(failure.value)
    assert f"failover cluster HVC refused to move VM 'sql01' ({SQL01}) to HVC-N2" in message and f"Win32 error {code}" in message
    assert "It is still on HVC-N1; nothing was moved." in message and advice in message and len(lab.moves) == 1


def test_another_fault_on_sending_is_a_step_failure(lab):
    lab.on_move = lambda _request: ACCESS_DENIED
    with pytest.raises(StepFailed, match="requesting the move of VM 'sql01'.*MoveToNewNodeParams") as failure:
        lab.move()
    assert isinstance(failure.value.cause, WSManFault) and failure.value.cause.access_denied and len(lab.moves) == 1


# A lost reply: never sent again; what the cluster shows is reported


def lose_reply_after(lab: ScriptedCluster, timeline: list[dict[str, t.Any]], reply: t.Any = LOST) -> None:
    def arrived_but_lost(_request):
        lab.timeline = list(timeline)
        return reply

    lab.on_move = arrived_but_lost


@pytest.mark.parametrize("reply", [LOST, fault_reply("w:TimedOut", "The operation timed out.", 2150858793, code="s:Receiver")],
                         ids=["connection-reset", "operation-timed-out"])
def test_a_lost_reply_to_a_move_that_happened(lab, reply):
    lose_reply_after(lab, LIVE_MIGRATION, reply)
    report = lab.move()
    assert report.changed and report.final["host"] == "HVC-N2" and len(lab.moves) == 1
    assert "reply was lost" in report.msg and "It was not sent again." in report.msg


def test_a_lost_reply_to_a_move_that_did_not_start(lab):
    lose_reply_after(lab, [])
    with pytest.raises(MoveFailed) as failure:
        lab.move(lost_reply_grace_s=5.0)
    message = str(failure.value)
    assert "reply to the move request of VM 'sql01'" in message and "is still on HVC-N1 and the cluster shows no move" in message
    assert "It was not sent again" in message and len(lab.moves) == 1 and sum(lab.waits) == 5.0


def test_a_lost_reply_to_a_move_the_cluster_queued_is_followed(lab):
    lab.state["queued"] = True
    lose_reply_after(lab, [{}] * 8 + [{"queued": False, "migration": 1}, MOVED])
    report = lab.move(lost_reply_grace_s=3.0)
    assert report.final["host"] == "HVC-N2" and len(lab.moves) == 1 and sum(lab.waits) == 9.0


def test_a_lost_reply_then_a_move_still_running_at_the_timeout(lab):
    lose_reply_after(lab, [{"migration": 2}] * 100)
    with pytest.raises(MoveFailed, match=r"is not on HVC-N2 after 20 s: it is still moving \(migration state 'data transfer'\)"
                                         r"\. The move was not canceled"):
        lab.move(timeout_s=20.0)
    assert len(lab.moves) == 1


def test_a_lost_reply_and_a_cluster_that_cannot_be_read(lab):
    lab.on_move = lambda _request: LOST
    lab.unreadable_after_move = True
    with pytest.raises(MoveFailed, match="reply was lost .* where VM 'sql01' .* could not be read .*It was not sent again"):
        lab.move()
    assert len(lab.moves) == 1


# How a move that was accepted ends


def test_a_failed_move_returns_the_vm_to_its_source(lab):
    lab.timeline = [{"migration": 1}, {"migration": 2}, {"migration": 5}]
    with pytest.raises(MoveFailed) as failure:
        lab.move()
    assert "move of VM 'sql01'" in str(failure.value) and "to HVC-N2 failed; it is still on HVC-N1, where the cluster returned it" in str(
        failure.value)
    assert len(lab.moves) == 1


def test_a_failure_with_its_reason(lab):
    lab.timeline = [{"migration": 1}, {"migration": 5, "reason": 0x800700AA}]
    with pytest.raises(MoveFailed, match=r"to HVC-N2 failed \(MigrationFailureReason 0x800700AA\); it is still on HVC-N1"):
        lab.move()


def test_a_canceled_move(lab):
    lab.timeline = [{"migration": 1}, {"migration": 4}]
    with pytest.raises(MoveFailed, match="to HVC-N2 was canceled; it is still on HVC-N1"):
        lab.move()


def test_an_earlier_failure_kept_in_migration_state_is_not_this_move_s(lab):
    lab.state["migration"] = 5  # from an earlier attempt: kept until the next migration
    lab.timeline = [{}, {}, {"migration": 1}, {"migration": 2}, MOVED]
    assert lab.move().final["host"] == "HVC-N2"


def test_a_vm_the_cluster_put_elsewhere(lab):
    lab.timeline = [{"migration": 3}, {"migration": 0, "owner": "HVC-N3"}]
    with pytest.raises(MoveFailed, match="failover cluster HVC put VM 'sql01' .* on HVC-N3, not on HVC-N2"):
        lab.move()


def test_a_group_that_did_not_come_online_on_the_destination(lab):
    lab.timeline = [{"migration": 3}, {"migration": 0, "owner": "HVC-N2", "group_state": 2}]
    with pytest.raises(MoveFailed, match="is on HVC-N2 but its group is failed; it was online before the move"):
        lab.move()


def test_a_move_that_never_starts_times_out_saying_it_may_be_queued(lab):
    with pytest.raises(MoveFailed, match=r"is not on HVC-N2 after 10 s: it is still on HVC-N1 and the move has not started "
                                         r"\(the cluster may have queued it\)\. The move was not canceled"):
        lab.move(timeout_s=10.0)
    assert len(lab.moves) == 1 and sum(lab.waits) == 10.0


def test_polls_come_sooner_as_the_progress_nears_its_end(lab):
    lab.timeline = [{"migration": 2, "progress": 50}, {"migration": 2, "progress": 90}, MOVED]
    lab.move(poll_interval_s=4.0)
    assert lab.waits[0] == 4.0 and lab.waits[1] == pytest.approx(4.0 * 10 / 90, abs=0.01)
