"""The AWX job templates run the way AWX runs them: ansible-runner against hvsim.

AWX hands ansible-runner the machine credential as `-u USER --ask-pass` on the command line and the password as
the answer to the `SSH password:` prompt (never in the inventory), the survey answers as extra vars (its defaults
filled in for unanswered questions), and suppresses runner's env files. The inventory is group hyperv with the
hosts' connection variables and no credentials. The decisions come back as the artifacts set_stats publishes.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import ansible_runner
import pytest
import yaml

from hvsim import inventory
from hvsim.pytest_fixtures import (  # noqa: F401  pylint: disable=unused-import
    DEMO_LAB,
    HVSIM_PASSWORD,
    HVSIM_USER,
    hvsim_factory,
    hvsim_lab,
    hvsim_session,
)

ROOT = Path(__file__).resolve().parents[2]
SURVEY = json.loads((ROOT / "awx" / "survey_migrate.json").read_text(encoding="utf-8"))
# AWX's expect pattern for the machine credential's password (awx/main/tasks/jobs.py)
SSH_PASSWORD_PROMPT = r"^SSH [pP]assword:\s*?$"


def survey_extra_vars(answers: dict) -> dict:
    """What AWX passes for these answers: each answer checked against its question, defaults for the rest."""
    questions = {question["variable"]: question for question in SURVEY["spec"]}
    assert set(answers) <= set(questions), f"not survey questions: {set(answers) - set(questions)}"
    extra_vars = {}
    for variable, question in questions.items():
        if variable in answers:
            value = answers[variable]
            if question["type"] == "multiplechoice":
                assert value in question["choices"], (variable, value)
            elif question["type"] == "integer":
                assert isinstance(value, int) and question["min"] <= value <= question["max"], (variable, value)
            else:
                assert question["min"] <= len(value) <= question["max"], (variable, value)
            extra_vars[variable] = value
        elif "default" in question:
            extra_vars[variable] = question["default"]
        else:
            assert not question["required"], f"the survey requires {variable}"
    return extra_vars


def credential_free_inventory(sim, connection: str = "winrm") -> dict:
    """Group hyperv over HTTPS with the simulator's CA, NTLM, and no user or password."""
    hosts = {}
    for name, handle in sim.hosts.items():
        if connection == "psrp":
            hosts[name] = {
                "ansible_host": handle.bind, "ansible_port": handle.https_port, "ansible_connection": "psrp",
                "ansible_psrp_protocol": "https", "ansible_psrp_auth": "negotiate",
                "ansible_psrp_cert_validation": "validate", "ansible_psrp_ca_cert": handle.ca_file,
            }
        else:
            variables = inventory.host_vars(handle.bind, handle.https_port, "https", "ntlm", "unused", "unused", handle.ca_file)
            hosts[name] = {key: value for key, value in variables.items() if key not in ("ansible_user", "ansible_password")}
    return {"all": {"children": {"hyperv": {"hosts": hosts}}}}


class Job:
    """One finished ansible-runner job: its status, output, events and the files it left."""

    def __init__(self, runner, private_data_dir: Path):
        self.status, self.rc = runner.status, runner.rc
        self.stdout = runner.stdout.read()
        self.events = list(runner.events)
        self.private_data_dir = private_data_dir
        self.command = json.loads(next(private_data_dir.glob("artifacts/*/command")).read_text(encoding="utf-8"))["command"]

    @property
    def artifacts(self) -> dict:
        """set_stats data, as AWX stores it from the playbook_on_stats event."""
        stats = [event for event in self.events if event["event"] == "playbook_on_stats"]
        assert len(stats) == 1, self.stdout[-3000:]
        return stats[0]["event_data"].get("artifact_data") or {}

    def files_containing(self, secret: str) -> list[str]:
        return sorted(str(path.relative_to(self.private_data_dir)) for path in self.private_data_dir.rglob("*")
                      if path.is_file() and secret.encode() in path.read_bytes())


@pytest.fixture
def awx_job(tmp_path):
    """awx_job(sim, playbook, extra_vars, connection='winrm', project=ROOT) -> Job, run as AWX runs a job template."""
    counter = iter(range(1, 100))

    def run(sim, playbook: str, extra_vars: dict, connection: str = "winrm", project: Path = ROOT) -> Job:
        private_data_dir = tmp_path / f"job{next(counter)}"
        (private_data_dir / "inventory").mkdir(parents=True)
        (private_data_dir / "inventory" / "hosts.yml").write_text(yaml.safe_dump(credential_free_inventory(sim, connection)))
        runner = ansible_runner.run(
            private_data_dir=str(private_data_dir),
            project_dir=str(project),
            playbook=playbook,
            cmdline=ansible_runner.utils.args2cmdline("-u", HVSIM_USER, "--ask-pass"),
            passwords={SSH_PASSWORD_PROMPT: HVSIM_PASSWORD},
            # the job template's own extra vars, then the survey's, as AWX merges them
            extravars={"ansible_python_interpreter": sys.executable, "limit_poll": 0.2, **extra_vars},
            envvars={"ANSIBLE_NOCOLOR": "1"},
            suppress_env_files=True,  # AWX_RUNNER_OMIT_ENV_FILES: no env/passwords, env/extravars on disk
            quiet=True,
            timeout=300,
        )
        return Job(runner, private_data_dir)

    return run


def assert_no_secret(job: Job):
    """The password is in no output, event, artifact or file of the job; the user name did go to Ansible."""
    assert HVSIM_PASSWORD not in job.stdout
    assert HVSIM_PASSWORD not in json.dumps(job.events)
    assert job.files_containing(HVSIM_PASSWORD) == []
    assert job.command[1:4] == ["-u", HVSIM_USER, "--ask-pass"]
    assert not any("ansible_password" in part or "winrm_pass" in part for part in job.command)


# AWX's survey rules (awx/api/views: JobTemplateSurveySpec._validate_spec_data), written out here because neither
# the awx.awx collection nor a controller is available offline.
SURVEY_TYPES = {"text", "textarea", "password", "multiplechoice", "multiselect", "integer", "float"}
MIGRATE_PLAY = yaml.safe_load((ROOT / "playbooks" / "migrate.yml").read_text(encoding="utf-8"))


def test_the_survey_follows_awx_rules_and_asks_only_what_migrate_yml_reads():
    assert isinstance(SURVEY["name"], str) and isinstance(SURVEY["description"], str)
    assert isinstance(SURVEY["spec"], list) and SURVEY["spec"]
    play_text = json.dumps(MIGRATE_PLAY)  # the play itself, not its header comment
    seen = set()
    for index, question in enumerate(SURVEY["spec"]):
        where = f"spec[{index}]"
        for key in ("question_name", "variable", "type", "required"):
            assert key in question, f"{where}: {key} is missing"
        assert question["type"] in SURVEY_TYPES, where
        assert isinstance(question["required"], bool), where
        variable = question["variable"]
        assert variable.isidentifier() and variable not in seen, f"{where}: variable {variable!r} repeated or invalid"
        seen.add(variable)
        assert re.search(rf"\b{variable}\b", play_text), f"{where}: migrate.yml does not read {variable}"
        default = question.get("default")
        if question["type"] in ("multiplechoice", "multiselect"):
            choices = question["choices"]
            choices = choices.split("\n") if isinstance(choices, str) else choices
            assert isinstance(choices, list) and choices and all(isinstance(choice, str) for choice in choices), where
            assert default is None or all(part in choices for part in str(default).split("\n")), f"{where}: default"
        else:
            assert "choices" not in question, where
        if question["type"] in ("integer", "float"):
            number = int if question["type"] == "integer" else (int, float)
            assert isinstance(question["min"], number) and isinstance(question["max"], number), where
            assert default is None or question["min"] <= default <= question["max"], f"{where}: default"
        if question["type"] in ("text", "textarea", "password"):
            assert 0 <= question.get("min", 0) <= question.get("max", 1024), where
            assert default is None or isinstance(default, str), where
        assert question["type"] != "password", f"{where}: no secret belongs in a migrate survey"
    assert {"vms", "destination", "candidates", "mode", "override_reason"} <= seen
    # migrate.yml's own names for the choices
    modes = next(question for question in SURVEY["spec"] if question["variable"] == "mode")["choices"]
    assert set(modes) == {"move", "gate"}


def test_a_blocked_vm_fails_the_job_with_its_reasons_and_an_allowed_one_moves(hvsim_lab, awx_job):
    blocked = awx_job(hvsim_lab, "playbooks/migrate.yml", survey_extra_vars({"vms": "db01", "destination": "HV-OLD-01"}))
    assert (blocked.status, blocked.rc) == ("failed", 2), blocked.stdout[-3000:]
    decision = blocked.artifacts["migration_gate_decisions"]["db01"]
    assert decision["verdict"] == "blocked" and decision["moved"] is False
    assert decision["message"].startswith("BLOCKED: db01 may not move from HV-NEW-01 to HV-OLD-01")
    assert any("bits the host lacks" in reason["message"] for reason in decision["reasons"])
    # the failure stands on its own in the job output: the message and what to do, without the JSON around it
    assert "BLOCKED: db01 may not move from HV-NEW-01 to HV-OLD-01" in blocked.stdout and "What to do:" in blocked.stdout
    assert hvsim_lab.where("db01") == "HV-NEW-01"
    assert_no_secret(blocked)

    moved = awx_job(hvsim_lab, "playbooks/migrate.yml", survey_extra_vars({"vms": "web01"}))
    assert (moved.status, moved.rc) == ("successful", 0), moved.stdout[-3000:]
    decision = moved.artifacts["migration_gate_decisions"]["web01"]
    assert decision["verdict"] == "allowed" and decision["moved"] is True
    assert (decision["source"], decision["destination"]) == ("HV-OLD-01", "HV-NEW-01")
    assert decision["move"]["failed"] is False
    assert "web01: MOVED from HV-OLD-01 to HV-NEW-01" in moved.stdout
    assert hvsim_lab.where("web01") == "HV-NEW-01"
    assert_no_secret(moved)


def test_a_wave_in_gate_mode_publishes_every_decision_and_moves_nothing(hvsim_lab, awx_job):
    # from a project made of awx/project, whose migrate.yml imports vmgate.hyperv.migrate
    job = awx_job(hvsim_lab, "migrate.yml",
                  survey_extra_vars({"vms": "web01,db01", "candidates": "HV-NEW-01,HV-NEW-02", "mode": "gate"}),
                  project=ROOT / "awx" / "project")
    assert (job.status, job.rc) == ("successful", 0), job.stdout[-3000:]
    decisions = job.artifacts["migration_gate_decisions"]
    assert sorted(decisions) == ["db01", "web01"]
    assert decisions["web01"]["destination"] == "HV-NEW-01" and decisions["db01"]["destination"] == "HV-NEW-02"
    assert all(decision["verdict"] == "allowed" and decision["move"] is None for decision in decisions.values())
    assert (hvsim_lab.where("web01"), hvsim_lab.where("db01")) == ("HV-OLD-01", "HV-NEW-01")
    assert_no_secret(job)


def test_hosts_on_the_psrp_connection_get_the_credential_and_their_psrp_settings(hvsim_factory, awx_job):
    # hvsim speaks WS-Management only, which is what the collection uses whatever the connection plugin; psrp's
    # protocol, port, auth and certificate settings are mapped to it. Basic is off on these hosts, so only
    # negotiate (NTLM, from ansible_psrp_auth) gets in, and HTTPS only validates with ansible_psrp_ca_cert.
    lab = yaml.safe_load(DEMO_LAB.read_text(encoding="utf-8"))
    lab.setdefault("defaults", {})["basic_auth"] = False
    sim = hvsim_factory(lab, https=True)
    job = awx_job(sim, "playbooks/migrate.yml",
                  survey_extra_vars({"vms": "web01", "destination": "HV-NEW-01", "mode": "gate"}), connection="psrp")
    assert (job.status, job.rc) == ("successful", 0), job.stdout[-3000:]
    assert job.artifacts["migration_gate_decisions"]["web01"]["verdict"] == "allowed"
    assert sim.counters("HV-OLD-01") and sim.counters("HV-NEW-01")
    assert_no_secret(job)


def test_the_fleet_report_is_kept_as_an_artifact(hvsim_lab, awx_job, tmp_path):
    job = awx_job(hvsim_lab, "playbooks/fleet_report.yml", {"report_dir": str(tmp_path / "fleet")})
    assert (job.status, job.rc) == ("successful", 0), job.stdout[-3000:]
    report = job.artifacts["fleet_report"]
    assert report["summary"]["hosts"] == 4 and report["summary"]["vms"] == len(hvsim_lab.lab.vms)
    assert report["groups"] == [["HV-NEW-01", "HV-NEW-02"], ["HV-OLD-01", "HV-OLD-02"]]
    assert Path(report["files"]["html"]).is_file() and report["markdown"].startswith("# Hyper-V fleet")
    assert_no_secret(job)


def test_blank_optional_answers_as_the_launch_form_submits_them(hvsim_lab, awx_job):
    answers = {"vms": "web01", "destination": "", "candidates": "", "override_reason": "", "source": "",
               "destination_path": "", "mode": "gate"}
    job = awx_job(hvsim_lab, "playbooks/migrate.yml", survey_extra_vars(answers))
    assert (job.status, job.rc) == ("successful", 0), job.stdout[-3000:]
