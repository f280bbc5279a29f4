"""vmgate.hyperv.fleet_report_files run by ansible-playbook, on both ansible-cores: what it writes and returns, check
mode, a file left alone when unchanged, and its three sources of facts (playbooks/fleet_report.yml is in
test_fleet_report.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from ansible_output import task_failure
from lab_inventory import write_inventory

from hvsim.pytest_fixtures import HVSIM_PASSWORD, hvsim_cluster, hvsim_cluster_session  # noqa: F401  pylint: disable=unused-import

pytestmark = pytest.mark.every_core

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_FACTS = ROOT / "playbooks" / "files" / "sample_facts.yml"
FLEET = {
    "hosts": {"hv-old": [{"vector_id": 1, "compare_operation": 2, "compatibility_info": 15}],
              "hv-new": [{"vector_id": 1, "compare_operation": 2, "compatibility_info": 255}]},
    "vms": {"web01": {"host": "hv-old", "vectors": [{"vector_id": 1, "compare_operation": 2, "compatibility_info": 3}]},
            "db01": {"host": "hv-new", "vectors": [{"vector_id": 1, "compare_operation": 2, "compatibility_info": 255}]}},
}


@pytest.fixture
def write_report(run_playbook, tmp_path):
    """write_report(options, *args, before=[tasks]) -> (CompletedProcess, the task's result): one fleet_report_files task,
    after the tasks `before`."""

    def run(options: dict, *args: str, before: tuple = ()):
        saved = tmp_path / "result.json"
        play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
            *before,
            {"name": "Write the report", "vmgate.hyperv.fleet_report_files": options, "register": "written"},
            {"name": "Keep the result", "ansible.builtin.copy": {"content": "{{ written | to_json }}", "dest": str(saved)},
             "check_mode": False},
        ]}]
        playbook = tmp_path / "play.yml"
        playbook.write_text(yaml.safe_dump(play))
        saved.unlink(missing_ok=True)
        result = run_playbook(playbook, *args)
        return result, json.loads(saved.read_text()) if saved.exists() else None

    return run


def test_writes_the_three_files_and_returns_a_summary_never_the_matrix(write_report, tmp_path):
    dest = tmp_path / "report"
    result, returned = write_report({"fleet": FLEET, "dest": str(dest), "title": "Cluster <A>"}, "--check")
    assert result.returncode == 0, result.stdout
    assert not dest.exists() and returned["changed"] and returned["msg"].startswith(f"Would write {dest}/fleet-report.html (")
    assert returned["written"] == [str(dest / name) for name in ("fleet-report.html", "fleet-report.md", "fleet-facts.json")]

    result, returned = write_report({"fleet": FLEET, "dest": str(dest), "title": "Cluster <A>"})
    assert result.returncode == 0, result.stdout
    assert returned["changed"] and returned["msg"].startswith(f"Wrote {dest}/fleet-report.html (")
    assert returned["files"] == {"html": str(dest / "fleet-report.html"), "markdown": str(dest / "fleet-report.md"),
                                 "facts": str(dest / "fleet-facts.json")}
    html = (dest / "fleet-report.html").read_text(encoding="utf-8")
    assert "<title>Cluster &lt;A&gt;</title>" in html and "Source: the fleet given to the task" in html
    assert returned["bytes"]["html"] == len(html.encode())
    assert returned["summary"]["pairs"] == 4 and returned["summary"]["compatible_pairs"] == 3
    assert returned["groups"] == [["hv-new"], ["hv-old"]] and returned["blocked_entries"] == 1
    assert "markdown" not in returned and "cells" not in json.dumps(returned)
    assert json.loads((dest / "fleet-facts.json").read_text()) == FLEET
    assert oct((dest / "fleet-report.html").stat().st_mode & 0o777) == "0o644"
    assert not [path.name for path in dest.iterdir() if path.name.startswith(".")]  # no temporary file left

    facts_written = (dest / "fleet-facts.json").stat().st_mtime_ns
    result, returned = write_report({"fleet": FLEET, "dest": str(dest), "title": "Cluster <A>", "return_markdown": True})
    assert result.returncode == 0, result.stdout
    assert str(dest / "fleet-facts.json") not in returned["written"]  # the same facts: left alone
    assert (dest / "fleet-facts.json").stat().st_mtime_ns == facts_written
    assert returned["markdown"] == (dest / "fleet-report.md").read_text(encoding="utf-8")


def test_a_relative_facts_file_is_read_from_where_ansible_playbook_runs(write_report, tmp_path):
    relative = os.path.relpath(SAMPLE_FACTS)
    result, returned = write_report({"facts_file": relative, "dest": str(tmp_path / "report")})
    assert result.returncode == 0, result.stdout
    assert returned["source"] == f"facts file {relative}"
    assert returned["summary"]["vms"] == 3 and returned["summary"]["compatible_pairs"] == 8


def test_the_facts_of_each_host_as_compat_facts_gathers_them(write_report, tmp_path):
    facts = {
        "hv01": {"host": {"vectors": FLEET["hosts"]["hv-old"], "migration_service": {
            "live_migration_enabled": False, "listener_addresses": [], "active_vm_migrations": 0, "max_vm_migrations": 2}},
            "vms": [{"name": "web01", "id": "A", "state_name": "Running", "vectors": FLEET["vms"]["web01"]["vectors"]}]},
        "hv02": {"host": {"vectors": FLEET["hosts"]["hv-new"]}, "vms": []},
    }
    result, returned = write_report({"facts_by_host": facts, "dest": str(tmp_path / "report")})
    assert result.returncode == 0, result.stdout
    assert returned["source"] == "compat_facts of 2 hosts"
    assert returned["summary"]["hosts_not_receiving"] == ["hv01"]
    saved = json.loads((tmp_path / "report" / "fleet-facts.json").read_text())
    assert saved["vms"]["web01"] == {"name": "web01", "id": "A", "host": "hv01", "state": "Running",
                                     "vectors": FLEET["vms"]["web01"]["vectors"], "cluster": None,  # facts without cluster
                                     "needed_mb": None, "virtual_processors": None}  # or memory keys
    assert saved["hosts"]["hv01"]["cluster"] is None and returned["summary"]["clusters"] == 0
    assert saved["hosts"]["hv01"]["memory"] == {"total_mb": None, "free_mb": None, "logical_processors": None}
    assert returned["plan"] is None and returned["memory_reserve_mb"] == 2048 and returned["summary"]["planned_moves"] is None


def test_the_failover_clusters_of_the_hvsim_cluster_lab(write_report, hvsim_cluster, tmp_path):
    """compat_facts of cluster HVC's three nodes (HVC-N3 without AVX-512, HVC-N2 paused) and the standalone HV-SA-01,
    through the module: the cluster section says which roles a drain could not move."""
    hvsim_cluster.set_node_state("HVC-N2", "paused")
    gather = {"name": "Read every VM of every host", "vmgate.hyperv.compat_facts": {"vms": "all"},
              "delegate_to": "{{ item }}", "delegate_facts": True, "loop": "{{ groups['hyperv'] }}"}
    options = {"facts_by_host": "{{ dict(groups['hyperv'] | zip(groups['hyperv'] | map('extract', hostvars, 'hyperv_compat'))) }}",
               "dest": str(tmp_path / "report"), "return_markdown": True}
    result, returned = write_report(options, "-i", write_inventory(hvsim_cluster, tmp_path / "hosts.yml"), before=(gather,))
    assert result.returncode == 0, result.stdout
    assert returned["summary"]["clusters"] == 1 and returned["summary"]["hosts"] == 4

    facts = json.loads((tmp_path / "report" / "fleet-facts.json").read_text())
    assert facts["hosts"]["HVC-N2"]["cluster"] == {"name": "HVC", "node": "HVC-N2", "state": "paused"}
    assert facts["hosts"]["HV-SA-01"]["cluster"] is None and facts["vms"]["tools01"]["cluster"] is None
    assert facts["vms"]["file01"]["cluster"] == {"cluster": "HVC", "group": "file01", "owner_node": "HVC-N1",
                                                 "possible_owners": ["HVC-N1", "HVC-N2"]}
    assert "wsman" not in json.dumps(facts) and "10.20." not in json.dumps(facts) and HVSIM_PASSWORD not in json.dumps(facts)

    markdown = returned["markdown"]
    section = markdown[markdown.index("## Failover clusters"):markdown.index("## Host groups")]
    assert "### Cluster HVC" in section and section.count("### Cluster ") == 1
    assert "| HVC-N1 | HVC-N1 | up | app01, file01, sql01 |" in section
    assert "| HVC-N2 | HVC-N2 | paused | app02 |" in section
    assert "- fit every node: app01, app02, batch01, file01\n" in section  # batch01 is off: no feature in use
    assert "- not clustered, so a drain does not move them: tools01\n" in section
    # sql01 uses AVX-512: not on HVC-N3, and HVC-N2, which fits it, is paused
    assert ("- ✗ **sql01** (group sql01, on HVC-N1): cannot run on HVC-N3; **stuck**: a drain of HVC-N1 has no node up "
            "it can move it to.\n") in section
    # file01 may run on HVC-N1 and HVC-N2 only: it fits both, but HVC-N2 is paused
    assert "- ✗ **file01** (group file01, on HVC-N1): **stuck**: a drain of HVC-N1" in section
    assert [line.split("**")[1] for line in section.splitlines() if line.startswith("- ✗ ")] == ["file01", "sql01"]
    assert "- **1** failover clusters; standalone hosts: HV-SA-01" in markdown
    assert "| HV-SA-01 | 1 | standalone |" in markdown and "| HVC-N2 | 1 | HVC (paused) |" in markdown
    html = (tmp_path / "report" / "fleet-report.html").read_text(encoding="utf-8")
    assert '<h3 id="cluster-1">Cluster HVC</h3>' in html and "<p>Standalone hosts (no failover cluster): HV-SA-01.</p>" in html


def test_refusals_name_the_problem(write_report, tmp_path):
    dest = str(tmp_path / "report")
    result, _returned = write_report({"fleet": FLEET, "facts_file": str(SAMPLE_FACTS), "dest": dest})
    assert "mutually exclusive" in task_failure(result)
    result, _returned = write_report({"dest": dest})
    assert "one of the following is required: fleet, facts_by_host, facts_file" in task_failure(result)
    result, _returned = write_report({"facts_file": str(tmp_path / "missing.json"), "dest": dest})
    assert "missing.json" in task_failure(result)
    (tmp_path / "list.json").write_text("[1, 2]")
    result, _returned = write_report({"facts_file": str(tmp_path / "list.json"), "dest": dest})
    assert f"facts file {tmp_path / 'list.json'}: expected a mapping with 'hosts' and 'vms'" in task_failure(result)
    result, _returned = write_report({"fleet": FLEET, "plan": {}, "plan_file": str(SAMPLE_FACTS), "dest": dest})
    assert "mutually exclusive: plan|plan_file" in task_failure(result)
    result, _returned = write_report({"fleet": FLEET, "plan": {"web01": {"allowed": True, "source": "hv-old"}}, "dest": dest})
    assert "plan['web01'].destination: an allowed decision names its destination host, got None" in task_failure(result)
    result, _returned = write_report({"fleet": FLEET, "plan_file": str(tmp_path / "missing-plan.json"), "dest": dest})
    assert "missing-plan.json" in task_failure(result)
    result, _returned = write_report({"fleet": {"hosts": {}, "vms": {}}, "dest": dest})
    assert "fleet.hosts: is empty; the report needs at least one host" in task_failure(result)
    assert not Path(dest).exists()
