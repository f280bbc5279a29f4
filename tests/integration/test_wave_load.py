"""A wave in parallel through playbooks/migrate.yml: 12 VMs on 4 hosts allowing 1 or 2 live migrations each.

What must hold whatever the timing (benchmarks/load_wave.py measures the time): no host runs more live migrations
at once than its limit, no VM is migrated twice, every VM is accounted for and is where the play says. Plus vm_move
waiting out a refusal for a host's limit, and a wave in check mode moving nothing.
"""

from __future__ import annotations

import json
import threading

import pytest
import yaml

from hvsim import inventory
from hvsim.pytest_fixtures import HVSIM_PASSWORD, HVSIM_USER, hvsim_factory  # noqa: F401  pylint: disable=unused-import
from integration.ansible_output import task_failure
from integration.wave_load import audit, load_lab, run_wave

MIGRATE = "Invoke:MigrateVirtualSystemToHost"
LAB = load_lab(hosts=4, vms=12, limits=[1, 2])
VMS = [vm["name"] for vm in LAB["vms"]]


@pytest.fixture
def wave_lab(hvsim_factory):  # pylint: disable=redefined-outer-name
    # Jobs long enough for the gates of 4 VMs at a time to overlap with the migrations they start
    return hvsim_factory(LAB, migration_duration_s=1.5)


def test_a_parallel_wave_keeps_every_limit_moves_no_vm_twice_and_accounts_for_every_vm(wave_lab, tmp_path):
    wave = run_wave(wave_lab, VMS, tmp_path, "-e", "limit_poll=0.3", forks=4)
    found = audit(wave_lab, LAB, VMS, wave.decisions)
    assert found.problems == [], wave.result.stdout[-3000:]
    assert sorted(found.moved + found.stayed) == VMS and found.migrations == len(found.moved)
    assert all(found.peaks[host] <= limit for host, limit in found.limits.items())
    # A VM that stayed was held back by a host's limit alone (the gate's own verdict, all else being compatible)
    for name in found.stayed:
        assert {reason["check"] for reason in wave.decisions[name]["reasons"]} == {"migration limit"}, wave.decisions[name]
    summary = [line.strip().strip('",') for line in wave.result.stdout.split("TASK [Summarize the run]", 1)[1].splitlines()]
    for name in VMS:
        destination = wave.decisions[name]["destination"]
        expected = f"{name}: MOVED from {LAB['vms'][VMS.index(name)]['host']} to {destination}" if name in found.moved \
            else f"{name}: BLOCKED"
        assert any(line.startswith(expected) for line in summary), (expected, summary)
    if found.stayed:
        assert task_failure(wave.result).startswith(f"{len(found.stayed)} of {len(VMS)} VMs did not move.")
    else:
        assert wave.result.returncode == 0, wave.result.stdout[-3000:]


def test_a_wave_in_check_mode_decides_for_every_vm_and_moves_nothing(wave_lab, tmp_path):
    wave = run_wave(wave_lab, VMS[:6], tmp_path, "--check", forks=3)
    assert wave.result.returncode == 0, wave.result.stdout[-3000:]
    assert sorted(wave.decisions) == VMS[:6] and all(decision["check_mode"] for decision in wave.decisions.values())
    assert all(MIGRATE not in wave_lab.counters(host) for host in wave_lab.hosts)
    assert all(wave_lab.where(vm["name"]) == vm["host"] for vm in LAB["vms"])


def test_vm_move_sends_again_a_request_refused_for_the_destinations_limit(wave_lab, run_playbook, tmp_path):
    hosts = {name: inventory.host_vars(handle.bind, handle.http_port, "http", "ntlm", HVSIM_USER, HVSIM_PASSWORD, None)
             for name, handle in wave_lab.hosts.items()}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {"hyperv": {"hosts": hosts}}}}))
    out = tmp_path / "move.json"
    move = {"name": "Move", "register": "moved", "delegate_to": "HV01",
            "vmgate.hyperv.vm_move": {"vm": "vm001", "destination": "HV02", "poll_interval": 0.1,
                                      "limit_wait": 60, "limit_poll": 0.3}}
    keep = {"name": "Keep", "ansible.builtin.copy": {"content": "{{ moved | to_json }}", "dest": str(out), "mode": "0600"}}
    play = {"name": "Move", "hosts": "localhost", "gather_facts": False, "tasks": [move, keep]}
    (tmp_path / "play.yml").write_text(yaml.safe_dump([play]))
    wave_lab.inject("HV02", "migration_limit")  # HV02 runs as many live migrations as it allows
    freed = threading.Event()

    def free_a_slot_once_refused():
        # Free HV02's slots once vm_move has been refused (no timing assumed: it waits for the refusal)
        while not freed.wait(0.1):
            if any(job["state"] == 10 for job in wave_lab.jobs("HV01")):
                wave_lab.clear_faults("HV02")
                freed.set()

    helper = threading.Thread(target=free_a_slot_once_refused, daemon=True)
    helper.start()
    try:
        result = run_playbook(tmp_path / "play.yml", "-i", str(tmp_path / "hosts.yml"))
    finally:
        freed.set()
        helper.join()
    assert result.returncode == 0, result.stdout
    moved = json.loads(out.read_text())
    jobs = wave_lab.migration_requests()[wave_lab.guid("vm001")]
    assert moved["limit_refusals"] == len(jobs) - 1 >= 1 and moved["final"]["host"] == "HV02"
    assert [job["state"] for job in jobs] == [10] * (len(jobs) - 1) + [7] and wave_lab.where("vm001") == "HV02"


def test_a_gate_only_wave_of_many_vms_asks_hyper_v_about_one_candidate_per_vm(hvsim_factory, tmp_path):
    # 20 VMs (more than the wave decides at once), each compatible with the 3 other hosts: every VM is allowed after
    # one pre-check and one blob check, the next candidate asked only when that one fails. Nothing moves.
    lab = load_lab(hosts=4, vms=20, limits=[2])
    names = [vm["name"] for vm in lab["vms"]]
    sim = hvsim_factory(lab)
    wave = run_wave(sim, names, tmp_path, "-e", "mode=gate")
    assert wave.result.returncode == 0, wave.result.stdout[-3000:]
    assert sorted(wave.decisions) == names and all(decision["allowed"] for decision in wave.decisions.values())
    asked = {op: sum(sim.counters(host).get(op, 0) for host in sim.hosts)
             for op in ("Invoke:CheckSystemCompatibilityInfo", "Invoke:CheckVirtualSystemIsMigratableToHost", MIGRATE)}
    assert asked == {"Invoke:CheckSystemCompatibilityInfo": 20, "Invoke:CheckVirtualSystemIsMigratableToHost": 20,
                     MIGRATE: 0}
    assert all(len(decision["checks"]["hyperv"]) == 1 for decision in wave.decisions.values())
    # the VMs spread over the candidates (each VM asks in its own turn), not all onto the host whose name sorts first
    assert len({decision["destination"] for decision in wave.decisions.values()}) == 4
