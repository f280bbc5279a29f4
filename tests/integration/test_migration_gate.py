"""The migration_gate role run by ansible-playbook against hvsim: every verdict, the move, and what goes wrong.

Each test includes the role in a small play (against localhost unless said otherwise) with every simulated host
in the inventory's group hyperv, and reads the decision back from the run's custom stats (set_stats).
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field

import pytest
import yaml

from hvsim import inventory
from hvsim.pytest_fixtures import (  # noqa: F401  pylint: disable=unused-import
    HVSIM_PASSWORD,
    HVSIM_USER,
    hvsim_factory,
    hvsim_lab,
    hvsim_session,
)

WEB01 = "6C9A2A5F-7F1B-4D4B-9C1E-0F0E1D2C3B4A"
SAVED_APP01 = "1F3B5D7A-2C4E-4A6B-8D0F-1A2B3C4D5E06"
MIGRATE = "Invoke:MigrateVirtualSystemToHost"
pytestmark = pytest.mark.every_core  # each playbook test runs on ansible-core 2.19 and 2.16 (conftest.py)


@dataclass
class Run:
    """One ansible-playbook run: its output, exit code, recap and the published decisions."""

    returncode: int
    stdout: str
    recap: dict[str, int] = field(default_factory=dict)
    decisions: dict[str, dict] = field(default_factory=dict)

    def decision(self, vm: str) -> dict:
        assert vm in self.decisions, self.stdout
        return self.decisions[vm]

    @property
    def failure(self) -> str:
        """The one message the run failed with (fatal results that were not ignored)."""
        assert self.returncode == 2, self.stdout
        lines = self.stdout.splitlines()
        fatal = [line for index, line in enumerate(lines)
                 if line.startswith("fatal:") and not (index + 1 < len(lines) and lines[index + 1] == "...ignoring")]
        assert len(fatal) == 1, self.stdout
        return json.loads(fatal[0].split("=>", 1)[1])["msg"]


def write_inventory(path, sim) -> str:
    """Every simulated host in group hyperv, over HTTP with NTLM and message encryption."""
    hosts = {
        name: inventory.host_vars(handle.bind, handle.http_port, "http", "ntlm", HVSIM_USER, HVSIM_PASSWORD, None)
        for name, handle in sim.hosts.items()
    }
    path.write_text(yaml.safe_dump({"all": {"children": {"hyperv": {"hosts": hosts}}}}))
    return str(path)


def parse(result) -> Run:
    run = Run(result.returncode, result.stdout)
    match = re.search(r"^localhost\s+:\s+(.*)$", result.stdout, re.MULTILINE)
    if match:
        run.recap = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}
    for line in result.stdout.splitlines():
        if line.strip().startswith("RUN: "):
            run.decisions = json.loads(line.split("RUN: ", 1)[1]).get("migration_gate_decisions", {})
    return run


@pytest.fixture
def gate(run_playbook, tmp_path, monkeypatch):
    """gate(sim, *ansible_args, hosts='localhost', run_once=False, **role_vars) -> Run."""
    monkeypatch.setenv("ANSIBLE_SHOW_CUSTOM_STATS", "1")

    def run(sim, *args: str, hosts: str = "localhost", run_once: bool = False, **role_vars) -> Run:
        role_vars.setdefault("migration_gate_move_poll", 0.1)
        task = {"name": "Gate the VM", "ansible.builtin.include_role": {"name": "vmgate.hyperv.migration_gate"},
                "vars": role_vars}
        if run_once:
            task["run_once"] = True
        playbook = tmp_path / "gate.yml"
        playbook.write_text(yaml.safe_dump([{"name": "Gate", "hosts": hosts, "gather_facts": False, "tasks": [task]}]))
        return parse(run_playbook(playbook, "-i", write_inventory(tmp_path / "hosts.yml", sim), *args))

    return run


def reason_checks(decision: dict, host: str) -> list[str]:
    return [reason["check"] for reason in decision["reasons"] if reason["host"] == host]


def test_a_vector_mismatch_blocks_with_every_reason_per_host(hvsim_lab, gate):
    run = gate(hvsim_lab, migration_gate_vm="db01", migration_gate_source="HV-NEW-01",
               migration_gate_destination="HV-OLD-01", migration_gate_mode="move")
    message = run.failure
    assert message.startswith("BLOCKED: db01 may not move from HV-NEW-01 to HV-OLD-01 (")
    assert "HV-OLD-01 (destination):\n    - [vectors] The VM uses ProcessorFeatures (vector 1) bits the host lacks" in message
    assert "ProcessorXSave (vector 2) bits the host lacks: 0xE0 (bits 5, 6, 7)" in message
    assert "[Hyper-V] The virtual machine 'db01' is using processor-specific features" in message
    assert "What to do:" in message and "migration_gate_override_reason" in message and "{" not in message
    decision = run.decision("db01")
    assert decision["verdict"] == "blocked" and decision["allowed"] is False and decision["moved"] is False
    assert reason_checks(decision, "HV-OLD-01")[:2] == ["vectors", "vectors"]
    assert decision["checks"]["vectors"]["HV-OLD-01"]["compatible"] is False
    assert decision["state"] == "Running"  # the version is left to Hyper-V's checks: the gate does not read it
    assert hvsim_lab.where("db01") == "HV-NEW-01" and MIGRATE not in hvsim_lab.counters("HV-NEW-01")


def test_hyperv_blocks_what_the_vectors_allow(hvsim_lab, gate):
    # legacy01 fits HV-NEW-02 by its vectors (processor compatibility mode); HV-NEW-02 rejects it (legacy NIC).
    # Its own host, HV-OLD-02, has live migration off in the lab: turn it on so Hyper-V's check is the only reason.
    with hvsim_lab.lab.lock:
        hvsim_lab.lab.host("HV-OLD-02").migration.enabled = True
    run = gate(hvsim_lab, migration_gate_vm="legacy01", migration_gate_source="HV-OLD-02",
               migration_gate_destination="HV-NEW-02")
    decision = run.decision("legacy01")
    assert decision["verdict"] == "blocked"
    assert decision["checks"]["vectors"]["HV-NEW-02"]["compatible"] is True
    assert set(reason_checks(decision, "HV-NEW-02")) == {"Hyper-V"} and reason_checks(decision, "HV-OLD-02") == []
    assert "uses a legacy network adapter, which 'HV-NEW-02' does not support" in run.failure
    assert decision["checks"]["hyperv"]["HV-NEW-02"]["checks"]["blob"]["return_value"] == 32784


def test_live_migration_off_on_the_destination_and_on_the_source(hvsim_lab, gate):
    run = gate(hvsim_lab, migration_gate_vm="web01", migration_gate_source="HV-OLD-01",
               migration_gate_destination="HV-OLD-02")
    assert "Live migration is turned off on HV-OLD-02" in run.failure and "Enable-VMMigration" in run.failure
    assert "migration service" in reason_checks(run.decision("web01"), "HV-OLD-02")

    run = gate(hvsim_lab, migration_gate_vm="legacy01", migration_gate_source="HV-OLD-02",
               migration_gate_destination="HV-OLD-01")
    assert "Live migration is turned off on the source HV-OLD-02" in run.failure
    assert "HV-OLD-02 (source):" in run.failure


def test_a_full_destination_blocks_unless_a_slot_frees_within_the_wait(hvsim_lab, gate):
    hvsim_lab.inject("HV-NEW-02", "migration_limit")
    run = gate(hvsim_lab, migration_gate_vm="web01", migration_gate_source="HV-OLD-01",
               migration_gate_destination="HV-NEW-02", migration_gate_mode="move")
    assert "HV-NEW-02 is at its limit of 1 simultaneous live migrations: 1 running now" in run.failure
    assert "migration limit" in reason_checks(run.decision("web01"), "HV-NEW-02")

    # The slot frees while the gate waits: once it has read HV-NEW-02's migration service a second time.
    hvsim_lab.reset_counters()
    thread = when_served(hvsim_lab, "HV-NEW-02", "Enumerate:Msvm_VirtualSystemMigrationService", 2,
                         lambda: hvsim_lab.clear_faults("HV-NEW-02"))
    run = gate(hvsim_lab, migration_gate_vm="web01", migration_gate_source="HV-OLD-01",
               migration_gate_destination="HV-NEW-02", migration_gate_mode="move",
               migration_gate_limit_wait=10, migration_gate_limit_poll=0.3)
    thread.join(5)
    assert run.returncode == 0, run.stdout
    decision = run.decision("web01")
    waited = decision["checks"]["limit_wait"]
    assert waited["host"] == "HV-NEW-02" and waited["freed"] is True and 0 < float(waited["seconds"]) < 10
    assert "Waiting for a free live-migration slot on HV-NEW-02 (1 of 1 running)" in run.stdout
    assert decision["moved"] is True
    assert hvsim_lab.where("web01") == "HV-NEW-02"


def test_a_full_destination_still_full_after_the_wait_blocks(hvsim_lab, gate):
    hvsim_lab.inject("HV-NEW-02", "migration_limit")
    started = time.monotonic()
    run = gate(hvsim_lab, migration_gate_vm="web01", migration_gate_source="HV-OLD-01",
               migration_gate_destination="HV-NEW-02", migration_gate_limit_wait=1, migration_gate_limit_poll=0.25)
    assert time.monotonic() - started >= 1
    assert "still after waiting 1.0 s" in run.failure
    assert run.decision("web01")["checks"]["limit_wait"]["freed"] is False


def test_a_full_source_is_waited_for_and_blocks_when_it_stays_full(hvsim_lab, gate):
    # The source runs as many live migrations as it allows: the gate reads its limit and waits for a slot there too.
    hvsim_lab.inject("HV-OLD-01", "migration_limit")
    run = gate(hvsim_lab, migration_gate_vm="web01", migration_gate_source="HV-OLD-01",
               migration_gate_destination="HV-NEW-01", migration_gate_limit_wait=1, migration_gate_limit_poll=0.25)
    assert "The source HV-OLD-01 is at its limit of 2 simultaneous live migrations: 2 running now" in run.failure
    assert run.decision("web01")["checks"]["limit_wait"] == {"host": "HV-OLD-01", "seconds": 1.0, "freed": False}

    hvsim_lab.reset_counters()
    thread = when_served(hvsim_lab, "HV-OLD-01", "Enumerate:Msvm_VirtualSystemMigrationService", 2,
                         lambda: hvsim_lab.clear_faults("HV-OLD-01"))
    run = gate(hvsim_lab, migration_gate_vm="web01", migration_gate_source="HV-OLD-01",
               migration_gate_destination="HV-NEW-01", migration_gate_limit_wait=10, migration_gate_limit_poll=0.3)
    thread.join(5)
    assert run.returncode == 0, run.stdout
    decision = run.decision("web01")
    assert decision["verdict"] == "allowed" and decision["checks"]["limit_wait"]["freed"] is True
    assert "Waiting for a free live-migration slot on HV-OLD-01 (2 of 2 running)" in run.stdout


def test_allowed_then_moved_then_an_idempotent_rerun(hvsim_lab, gate):
    run = gate(hvsim_lab, migration_gate_vm="web01", migration_gate_source="HV-OLD-01",
               migration_gate_destination="HV-NEW-01", migration_gate_mode="move")
    assert run.returncode == 0, run.stdout
    assert run.recap["changed"] == 1 and run.recap["failed"] == 0
    decision = run.decision("web01")
    assert decision["verdict"] == "allowed" and decision["moved"] is True and decision["reasons"] == []
    assert decision["move"]["final"] == {"host": "HV-NEW-01", "state": 2, "state_name": "Running"}
    assert any("DVD drive" in warning["message"] for warning in decision["warnings"])
    assert "ALLOWED: web01 may move from HV-OLD-01 to HV-NEW-01." in run.stdout
    assert "MOVED: VM 'web01'" in run.stdout and "It is Running on HV-NEW-01 now." in run.stdout
    assert hvsim_lab.where("web01") == "HV-NEW-01"

    # The same request again: web01 is not on HV-OLD-01 any more but on the destination, so nothing is done.
    run = gate(hvsim_lab, migration_gate_vm="web01", migration_gate_source="HV-OLD-01",
               migration_gate_destination="HV-NEW-01", migration_gate_mode="move")
    assert run.returncode == 0, run.stdout
    assert run.recap["changed"] == 0 and run.recap["failed"] == 0
    assert run.decision("web01")["verdict"] == "already_there" and run.decision("web01")["destination"] == "HV-NEW-01"
    assert "ALREADY THERE: web01 is already on HV-NEW-01; nothing to do." in run.stdout
    assert hvsim_lab.counters("HV-OLD-01")[MIGRATE] == 1


def test_check_mode_gates_and_moves_nothing(hvsim_lab, gate):
    run = gate(hvsim_lab, "--check", migration_gate_vm="web01", migration_gate_source="HV-OLD-01",
               migration_gate_destination="HV-NEW-01", migration_gate_mode="move")
    assert run.returncode == 0, run.stdout
    decision = run.decision("web01")
    assert decision["allowed"] is True and decision["moved"] is False and decision["check_mode"] is True
    assert "would move" in decision["move"]["msg"] and "CHECK MODE:" in run.stdout
    assert hvsim_lab.where("web01") == "HV-OLD-01" and MIGRATE not in hvsim_lab.counters("HV-OLD-01")


def test_candidates_the_closest_usable_fit_is_chosen_and_each_is_explained(hvsim_lab, gate):
    run = gate(hvsim_lab, migration_gate_vm="web01", migration_gate_candidates="HV-OLD-02, HV-NEW-02,HV-NEW-01")
    assert run.returncode == 0, run.stdout
    decision = run.decision("web01")
    assert decision["source"] == "HV-OLD-01" and decision["destination"] == "HV-NEW-01"
    why = {item["host"]: item["why"] for item in decision["selection"]}
    assert [item["host"] for item in decision["selection"]] == ["HV-NEW-01", "HV-NEW-02", "HV-OLD-02"]
    assert why["HV-NEW-01"].startswith("chosen: compatible by its vectors and by Hyper-V, 9 surplus feature bits")
    assert why["HV-NEW-02"].startswith("compatible too, ranked after HV-NEW-01")
    # HV-OLD-02 is the closest fit by its vectors, but live migration is off there.
    assert why["HV-OLD-02"].startswith("compatible by its vectors (0 surplus feature bits) but left out: Live migration is turned off")
    assert "Candidates, best first:" in run.stdout

    # With HV-NEW-01 at its limit, HV-NEW-02 (same fit, a free slot) is chosen; the full one is not asked at all.
    hvsim_lab.inject("HV-NEW-01", "migration_limit")
    run = gate(hvsim_lab, migration_gate_vm="web01", migration_gate_candidates=["HV-OLD-02", "HV-NEW-01", "HV-NEW-02"])
    decision = run.decision("web01")
    assert decision["destination"] == "HV-NEW-02", run.stdout
    assert "at its limit of 2" in {item["host"]: item["why"] for item in decision["selection"]}["HV-NEW-01"]
    assert "HV-NEW-01" not in decision["checks"]["hyperv"]


def test_candidates_none_fits(hvsim_lab, gate):
    run = gate(hvsim_lab, migration_gate_vm="db01", migration_gate_candidates=["HV-OLD-01", "HV-OLD-02", "HV-NEW-01"])
    message = run.failure
    assert message.startswith("BLOCKED: no candidate can take db01 from HV-NEW-01 (")
    assert "HV-OLD-01 (candidate):" in message and "HV-OLD-02 (candidate):" in message
    assert "HV-NEW-01 (candidate)" not in message  # the source is left out of the candidates
    assert run.decision("db01")["destination"] is None


def test_an_override_allows_with_its_reason_recorded_and_announced(hvsim_lab, gate):
    reason = "CHG-4711: db01 accepted by its owner to run without AVX-512 until Friday"
    run = gate(hvsim_lab, migration_gate_vm="db01", migration_gate_source="HV-NEW-01",
               migration_gate_destination="HV-OLD-01", migration_gate_override_reason=reason)
    assert run.returncode == 0, run.stdout
    decision = run.decision("db01")
    assert decision["verdict"] == "overridden" and decision["allowed"] is True
    assert decision["override"] == {"reason": reason, "overridden_reasons": len(decision["reasons"])}
    assert len(decision["reasons"]) >= 2  # the block's reasons are kept
    assert "WARNING: the gate's block on db01 is OVERRIDDEN." in run.stdout and reason in run.stdout
    assert MIGRATE not in hvsim_lab.counters("HV-NEW-01")  # gate mode: nothing moved


@pytest.mark.parametrize("reason", ["", "   "])
def test_an_empty_override_reason_is_refused(hvsim_lab, gate, reason):
    run = gate(hvsim_lab, migration_gate_vm="db01", migration_gate_source="HV-NEW-01",
               migration_gate_destination="HV-OLD-01", migration_gate_override_reason=reason)
    assert "migration_gate_override_reason is empty or blank" in run.failure
    assert hvsim_lab.request_count() == 0


def test_contradictory_requests_are_refused_before_any_request(hvsim_lab, gate):
    run = gate(hvsim_lab, migration_gate_vm="web01", migration_gate_destination="HV-NEW-01",
               migration_gate_candidates=["HV-NEW-02"], migration_gate_source="hv-nowhere")
    assert "not both" in run.failure and "hv-nowhere is not a host of the inventory" in run.failure
    assert hvsim_lab.request_count() == 0


def test_a_saved_vm_is_blocked(hvsim_lab, gate):
    run = gate(hvsim_lab, migration_gate_vm=SAVED_APP01, migration_gate_destination="HV-NEW-01")
    assert "app01 is Saved" in run.failure and "Start-VM" in run.failure
    decision = run.decision(SAVED_APP01)
    assert decision["source"] == "HV-NEW-02" and decision["checks"]["state"] == {"value": 32769, "name": "Saved", "allowed": False}


def test_a_name_several_vms_share_is_blocked_with_their_ids(hvsim_lab, gate):
    run = gate(hvsim_lab, migration_gate_vm="app01", migration_gate_destination="HV-NEW-01")
    assert "2 VMs match \"app01\"" in run.failure and SAVED_APP01 in run.failure
    assert run.decision("app01")["outcome"] == "ambiguous"


def test_a_job_failing_midway_leaves_the_vm_on_the_source_and_is_recorded(hvsim_lab, gate):
    hvsim_lab.inject("HV-OLD-01", "migration_fail", percent=50, message="The network connection was interrupted.")
    run = gate(hvsim_lab, migration_gate_vm="web01", migration_gate_source="HV-OLD-01",
               migration_gate_destination="HV-NEW-01", migration_gate_mode="move")
    message = run.failure
    assert "The network connection was interrupted" in message and "is still on HV-OLD-01" in message
    decision = run.decision("web01")
    assert decision["allowed"] is True and decision["moved"] is False and decision["move"]["failed"] is True
    assert decision["message"].splitlines()[-1].startswith("MOVE FAILED: HV-OLD-01: the migration job of VM 'web01'")
    assert hvsim_lab.where("web01") == "HV-OLD-01"


@pytest.mark.parametrize("op, phase", [("Get:Msvm_MigrationJob", "before"), (MIGRATE, "after")])
def test_a_dropped_connection_during_the_move_never_sends_a_second_migration(hvsim_lab, gate, op, phase):
    hvsim_lab.inject("HV-OLD-01", "drop", op=op, times=1, phase=phase)
    run = gate(hvsim_lab, migration_gate_vm="web01", migration_gate_source="HV-OLD-01",
               migration_gate_destination="HV-NEW-01", migration_gate_mode="move")
    assert run.returncode == 0, run.stdout
    assert hvsim_lab.counters("HV-OLD-01")[MIGRATE] == 1
    decision = run.decision("web01")
    assert decision["moved"] is True and decision["move"]["final"]["host"] == "HV-NEW-01"  # as the hosts tell it
    assert hvsim_lab.where("web01") == "HV-NEW-01"


def when_served(sim, host: str, op: str, count: int, action) -> threading.Thread:
    """Run action() as soon as `host` has served `op` `count` times (watched from a thread)."""

    def watch():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if sim.counters(host).get(op, 0) >= count:
                action()
                return
            time.sleep(0.01)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def change_before_the_move(sim, change) -> threading.Thread:
    """Run change() while vm_move looks for the VM on HV-OLD-01 (its second Msvm_ComputerSystem enumeration there;
    the first is the gate's own read): that request is held back 1.5 s, and change() runs meanwhile."""
    sim.inject("HV-OLD-01", "latency", op="Enumerate:Msvm_ComputerSystem", nth=2, times=1, ms=1500)
    return when_served(sim, "HV-OLD-01", "Enumerate:Msvm_ComputerSystem", 2, change)


def test_a_vm_whose_state_changed_after_the_decision_is_not_moved(hvsim_lab, gate):
    thread = change_before_the_move(hvsim_lab, lambda: hvsim_lab.set_vm_state("web01", "saved"))
    run = gate(hvsim_lab, migration_gate_vm="web01", migration_gate_source="HV-OLD-01",
               migration_gate_destination="HV-NEW-01", migration_gate_mode="move")
    thread.join(5)
    assert "is Saved (32769) on HV-OLD-01, not Running (2) as when the decision was made" in run.failure
    assert run.decision("web01")["verdict"] == "allowed" and run.decision("web01")["move"]["failed"] is True
    assert MIGRATE not in hvsim_lab.counters("HV-OLD-01") and hvsim_lab.where("web01") == "HV-OLD-01"


def test_a_vm_moved_by_someone_else_after_the_decision(hvsim_lab, gate):
    def move_it():
        with hvsim_lab.lab.lock:
            hvsim_lab.lab.vm("web01").host = "HV-NEW-01"

    thread = change_before_the_move(hvsim_lab, move_it)
    run = gate(hvsim_lab, migration_gate_vm="web01", migration_gate_source="HV-OLD-01",
               migration_gate_destination="HV-NEW-01", migration_gate_mode="move")
    thread.join(5)
    assert run.returncode == 0, run.stdout
    decision = run.decision("web01")
    assert decision["moved"] is False and "already on HV-NEW-01" in decision["move"]["msg"]
    assert "NOTHING TO MOVE:" in run.stdout and MIGRATE not in hvsim_lab.counters("HV-OLD-01")


def test_the_role_inside_a_play_against_a_hyperv_host(hvsim_lab, gate):
    run = gate(hvsim_lab, hosts="HV-OLD-01", run_once=True, migration_gate_vm="web01",
               migration_gate_source="HV-OLD-01", migration_gate_destination="HV-NEW-01", migration_gate_mode="move")
    assert run.returncode == 0, run.stdout
    assert re.search(r"^HV-OLD-01\s+:\s+ok=\d+\s+changed=1\s", run.stdout, re.MULTILINE), run.stdout
    assert run.decision("web01")["moved"] is True and hvsim_lab.where("web01") == "HV-NEW-01"
