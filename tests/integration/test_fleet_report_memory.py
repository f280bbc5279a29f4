"""The fleet report's memory and a planned wave, end to end against hvsim's memory lab (tests/hvsim/labs/memory.yml):
playbooks/fleet_report.yml gathers the facts, playbooks/migrate.yml -e mode=gate decides the lab's wave, and the
report is rendered again from those facts with that plan, through the real fleet_report_files action: each host's
memory now, what the plan brings in and takes away, the memory after it, the hosts it would overfill, the VM it blocked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hvsim.pytest_fixtures import hvsim_factory  # noqa: F401  pylint: disable=unused-import
from integration.lab_inventory import write_inventory

ROOT = Path(__file__).resolve().parents[2]
MEMORY_LAB = ROOT / "tests" / "hvsim" / "labs" / "memory.yml"
REPORT = ROOT / "playbooks" / "fleet_report.yml"
MIGRATE = ROOT / "playbooks" / "migrate.yml"
WAVE = [f"wave0{number}" for number in range(1, 9)]  # 6 x 8 GiB and 2 x 10 GiB, running on HV-MEM-SRC
WAVE_MB = 6 * 8192 + 2 * 10240
RESERVE_MB = 2048  # the gate's default, and the report's
# Free memory as the lab sets it: 64 GiB hosts keeping 4 GiB for themselves, less what their running VMs hold
FREE_MB = {"HV-MEM-01": 6144, "HV-MEM-02": 6144, "HV-MEM-03": 45056, "HV-MEM-04": 61440,
           "HV-MEM-SRC": 196608 - 4096 - WAVE_MB - 63488}
pytestmark = pytest.mark.every_core


def run_stats(result) -> dict:
    """The run's custom stats (ANSIBLE_SHOW_CUSTOM_STATS): what set_stats published, as AWX keeps it."""
    line = next(line for line in result.stdout.splitlines() if line.strip().startswith("RUN: "))
    return json.loads(line.split("RUN: ", 1)[1])


def plan_rows(markdown: str) -> dict[str, list[str]]:
    """The Planned wave table's cells, by host."""
    section = markdown[markdown.index("## Planned wave"):markdown.index("## Fleet baseline")]
    rows = [line.strip("|").split(" | ") for line in section.splitlines() if line.startswith("| HV-")]
    return {cells[0].strip(): [cell.strip() for cell in cells[1:]] for cells in rows}


def mb(value: int) -> str:
    return f"{value:,} MB"


def test_the_report_with_the_plan_of_a_gate_only_wave(hvsim_factory, run_playbook, tmp_path, monkeypatch):  # noqa: F811  pylint: disable=redefined-outer-name
    monkeypatch.setenv("ANSIBLE_SHOW_CUSTOM_STATS", "1")
    lab = hvsim_factory(MEMORY_LAB, migration_duration_s=1.0)
    inventory = write_inventory(lab, tmp_path / "hosts.yml")

    # 1. the facts, and the hosts' memory in the report without a plan
    gathered = run_playbook(REPORT, "-i", inventory, "-e", f"report_dir={tmp_path / 'gathered'}")
    assert gathered.returncode == 0, gathered.stdout
    facts = json.loads((tmp_path / "gathered" / "fleet-facts.json").read_text())
    assert {host: entry["memory"]["free_mb"] for host, entry in facts["hosts"].items()} == FREE_MB
    assert facts["vms"]["wave07"]["needed_mb"] == 10240 and facts["vms"]["off01"]["needed_mb"] == 32768
    markdown = (tmp_path / "gathered" / "fleet-report.md").read_text(encoding="utf-8")
    assert ("| 65,536 MB / 6,144 MB | 4,096 MB | 55,296 MB; 16,384 MB more when the VMs off start | 56 / 10 | res02a (40,960 MB), "
            "res02b (14,336 MB), res02c (16,384 MB, off) |") in markdown  # HV-MEM-02: 54 GiB held, 16 GiB more when res02c starts
    assert "## Planned wave" not in markdown and "no planned wave" in gathered.stdout

    # 2. the gate decides the wave, big01 (fits nowhere) and off01 (off: holds nothing, 32 GiB when it starts); nothing
    # moves. The wave is placed where it fits together, and off01 then finds no room left: it is blocked too.
    gate = run_playbook(MIGRATE, "-i", inventory, "-e", f"vms={','.join([*WAVE, 'big01', 'off01'])}", "-e", "mode=gate")
    assert gate.returncode == 2, gate.stdout  # big01 and off01 are blocked
    decisions = run_stats(gate)["migration_gate_decisions"]
    assert all(decisions[vm]["allowed"] for vm in WAVE) and not decisions["big01"]["allowed"]
    assert not decisions["off01"]["allowed"]
    assert all(lab.where(vm) == "HV-MEM-SRC" for vm in [*WAVE, "big01", "off01"])
    (tmp_path / "decisions.json").write_text(json.dumps(decisions))

    # 3. the report from those facts with that plan, through the real action
    planned = run_playbook(REPORT, "-e", f"facts_file={tmp_path / 'gathered' / 'fleet-facts.json'}",
                           "-e", f"plan_file={tmp_path / 'decisions.json'}", "-e", f"report_dir={tmp_path / 'planned'}")
    assert planned.returncode == 0, planned.stdout
    plan = run_stats(planned)["fleet_report"]["plan"]
    markdown = (tmp_path / "planned" / "fleet-report.md").read_text(encoding="utf-8")
    rows = plan_rows(markdown)
    assert plan["moves"] == 8 and sorted(plan["blocked"]) == ["big01", "off01"]
    incoming = {host: sum(decisions[vm]["checks"]["memory"][host]["needed_mb"] for vm in WAVE
                          if decisions[vm]["destination"] == host) for host in FREE_MB}
    assert sum(incoming.values()) == WAVE_MB and incoming["HV-MEM-SRC"] == 0
    assert plan["overfilled_hosts"] == []  # the gate planned no host past its room
    for host, free in FREE_MB.items():
        out = WAVE_MB if host == "HV-MEM-SRC" else 0
        after, overfilled = free - incoming[host] + out, free - RESERVE_MB - incoming[host] < 0
        assert plan["hosts"][host] == {
            "free_mb": free, "in_mb": incoming[host], "out_mb": out, "after_mb": after, "after_for_vms_mb": after - RESERVE_MB,
            "overfilled": overfilled, "over_mb": RESERVE_MB + incoming[host] - free if overfilled else None}, host
        assert rows[host][:2] == [mb(free), mb(free - RESERVE_MB)] and rows[host][4:6] == [mb(after), mb(after - RESERVE_MB)]
        assert rows[host][2].startswith(mb(incoming[host])) and rows[host][3].startswith(mb(out))
        assert rows[host][6] == (f"✗ **overfilled**: {mb(RESERVE_MB + incoming[host] - free)} short" if overfilled
                                 else "✓ fits" if incoming[host] else "nothing comes in")
    assert rows["HV-MEM-SRC"][3] == f"{mb(WAVE_MB)}: {', '.join(WAVE)}"
    assert plan["overfilled_hosts"] == [host for host in rows if plan["hosts"][host]["overfilled"]]
    assert ("- ✗ **big01** (blocked, on HV-MEM-SRC): \\[memory\\] HV-MEM-01 has no room for big01: it needs 63488 MB, and "
            "HV-MEM-01 has 6144 MB free") in markdown
    html = (tmp_path / "planned" / "fleet-report.html").read_text(encoding="utf-8")
    assert '<h2 id="plan">Planned wave</h2>' in html and "<b>8</b>planned moves" in html
    assert "planned wave: 8 moves; overfilled: none" in planned.stdout

    # 4. a plan made by hand, as AWX passes the gate node's artifact: the whole wave to HV-MEM-03 overfills it
    by_hand = {vm: dict(decision, destination="HV-MEM-03") if vm in WAVE else decision for vm, decision in decisions.items()}
    (tmp_path / "by_hand.json").write_text(json.dumps({"migration_gate_decisions": by_hand}))
    result = run_playbook(REPORT, "-e", f"facts_file={tmp_path / 'gathered' / 'fleet-facts.json'}",
                          "-e", f"@{tmp_path / 'by_hand.json'}", "-e", "memory_reserve_mb=4096",
                          "-e", f"report_dir={tmp_path / 'by_hand'}")
    assert result.returncode == 0, result.stdout
    hand = run_stats(result)["fleet_report"]["plan"]
    assert hand["hosts"]["HV-MEM-03"] == {"free_mb": 45056, "in_mb": WAVE_MB, "out_mb": 0, "after_mb": 45056 - WAVE_MB,
                                          "after_for_vms_mb": 45056 - WAVE_MB - 4096, "overfilled": True,
                                          "over_mb": WAVE_MB + 4096 - 45056}
    assert "HV-MEM-03" in hand["overfilled_hosts"]
    assert "| HV-MEM-03 | 45,056 MB | 40,960 MB | 69,632 MB: " in (tmp_path / "by_hand" / "fleet-report.md").read_text(encoding="utf-8")


def test_a_plan_of_the_wrong_shape_fails_naming_the_field(run_playbook, tmp_path):
    facts = ROOT / "playbooks" / "files" / "sample_facts.yml"
    (tmp_path / "plan.json").write_text(json.dumps({"web01": {"allowed": "yes", "source": "hv-gen2-a", "destination": "hv-gen2-b"}}))
    result = run_playbook(REPORT, "-e", f"facts_file={facts}", "-e", f"plan_file={tmp_path / 'plan.json'}",
                          "-e", f"report_dir={tmp_path / 'report'}")
    assert result.returncode == 2 and "plan['web01'].allowed: expected true or false, got str 'yes'" in result.stdout
    (tmp_path / "list.json").write_text(json.dumps({"migration_gate_decisions": ["web01"]}))
    result = run_playbook(REPORT, "-e", f"facts_file={facts}", "-e", f"plan_file={tmp_path / 'list.json'}",
                          "-e", f"report_dir={tmp_path / 'report'}")
    assert result.returncode == 2 and "plan: expected a mapping of VM to its gate decision" in result.stdout
    result = run_playbook(REPORT, "-e", f"facts_file={facts}", "-e", "memory_reserve_mb=lots",
                          "-e", f"report_dir={tmp_path / 'report'}")
    assert result.returncode == 2 and "memory_reserve_mb: must be a whole number of MB, 0 or more, got str 'lots'" in result.stdout
    assert not (tmp_path / "report").exists()
