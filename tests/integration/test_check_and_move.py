"""compat_check and vm_move run by ansible-playbook against hvsim: verdicts, moves, and every failure."""

from __future__ import annotations

import json

import pytest
import yaml

from hvsim import inventory
from integration.ansible_output import task_failure
from hvsim.pytest_fixtures import (  # noqa: F401  pylint: disable=unused-import
    HVSIM_PASSWORD,
    HVSIM_USER,
    hvsim_cluster,
    hvsim_cluster_session,
    hvsim_factory,
    hvsim_lab,
    hvsim_session,
)

WEB01 = "6C9A2A5F-7F1B-4D4B-9C1E-0F0E1D2C3B4A"


@pytest.fixture
def play(run_playbook, tmp_path):
    """Run tasks in a localhost play with every simulated host in the inventory; returns (result, registered)."""

    def run(sim, tasks: list[dict], *args: str):
        hosts = {
            name: inventory.host_vars(handle.bind, handle.http_port, "http", "ntlm", HVSIM_USER, HVSIM_PASSWORD, None)
            for name, handle in sim.hosts.items()
        }
        (tmp_path / "inventory.yml").write_text(yaml.safe_dump({"all": {"children": {"hyperv": {"hosts": hosts}}}}))
        out = tmp_path / "registered.json"
        out.unlink(missing_ok=True)
        keep = {"name": "Keep the results", "check_mode": False,
                "ansible.builtin.copy": {"content": "{{ registered | to_json }}", "dest": str(out), "mode": "0600"},
                "vars": {"registered": "{{ {'check': check | default(None), 'move': move | default(None)} }}"}}
        playbook = tmp_path / "play.yml"
        playbook.write_text(yaml.safe_dump([{"name": "Play", "hosts": "localhost", "gather_facts": False,
                                             "tasks": tasks + [keep]}]))
        result = run_playbook(playbook, "-i", str(tmp_path / "inventory.yml"), *args)
        return result, (json.loads(out.read_text()) if out.exists() else None)

    return run


def gather_blob(vm: str, source: str) -> dict:
    return {"name": "Gather the VM with its blob", "vmgate.hyperv.compat_facts": {"vms": [vm], "include_blob": True},
            "delegate_to": source, "delegate_facts": True}


def check(vm_source: str, destination: str, **extra) -> dict:
    return {"name": "Check", "register": "check", "delegate_to": destination,
            "vmgate.hyperv.compat_check": {"vm": f"{{{{ hostvars['{vm_source}'].hyperv_compat.vms[0] }}}}",
                                           "source": vm_source, **extra}}


def move(vm: str, source: str, destination: str, **extra) -> dict:
    return {"name": "Move", "register": "move", "delegate_to": source,
            "vmgate.hyperv.vm_move": {"vm": vm, "destination": destination, "poll_interval": 0.1, **extra}}


def test_compatible_destination_with_a_warning(hvsim_lab, play):
    result, registered = play(hvsim_lab, [gather_blob("web01", "HV-OLD-01"), check("HV-OLD-01", "HV-NEW-01")])
    assert result.returncode == 0, result.stdout
    verdict = registered["check"]
    assert verdict["compatible"] is True and verdict["reasons"] == []
    assert verdict["checks"]["blob"]["return_value"] == 0 and verdict["checks"]["migratable"]["is_migratable"] is True
    assert any("DVD drive" in warning for warning in verdict["compatibility_warnings"])
    assert "[WARNING]: HV-NEW-01: Virtual machine 'web01' has a DVD drive" in result.stdout.replace("\n", " ")


def test_blob_check_blocks_what_the_vectors_allow(hvsim_lab, play):
    # legacy01 runs in processor compatibility mode, so its vectors fit HV-NEW-02; the lab's rule rejects it there.
    result, registered = play(hvsim_lab, [gather_blob("legacy01", "HV-OLD-02"), check("HV-OLD-02", "HV-NEW-02")])
    assert result.returncode == 0, result.stdout
    verdict = registered["check"]
    assert verdict["compatible"] is False and verdict["checks"]["blob"]["return_value"] == 32784
    assert verdict["reasons"] and all(isinstance(reason, str) and reason for reason in verdict["reasons"])


def test_vector_mismatch_is_reported_by_hyperv_too(hvsim_lab, play):
    result, registered = play(hvsim_lab, [gather_blob("db01", "HV-NEW-01"), check("HV-NEW-01", "HV-OLD-01")])
    assert result.returncode == 0, result.stdout
    assert registered["check"]["compatible"] is False
    assert registered["check"]["checks"]["migratable"]["is_migratable"] is False


def test_a_refused_precheck_is_explained_from_both_migration_services(hvsim_lab, play):
    # legacy01's host HV-OLD-02 has live migration off: the pre-check says only "Invalid State".
    result, registered = play(hvsim_lab, [gather_blob("legacy01", "HV-OLD-02"), check("HV-OLD-02", "HV-OLD-01")])
    assert result.returncode == 0, result.stdout
    verdict = registered["check"]
    assert verdict["compatible"] is False and verdict["checks"]["migratable"]["return_value"] == 5
    assert verdict["reason_details"] == [{
        "host": "HV-OLD-02", "role": "source", "check": "migration service",
        "message": "Live migration is turned off on the source HV-OLD-02, so it sends no live migrations "
                   "(EnableVirtualSystemMigration is false). Turn it on there (Enable-VMMigration) and run again."}]
    assert verdict["reasons"] == [detail["message"] for detail in verdict["reason_details"]]
    settings_reads = "Enumerate:Msvm_VirtualSystemMigrationServiceSettingData"
    assert hvsim_lab.counters("HV-OLD-02")[settings_reads] == 2  # gathered, then read again to explain
    assert hvsim_lab.counters("HV-OLD-01")[settings_reads] == 1


@pytest.mark.parametrize("unreadable", [False, True])
def test_a_refusal_the_services_do_not_explain_keeps_the_precheck_words(hvsim_lab, play, unreadable):
    gathered = gather_blob("web01", "HV-OLD-01")
    hvsim_lab.set_vm_state("web01", 32770)  # Starting: the pre-check refuses the state, the services are fine
    if unreadable:  # the explanation cannot be read: the refusal still stands, never a "compatible"
        hvsim_lab.inject("HV-NEW-01", "wmi_fault", op="Enumerate:Msvm_VirtualSystemMigrationServiceSettingData", times=5)
    result, registered = play(hvsim_lab, [gathered, check("HV-OLD-01", "HV-NEW-01")])
    assert result.returncode == 0, result.stdout
    verdict = registered["check"]
    assert verdict["compatible"] is False
    assert [(detail["host"], detail["check"]) for detail in verdict["reason_details"]] == [("HV-OLD-01", "Hyper-V")]
    assert "CheckVirtualSystemIsMigratableToHost returned 5 (Invalid State)" in verdict["reasons"][0]


def test_check_needs_the_blob(hvsim_lab, play):
    tasks = [{"name": "Gather without blob", "vmgate.hyperv.compat_facts": {"vms": ["web01"]},
              "delegate_to": "HV-OLD-01", "delegate_facts": True}, check("HV-OLD-01", "HV-NEW-01")]
    message = task_failure(play(hvsim_lab, tasks)[0])
    assert "include_blob: true" in message and "compatibility_info" in message


def test_move_follows_the_job_confirms_and_is_idempotent(hvsim_lab, play):
    result, registered = play(hvsim_lab, [move("web01", "HV-OLD-01", "HV-NEW-01", expected_state=2)], "-v")
    assert result.returncode == 0, result.stdout
    moved = registered["move"]
    assert moved["changed"] is True and moved["job_id"] and moved["vm"] == {"id": WEB01, "name": "web01"}
    assert moved["final"] == {"host": "HV-NEW-01", "state": 2, "state_name": "Running"}
    percents = [step["percent"] for step in moved["progress"]]
    assert percents == sorted(percents) and percents[-1] == 100 and len(percents) >= 2
    assert "migration to HV-NEW-01" in result.stdout and "% (Running)" in result.stdout  # verbose progress
    assert hvsim_lab.where("web01") == "HV-NEW-01"

    result, registered = play(hvsim_lab, [move("web01", "HV-OLD-01", "HV-NEW-01")])
    assert result.returncode == 0 and registered["move"]["changed"] is False
    assert "already on HV-NEW-01" in registered["move"]["msg"]
    assert hvsim_lab.counters("HV-OLD-01").get("Invoke:MigrateVirtualSystemToHost") == 1


def test_check_mode_moves_nothing(hvsim_lab, play):
    result, registered = play(hvsim_lab, [move("web01", "HV-OLD-01", "HV-NEW-01")], "--check")
    assert result.returncode == 0, result.stdout
    assert registered["move"]["changed"] is True and "would move" in registered["move"]["msg"]
    assert hvsim_lab.where("web01") == "HV-OLD-01"
    assert "Invoke:MigrateVirtualSystemToHost" not in hvsim_lab.counters("HV-OLD-01")


def test_a_job_failing_midway_leaves_the_vm_on_the_source(hvsim_lab, play):
    hvsim_lab.inject("HV-OLD-01", "migration_fail", percent=50, message="The network connection was interrupted.")
    message = task_failure(play(hvsim_lab, [move("web01", "HV-OLD-01", "HV-NEW-01")])[0])
    assert "ended Exception with ErrorCode 32768 (Failed)" in message
    assert "The network connection was interrupted" in message
    assert "is still on HV-OLD-01" in message
    assert hvsim_lab.where("web01") == "HV-OLD-01"


def test_a_full_destination_fails_the_job_with_its_reason(hvsim_lab, play):
    hvsim_lab.inject("HV-NEW-02", "migration_limit")
    message = task_failure(play(hvsim_lab, [move("web01", "HV-OLD-01", "HV-NEW-02")])[0])
    assert "limit" in message and "is still on HV-OLD-01" in message


@pytest.mark.parametrize("phase, moves", [("after", True), ("before", False)])
def test_a_lost_migration_reply_is_never_resent(hvsim_lab, play, phase, moves):
    """The connection drops on the migration request: after it took effect, or before."""
    hvsim_lab.inject("HV-OLD-01", "drop", op="Invoke:MigrateVirtualSystemToHost", times=1, phase=phase)
    result, registered = play(hvsim_lab, [move("web01", "HV-OLD-01", "HV-NEW-01")])
    assert hvsim_lab.counters("HV-OLD-01")["Invoke:MigrateVirtualSystemToHost"] == 1  # sent once, whatever happened
    if moves:
        assert result.returncode == 0, result.stdout
        assert registered["move"]["final"]["host"] == "HV-NEW-01" and hvsim_lab.where("web01") == "HV-NEW-01"
    else:
        message = task_failure(result)
        assert "was not sent again" in message and "did not take effect" in message
        assert hvsim_lab.where("web01") == "HV-OLD-01"


def test_a_connection_dropped_while_polling_is_survived(hvsim_lab, play):
    hvsim_lab.inject("HV-OLD-01", "drop", op="Get:Msvm_MigrationJob", times=1)
    result, registered = play(hvsim_lab, [move("web01", "HV-OLD-01", "HV-NEW-01")])
    assert result.returncode == 0, result.stdout
    assert registered["move"]["final"]["host"] == "HV-NEW-01"
    assert hvsim_lab.counters("HV-OLD-01")["Invoke:MigrateVirtualSystemToHost"] == 1


def test_a_vm_that_changed_state_since_the_decision_is_not_moved(hvsim_lab, play):
    hvsim_lab.set_vm_state("web01", "saved")
    message = task_failure(play(hvsim_lab, [move("web01", "HV-OLD-01", "HV-NEW-01", expected_state=2)])[0])
    assert "is Saved (32769) on HV-OLD-01, not Running (2)" in message and "Gate it again" in message
    assert "Invoke:MigrateVirtualSystemToHost" not in hvsim_lab.counters("HV-OLD-01")


def test_a_vm_that_is_elsewhere_is_reported(hvsim_lab, play):
    message = task_failure(play(hvsim_lab, [move("db01", "HV-OLD-01", "HV-NEW-02")])[0])
    assert "on neither HV-OLD-01 nor HV-NEW-02" in message


def test_a_job_outliving_the_timeout_is_reported_not_cancelled(hvsim_factory, play):
    sim = hvsim_factory(migration_duration_s=5)
    message = task_failure(play(sim, [move("web01", "HV-OLD-01", "HV-NEW-01", timeout=1)])[0])
    assert "still runs after 1 s" in message and "not cancelled" in message


def test_the_destination_must_be_in_the_inventory(hvsim_lab, play):
    message = task_failure(play(hvsim_lab, [move("web01", "HV-OLD-01", "hv-nowhere")])[0])
    assert "hv-nowhere: not a host of the inventory" in message


def test_vm_move_moves_a_clustered_vm_through_its_cluster(hvsim_cluster, play):
    result, registered = play(hvsim_cluster, [move("sql01", "HVC-N1", "HVC-N2")])
    assert result.returncode == 0, result.stdout
    moved = registered["move"]
    assert moved["changed"] and moved["through_cluster"] == "HVC" and moved["final"]["host"] == "HVC-N2"
    assert [call["method"] for call in hvsim_cluster.cluster_moves()] == ["MoveToNewNodeParams"]
    assert hvsim_cluster.cluster_violations() == [] and hvsim_cluster.where("sql01") == "HVC-N2"
    assert all("Invoke:MigrateVirtualSystemToHost" not in hvsim_cluster.counters(host) for host in hvsim_cluster.hosts)


def test_vm_move_refuses_to_take_a_clustered_vm_out_of_its_cluster(hvsim_cluster, play):
    result, _registered = play(hvsim_cluster, [move("sql01", "HVC-N1", "HV-SA-01")])
    message = task_failure(result)
    assert "sql01 is a role of failover cluster HVC: it moves only through the cluster, to one of its nodes." in message
    assert "Hyper-V's MigrateVirtualSystemToHost would move it behind the cluster's back, so it was not sent" in message
    assert hvsim_cluster.where("sql01") == "HVC-N1" and hvsim_cluster.cluster_moves() == []
    assert hvsim_cluster.cluster_violations() == []


def test_vm_move_moves_a_vm_that_is_not_clustered_on_a_node_with_hyper_v(hvsim_cluster, play):
    result, registered = play(hvsim_cluster, [move("tools01", "HVC-N2", "HVC-N1")])
    assert result.returncode == 0, result.stdout
    assert registered["move"]["through_cluster"] is None and registered["move"]["job_id"]
    assert hvsim_cluster.where("tools01") == "HVC-N1" and hvsim_cluster.cluster_moves() == []


def test_vm_move_of_a_clustered_vm_in_check_mode_sends_nothing_and_is_idempotent(hvsim_cluster, play):
    result, registered = play(hvsim_cluster, [move("sql01", "HVC-N1", "HVC-N2")], "--check")
    assert result.returncode == 0, result.stdout
    assert registered["move"]["changed"] and "would move from HVC-N1 to HVC-N2" in registered["move"]["msg"]
    assert hvsim_cluster.cluster_moves() == [] and hvsim_cluster.where("sql01") == "HVC-N1"
    result, registered = play(hvsim_cluster, [move("sql01", "HVC-N1", "HVC-N1")])
    assert result.returncode == 0, result.stdout
    assert not registered["move"]["changed"] and "already on HVC-N1" in registered["move"]["msg"]
    assert hvsim_cluster.cluster_moves() == []


def test_a_clustered_vm_owned_by_another_node_than_the_source_is_not_moved(hvsim_cluster, play):
    """The source says where the VM was gated: a role the cluster moved elsewhere since is not moved from there. By its
    id, as a wave moves it (by its name, the source's own search already finds it missing)."""
    sql01 = hvsim_cluster.guid("sql01")
    result, _registered = play(hvsim_cluster, [move(sql01, "HVC-N3", "HVC-N2")])  # sql01 runs on HVC-N1
    message = task_failure(result)
    assert " is on HVC-N1, not on HVC-N3 as when the decision was made; nothing was moved. Gate it again." in message
    assert hvsim_cluster.cluster_moves() == [] and hvsim_cluster.where("sql01") == "HVC-N1"
