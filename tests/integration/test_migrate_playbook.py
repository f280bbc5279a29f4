"""playbooks/migrate.yml run by ansible-playbook against hvsim: one VM, a wave, check mode, reruns, artifacts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hvsim import inventory
from integration.ansible_output import task_failure
from hvsim.pytest_fixtures import (  # noqa: F401  pylint: disable=unused-import
    HVSIM_PASSWORD,
    HVSIM_USER,
    hvsim_factory,
    hvsim_lab,
    hvsim_session,
)

PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "migrate.yml"
RUNNING_APP01 = "1F3B5D7A-2C4E-4A6B-8D0F-1A2B3C4D5E05"
SAVED_APP01 = "1F3B5D7A-2C4E-4A6B-8D0F-1A2B3C4D5E06"
MIGRATE = "Invoke:MigrateVirtualSystemToHost"
pytestmark = pytest.mark.every_core  # each playbook test runs on ansible-core 2.19 and 2.16 (conftest.py)


def recap_totals(stdout: str) -> dict[str, int]:
    """The PLAY RECAP's counts summed over its hosts."""
    totals: dict[str, int] = {}
    recap = stdout.split("PLAY RECAP", 1)[-1] if "PLAY RECAP" in stdout else ""
    for line in recap.splitlines():
        if re.match(r"^\S.*\s:\s+ok=", line):
            for key, value in re.findall(r"(\w+)=(\d+)", line.split(" : ", 1)[1]):
                totals[key] = totals.get(key, 0) + int(value)
    return totals


@pytest.fixture
def migrate(run_playbook, tmp_path, monkeypatch):
    """migrate(sim, *args, playbook=PLAYBOOK) -> (CompletedProcess, recap summed over every host, decisions from the custom stats)."""
    monkeypatch.setenv("ANSIBLE_SHOW_CUSTOM_STATS", "1")

    def run(sim, *args: str, playbook=PLAYBOOK):
        hosts = {
            name: inventory.host_vars(handle.bind, handle.http_port, "http", "ntlm", HVSIM_USER, HVSIM_PASSWORD, None)
            for name, handle in sim.hosts.items()
        }
        (tmp_path / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {"hyperv": {"hosts": hosts}}}}))
        result = run_playbook(playbook, "-i", str(tmp_path / "hosts.yml"), "-e", "limit_poll=0.2", *args)
        recap = recap_totals(result.stdout)
        decisions = {}
        for line in result.stdout.splitlines():
            if line.strip().startswith("RUN: "):
                decisions = json.loads(line.split("RUN: ", 1)[1])["migration_gate_decisions"]
        return result, recap, decisions

    return run


def test_one_vm_blocked_fails_the_run_with_its_reasons(hvsim_lab, migrate):
    result, recap, decisions = migrate(hvsim_lab, "-e", "vm=db01", "-e", "destination=HV-OLD-01")
    message = task_failure(result)
    assert message.startswith("BLOCKED: db01 may not move from HV-NEW-01 to HV-OLD-01")
    assert "bits the host lacks: 0xE0 (bits 5, 6, 7)" in message and "What to do:" in message
    # Readable at a terminal: Ansible prints the message itself, line by line, before the JSON result.
    assert "\nReasons, per host:\n  HV-OLD-01 (destination):\n    - [vectors] " in result.stdout
    assert recap["failed"] == 1 and decisions["db01"]["verdict"] == "blocked"
    assert "CUSTOM STATS" in result.stdout
    assert MIGRATE not in hvsim_lab.counters("HV-NEW-01")


def test_the_source_is_found_the_vm_moved_and_a_rerun_changes_nothing(hvsim_lab, migrate):
    result, recap, decisions = migrate(hvsim_lab, "-e", "vm=web01", "-e", "destination=HV-NEW-01")
    assert result.returncode == 0, result.stdout
    assert recap["changed"] == 1 and decisions["web01"]["source"] == "HV-OLD-01" and decisions["web01"]["moved"]
    assert "web01: MOVED from HV-OLD-01 to HV-NEW-01" in result.stdout
    assert hvsim_lab.where("web01") == "HV-NEW-01"

    result, recap, decisions = migrate(hvsim_lab, "-e", "vm=web01", "-e", "destination=HV-NEW-01")
    assert result.returncode == 0, result.stdout
    assert recap["changed"] == 0 and recap["failed"] == 0 and recap["ignored"] == 0
    assert decisions["web01"]["verdict"] == "already_there" and "web01: already on HV-NEW-01" in result.stdout
    assert decisions["web01"]["source"] is None and decisions["web01"]["destination"] == "HV-NEW-01"
    assert hvsim_lab.counters("HV-OLD-01")[MIGRATE] == 1


def test_by_its_collection_name_in_gate_mode(hvsim_lab, migrate):
    result, recap, decisions = migrate(hvsim_lab, "-e", "vm=web01", "-e", "source=HV-OLD-01", "-e", "mode=gate",
                                       "-e", "destination=HV-NEW-01", playbook="vmgate.hyperv.migrate")
    assert result.returncode == 0, result.stdout
    assert recap["changed"] == 0 and decisions["web01"]["verdict"] == "allowed" and decisions["web01"]["move"] is None
    assert "web01: ALLOWED from HV-OLD-01 to HV-NEW-01" in result.stdout
    assert hvsim_lab.where("web01") == "HV-OLD-01"


def test_check_mode_moves_nothing(hvsim_lab, migrate):
    result, _recap, decisions = migrate(hvsim_lab, "-e", "vm=web01", "--check")
    assert result.returncode == 0, result.stdout
    assert "web01: would move from HV-OLD-01 to HV-NEW-01 (check mode)" in result.stdout
    assert decisions["web01"]["check_mode"] is True and decisions["web01"]["moved"] is False
    assert hvsim_lab.where("web01") == "HV-OLD-01" and MIGRATE not in hvsim_lab.counters("HV-OLD-01")


def test_a_wave_moves_what_it_may_and_fails_once_with_the_rest(hvsim_lab, migrate):
    # Candidates default to every host of group hyperv but the VM's own.
    result, _recap, decisions = migrate(hvsim_lab, "-e", "vms=web01,legacy01,db01")
    message = task_failure(result)
    assert message.startswith("1 of 3 VMs did not move.\n\nBLOCKED: no candidate can take legacy01 from HV-OLD-02")
    assert "Live migration is turned off on the source HV-OLD-02" in message
    assert "web01: MOVED from HV-OLD-01 to HV-NEW-01" in result.stdout
    assert "legacy01: BLOCKED" in result.stdout and "db01: MOVED from HV-NEW-01 to HV-NEW-02" in result.stdout
    assert [decisions[vm]["moved"] for vm in ("web01", "legacy01", "db01")] == [True, False, True]
    assert (hvsim_lab.where("web01"), hvsim_lab.where("legacy01"), hvsim_lab.where("db01")) == ("HV-NEW-01", "HV-OLD-02", "HV-NEW-02")


def test_a_wave_to_one_destination_stays_within_its_limit(hvsim_lab, migrate):
    # HV-NEW-02 takes one live migration at a time. Both gates run at once and both may find its slot free: Hyper-V
    # then refuses one request at submission, and that VM is sent again once the other's migration ended.
    result, _recap, decisions = migrate(hvsim_lab, "-e", f"vms=web01,{RUNNING_APP01}", "-e", "destination=HV-NEW-02")
    assert result.returncode == 0, result.stdout
    assert all(decisions[vm]["moved"] for vm in ("web01", RUNNING_APP01))
    assert hvsim_lab.peak_migrations()["HV-NEW-02"] == 1  # never two at once
    requests = hvsim_lab.migration_requests()
    for guid in (hvsim_lab.guid("web01"), RUNNING_APP01):
        *refused, last = requests[guid]
        assert last["state"] == 7 and all(job["state"] == 10 and "migration limit of 1" in job["error"] for job in refused)
    assert hvsim_lab.where("web01") == hvsim_lab.where(RUNNING_APP01) == "HV-NEW-02"


def test_a_vm_named_several_ways_in_a_wave_is_gated_and_moved_once(hvsim_lab, migrate):
    web01 = hvsim_lab.guid("web01")
    result, _recap, decisions = migrate(hvsim_lab, "-e", f"vms=web01,WEB01,{{{web01.lower()}}},db01")
    assert result.returncode == 0, result.stdout
    assert sorted(decisions) == ["db01", "web01"] and decisions["web01"]["moved"]
    assert "web01: MOVED from HV-OLD-01" in result.stdout and "WEB01:" not in result.stdout
    assert hvsim_lab.counters("HV-OLD-01")[MIGRATE] == 1 and len(hvsim_lab.migration_requests()[web01]) == 1


def test_an_override_moves_a_blocked_vm_and_says_so(hvsim_lab, migrate):
    reason = "CHG-0815: app01 is saved on purpose; its owner restores it on HV-NEW-01"
    result, _recap, decisions = migrate(hvsim_lab, "-e", f"vm={SAVED_APP01}", "-e", "destination=HV-NEW-01",
                                        "-e", json.dumps({"override_reason": reason}))
    assert result.returncode == 0, result.stdout
    decision = decisions[SAVED_APP01]
    assert decision["verdict"] == "overridden" and decision["override"]["reason"] == reason and decision["moved"]
    assert "is OVERRIDDEN" in result.stdout and f"{SAVED_APP01}: MOVED from HV-NEW-02 to HV-NEW-01 (override)" in result.stdout
    assert hvsim_lab.where(SAVED_APP01) == "HV-NEW-01"


def test_an_unclear_request_is_refused(hvsim_lab, migrate):
    result, _recap, _decisions = migrate(hvsim_lab, "-e", "vm=web01", "-e", "vms=db01")
    assert "Say which VM to move and where" in task_failure(result)
    assert hvsim_lab.request_count() == 0


def test_the_demo_blocks_one_vm_moves_another_and_stops_its_simulator():
    root = PLAYBOOK.parents[1]
    result = subprocess.run([sys.executable, str(root / "dev"), "demo"], cwd=root, text=True, check=False,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    assert result.returncode == 0, result.stdout
    assert "BLOCKED: db01 may not move from HV-NEW-01 to HV-OLD-01" in result.stdout
    assert "1. db01: BLOCKED (4 reasons) (exit code 2, as expected" in result.stdout
    assert "2. web01: MOVED from HV-OLD-01 to HV-NEW-01" in result.stdout
    assert '"HV-NEW-01: web01 (Running), db01 (Running), batch01 (Off)' in result.stdout
