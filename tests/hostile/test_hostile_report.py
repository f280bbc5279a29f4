"""The fleet report with hostile names, through playbooks/fleet_report.yml run by ansible-playbook, and by
ansible-runner as AWX runs it against hvsim: no name injects markup, breaks a Markdown table, hides in characters
that do not show, or hides another VM; the facts file keeps every name as it is; the report's directory is checked in
check mode too; a blank answer counts as not given."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from hvsim.pytest_fixtures import HVSIM_PASSWORD, hvsim_factory, hvsim_lab, hvsim_session  # noqa: F401  pylint: disable=unused-import
from hvsim.lab import VirtualMachine
from integration.ansible_output import task_failure
from integration.conftest import run_playbook  # noqa: F401  pylint: disable=unused-import
from integration.test_awx_runner import assert_no_secret, awx_job  # noqa: F401  pylint: disable=unused-import
from integration.test_fleet_report import fleet_report  # noqa: F401  pylint: disable=unused-import

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "playbooks" / "fleet_report.yml"
SAMPLE_FACTS = ROOT / "playbooks" / "files" / "sample_facts.yml"
NAMES = {
    "script": '<script>alert("vm")</script>',
    "attribute": '" onmouseover="alert(1)',
    "quote": "it's <b>&amp;</b>",
    "markdown": "a|b`c`*d*_e_[x](y)~~s~~",
    "heading": "# top #",
    "newline": "web\n| x | y |\r- item",
    "separators": "ls\u2028ps\u2029nel\x85vt\x0bff\x0c",
    "rtl": "\u202eexe.txt",
    "zero_width": "web01\u200b",
    "long": "L" * 3000,
}
# what a reader cannot see, and must not meet raw in a page
NOT_SHOWN = "\u202e\u200b\u2028\u2029\x85\x0b\x0c\r"


class Tags(HTMLParser):
    """Every element and attribute of a page, and the title of every cell."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.titles: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes.update(name for name, _value in attrs)
        self.titles += [value for name, value in attrs if name == "title" and tag == "td"]


def hostile_facts(tmp_path: Path, names) -> Path:
    """The sample facts with a VM of each name (web01's vectors, on hv-gen2-a), and a host and cluster so named."""
    facts = yaml.safe_load(SAMPLE_FACTS.read_text(encoding="utf-8"))
    web01 = facts["sample_vms"]["web01"]
    facts["sample_vms"].update({name: dict(web01, state=name) for name in names})
    facts["sample_hosts"][NAMES["attribute"] + NAMES["markdown"]] = facts["sample_hosts"].pop("hv-gen1-b")
    facts["sample_hosts"]["hv-gen2-a"]["cluster"] = {"name": NAMES["heading"] + NAMES["rtl"], "node": "N1", "state": "up"}
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(facts))
    return path


def tables(markdown: str) -> list[list[str]]:
    """The Markdown's tables: runs of lines that begin with |."""
    found, current = [], []
    for line in markdown.split("\n"):
        if line.startswith("|"):
            current.append(line)
        elif current:
            found, current = [*found, current], []
    return found


def cells(row: str) -> int:
    """The cells of a table row: the | that are not backslash-escaped, less one."""
    return re.sub(r"\\.", "", row).count("|") - 1


def assert_markdown_intact(markdown: str) -> None:
    assert markdown.split("\n") == markdown.splitlines() + [""] * markdown.endswith("\n")  # no other line break
    for table in tables(markdown):
        assert len({cells(row) for row in table}) == 1, table
    headings = [line for line in markdown.splitlines() if line.startswith("#")]
    assert headings[0] == markdown.splitlines()[0]  # the title; no name begins another heading
    assert all(re.match(r"#{2,3} [A-Z\u2717]", line) for line in headings[1:]), headings


def test_no_name_injects_markup_or_breaks_a_table(fleet_report, tmp_path):  # pylint: disable=redefined-outer-name
    _result, benign = fleet_report("-e", f"facts_file={SAMPLE_FACTS}")
    _result, hostile = fleet_report("-e", f"facts_file={hostile_facts(tmp_path, NAMES.values())}", "-e", f"report_title={NAMES['script']}")
    html, markdown = hostile["html"], hostile["markdown"]
    # the same elements and attributes as a report of plain names: no script, no handler, no attribute broken out of
    page, plain = Tags(html), Tags(benign["html"])
    assert page.tags == plain.tags and page.attributes == plain.attributes
    assert "<script" not in html and "<b>&amp;" not in html and 'onmouseover="' not in html
    assert "it&#39;s &lt;b&gt;&amp;amp;&lt;/b&gt;" in html
    script_row = [title for title in page.titles if title.startswith(NAMES["script"] + " can")]
    assert len(script_row) == 4  # one cell per host, each title holding the whole name
    assert any(f"run on {NAMES['attribute']}{NAMES['markdown']}" in title for title in page.titles)
    assert NAMES["long"] in html and NAMES["long"] in markdown  # shown whole

    assert_markdown_intact(markdown)
    assert "<script" not in markdown and "[x](y)" not in markdown and "\\[x\\](y)" in markdown
    assert "| \\# top \\# |" in markdown  # not a heading, and its last # no heading's closing sequence
    assert "| web \\| x \\| y \\| - item |" in markdown  # the line breaks folded, the | escaped

    for text in (html, markdown):
        assert not set(NOT_SHOWN) & set(text)
        assert "\\u202eexe.txt" in text and "web01\\u200b" in text  # written so that it shows
    # the data stays as it was: every name, literally
    assert set(NAMES.values()) <= set(json.loads(hostile["facts"])["vms"])


def test_the_plays_summary_shows_names_as_the_pages_do(fleet_report, tmp_path):  # pylint: disable=redefined-outer-name
    facts = yaml.safe_load(SAMPLE_FACTS.read_text(encoding="utf-8"))
    facts["sample_hosts"][NAMES["rtl"] + NAMES["separators"]] = facts["sample_hosts"].pop("hv-gen1-b")
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(facts))
    result, _written = fleet_report("-e", f"facts_file={path}")
    summary = result.stdout[result.stdout.index("TASK [Show the summary]"):]
    line = next(line for line in summary.splitlines() if "host groups: " in line)
    assert "u202eexe.txt" in line and not any(char in summary for char in NOT_SHOWN), line  # escaped, on one line


def test_a_lone_surrogate_is_shown_and_read_back(fleet_report, tmp_path):  # pylint: disable=redefined-outer-name
    facts = hostile_facts(tmp_path, ["web\ud800"])  # the JSON holds it as \ud800
    _result, written = fleet_report("-e", f"facts_file={facts}")
    assert "web\\ud800" in written["html"] and "web\\ud800" in written["markdown"]
    assert "web\ud800" in json.loads(written["facts"])["vms"]


@pytest.fixture
def write_report(run_playbook, tmp_path):  # pylint: disable=redefined-outer-name
    """write_report(options, *args) -> CompletedProcess: one vmgate.hyperv.fleet_report_files task."""

    def run(options: dict, *args: str):
        playbook = tmp_path / "play.yml"
        playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [
            {"name": "Write the report", "vmgate.hyperv.fleet_report_files": options}]}]))
        return run_playbook(playbook, *args)

    return run


def test_vms_of_one_name_on_two_hosts_or_twice_on_one_each_keep_a_row(write_report, tmp_path):
    vectors = [{"vector_id": 1, "compare_operation": 2, "compatibility_info": 3}]

    def host(*names):
        return {"host": {"vectors": vectors}, "vms": [{"name": name, "vectors": vectors} for name in names]}

    # no ids (facts saved by hand): app01 twice on hv1, once on hv2, and a VM named as the key app01 on hv2 would get
    facts = {"hv1": host("app01", "app01", "app01 on hv2"), "hv2": host("app01")}
    result = write_report({"facts_by_host": facts, "dest": str(tmp_path / "report")})
    assert result.returncode == 0, result.stdout
    saved = json.loads((tmp_path / "report" / "fleet-facts.json").read_text())["vms"]
    assert len(saved) == 4 and sorted((vm["name"], vm["host"]) for vm in saved.values()) == [
        ("app01", "hv1"), ("app01", "hv1"), ("app01", "hv2"), ("app01 on hv2", "hv1")]


def test_the_reports_directory_must_be_one_in_check_mode_too(write_report, tmp_path):
    (tmp_path / "a-file").write_text("")
    options = {"facts_file": str(SAMPLE_FACTS)}
    for dest in (tmp_path / "a-file", tmp_path / "a-file" / "report"):
        for args in ((), ("--check",)):
            message = task_failure(write_report(dict(options, dest=str(dest)), *args))
            assert message == (f"Cannot write the fleet report to {dest}: {tmp_path / 'a-file'} is a file, not a "
                               "directory. Give a directory as dest (it is created when missing).")
    (tmp_path / "taken" / "fleet-report.md").mkdir(parents=True)
    message = task_failure(write_report(dict(options, dest=str(tmp_path / "taken"))))
    assert f"{tmp_path / 'taken' / 'fleet-report.md'} is a directory" in message
    assert not (tmp_path / "taken" / "fleet-report.html").exists()  # nothing written: checked before
    assert "dest is blank (' ')" in task_failure(write_report(dict(options, dest=" ")))

    result = write_report(dict(options, dest=str(tmp_path / "new" / "deeper")))
    assert result.returncode == 0 and (tmp_path / "new" / "deeper" / "fleet-report.html").is_file()


def test_blank_answers_are_not_given(run_playbook, tmp_path):  # pylint: disable=redefined-outer-name
    blank = {"report_dir": " ", "report_title": " ", "plan_file": " ", "memory_reserve_mb": " ",
             "migration_gate_decisions": "", "report_publish_markdown": ""}
    result = run_playbook(PLAYBOOK, "--check", "-e", f"facts_file={SAMPLE_FACTS}", "-e", json.dumps(blank))
    assert result.returncode == 0, result.stdout
    assert f"Would write {Path.cwd() / 'fleet-report' / 'fleet-report.html'} (" in result.stdout
    assert "less memory free than the reserve of 2048 MB" in result.stdout and "no planned wave" in result.stdout

    # a blank facts_file means the hosts are read: here there are none
    result = run_playbook(PLAYBOOK, "-e", f"report_dir={tmp_path / 'report'}", "-e", '{"facts_file": ""}')
    assert "Nothing to report on: the inventory has no host in group hyperv." in task_failure(result)


def test_hostile_vm_names_from_a_host_through_awx(hvsim_lab, awx_job, tmp_path):  # noqa: F811  pylint: disable=redefined-outer-name
    shown = {key: NAMES[key] for key in ("script", "attribute", "markdown", "newline", "rtl", "zero_width")}
    with hvsim_lab.lab.lock:
        web01 = hvsim_lab.lab.vm("web01")
        for number, name in enumerate(shown.values()):
            guid = f"00000000-0000-4000-8000-{number:012d}"
            hvsim_lab.lab.vms[guid] = VirtualMachine(guid=guid, name=name, host="HV-NEW-01", state=web01.state,
                                                     version=web01.version, vectors=list(web01.vectors))
    job = awx_job(hvsim_lab, "playbooks/fleet_report.yml", {"report_dir": str(tmp_path / "fleet")})
    assert (job.status, job.rc) == ("successful", 0), job.stdout[-3000:]
    markdown = job.artifacts["fleet_report"]["markdown"]
    assert_markdown_intact(markdown)
    html = (tmp_path / "fleet" / "fleet-report.html").read_text(encoding="utf-8")
    assert "<script" not in html and 'onmouseover="' not in html and not set(NOT_SHOWN) & set(html + markdown)
    # XML carries a CR as a line feed: the name arrives as web\n| x | y |\n- item
    assert "| web \\| x \\| y \\| - item |" in markdown and "| \\u202eexe.txt |" in markdown
    assert_no_secret(job)


def test_a_host_that_cannot_be_read_fails_the_report_naming_it(hvsim_factory, awx_job, tmp_path):  # noqa: F811  pylint: disable=redefined-outer-name
    sim = hvsim_factory(https=True)
    sim.hosts["HV-OLD-02"].https_port = 1  # nothing listens there
    job = awx_job(sim, "playbooks/fleet_report.yml", {"report_dir": str(tmp_path / "fleet")})
    assert (job.status, job.rc) == ("failed", 2)
    assert "HV-OLD-02: cannot reach the WinRM service at https://127.0.0.1:1/wsman" in job.stdout
    assert not (tmp_path / "fleet").exists()  # no report that leaves a host out
    assert_no_secret(job)
