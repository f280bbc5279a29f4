"""The filters and the test plugin, loaded and run by ansible-playbook."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"


def recap(output: str) -> dict[str, int]:
    match = re.search(r"^localhost\s+:\s+(.*)$", output, re.MULTILINE)
    assert match, output
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


def test_every_plugin_behaves_inside_ansible(run_playbook):
    result = run_playbook(PLAYBOOKS / "engine_plugins.yml")
    assert result.returncode == 0, result.stdout
    counts = recap(result.stdout)
    # Each of the six malformed inputs must be rejected inside its block, none accepted.
    assert counts["failed"] == 0 and counts["rescued"] == 6, result.stdout


def test_plan_fleet_blocks_one_migration_with_reasons_and_allows_another(run_playbook):
    result = run_playbook(REPO / "playbooks" / "plan_fleet.yml")
    assert result.returncode == 0, result.stdout
    assert "BLOCKED: web01 from hv-gen2-a to hv-gen1-a" in result.stdout
    assert "bits the host lacks: 0xFC000000000 (bits 38, 39, 40, 41, 42, 43)" in result.stdout
    assert "bits the host lacks: 0xE0 (bits 5, 6, 7)" in result.stdout
    assert "ALLOWED: legacy01 from hv-gen2-a to hv-gen1-a" in result.stdout
    assert "free to roam: legacy01" in result.stdout


def test_a_failed_gate_stops_the_play_with_every_reason(run_playbook, tmp_path):
    playbook = tmp_path / "gate.yml"
    playbook.write_text(
        f"""
- hosts: localhost
  gather_facts: false
  vars_files: [{REPO / 'playbooks' / 'files' / 'sample_facts.yml'}]
  tasks:
    - vars:
        destination: "{{{{ sample_hosts['hv-gen1-b'].vectors }}}}"
        report: "{{{{ sample_vms.sql01.vectors | vmgate.hyperv.compat_report(destination) }}}}"
      ansible.builtin.assert:
        that: sample_vms.sql01.vectors is vmgate.hyperv.compatible_with(destination)
        fail_msg: "{{{{ report.reasons | map(attribute='message') | join(' | ') }}}}"
    - ansible.builtin.debug:
        msg: must not be reached
"""
    )
    result = run_playbook(playbook)
    assert result.returncode == 2, result.stdout
    assert "bits the host lacks: 0xC000000000 (bits 38, 39)" in result.stdout
    assert "must not be reached" not in result.stdout
