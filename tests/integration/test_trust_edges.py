"""Trust edges, through ansible-playbook against hvsim (issue 13): certificate validation turned off and requests in
clear text are said in one Ansible warning per task that names every host concerned and no secret; a vector list
with a duplicate id fails a filter with a message that names the id, not Ansible's "Finalization of task args".

Each test runs once per ansible-core (2.19, and 2.16 when .venv-core216 is there): Ansible's warnings and error
wrapping differ between them. 2.16 wraps a warning to the terminal's width, so the output is read with its
whitespace folded."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from hvsim import inventory
from integration.ansible_output import task_failure
from hvsim.pytest_fixtures import (  # noqa: F401  pylint: disable=unused-import
    DEMO_LAB,
    HVSIM_PASSWORD,
    HVSIM_USER,
    hvsim_factory,
    hvsim_lab,
    hvsim_session,
)

pytestmark = pytest.mark.every_core

UNCHECKED = "vmgate.hyperv: TLS certificate validation is turned off for"
UNENCRYPTED = "vmgate.hyperv: WinRM message encryption is turned off over plain HTTP for"
BASIC = "vmgate.hyperv: Basic authentication over plain HTTP for"
WEB01 = "6C9A2A5F-7F1B-4D4B-9C1E-0F0E1D2C3B4A"


def folded(result) -> str:
    """The output with its whitespace folded, and 2.16's wrapping after a hyphen (HV- OLD-01) undone."""
    return re.sub(r"(?<=[A-Za-z0-9])- (?=[A-Za-z0-9])", "-", " ".join(result.stdout.split()))


def warnings_of(result, start: str) -> list[str]:
    """Every warning of the run that starts with `start`, whitespace folded, up to the next output."""
    found = []
    for chunk in folded(result).split("[WARNING]: ")[1:]:
        if chunk.startswith(start):
            found.append(chunk.split(" TASK [")[0].split(" PLAY RECAP")[0].split(" fatal: ")[0].split(" ok: ")[0])
    return found


@pytest.fixture
def play(run_playbook, tmp_path):
    """play(sim, tasks, hosts={name: variables overriding hvsim's}, hosts_pattern) -> CompletedProcess (-vvv)."""

    def run(sim, tasks: list[dict], overrides: dict[str, dict], pattern: str = "localhost", *args: str):
        hosts = {}
        for name, changes in overrides.items():
            handle = sim.hosts[name]
            scheme = changes.pop("scheme", "http")
            variables = inventory.host_vars(handle.bind, handle.https_port if scheme == "https" else handle.http_port,
                                            scheme, changes.pop("transport", "ntlm"), HVSIM_USER, HVSIM_PASSWORD,
                                            handle.ca_file, validate=changes.pop("validate", True))
            variables.update(changes)
            hosts[name] = variables
        (tmp_path / "inventory.yml").write_text(yaml.safe_dump({"all": {"children": {"hyperv": {"hosts": hosts}}}}))
        playbook = tmp_path / "play.yml"
        playbook.write_text(yaml.safe_dump([{"name": "Play", "hosts": pattern, "gather_facts": False, "tasks": tasks}]))
        return run_playbook(playbook, "-i", str(tmp_path / "inventory.yml"), "-vvv", *args)

    return run


def gather(**args) -> dict:
    return {"name": "Gather", "vmgate.hyperv.compat_facts": {"vms": ["web01"], **args}}


def test_validation_turned_off_in_the_inventory_is_one_warning_naming_the_host(hvsim_lab, play):
    result = play(hvsim_lab, [gather()], {"HV-OLD-01": {"scheme": "https", "validate": False}}, "hyperv")
    assert result.returncode == 0, result.stdout
    found = warnings_of(result, UNCHECKED)
    assert len(found) == 1, result.stdout
    assert found[0].startswith(f"{UNCHECKED} HV-OLD-01 (validate_certs: false"), found
    assert "ansible_winrm_ca_trust_path" in found[0]
    assert HVSIM_PASSWORD not in result.stdout and HVSIM_USER not in found[0]


def test_validated_https_and_encrypted_http_say_nothing(hvsim_lab, play):
    host_only = {"name": "Gather", "vmgate.hyperv.compat_facts": {}}
    result = play(hvsim_lab, [host_only], {"HV-OLD-01": {"scheme": "https"}, "HV-OLD-02": {}}, "hyperv")
    assert result.returncode == 0, result.stdout
    assert "[WARNING]: vmgate.hyperv" not in result.stdout, result.stdout


def test_validate_certs_false_on_the_task_warns_too(hvsim_lab, play):
    result = play(hvsim_lab, [gather(validate_certs=False)], {"HV-OLD-01": {"scheme": "https"}}, "hyperv")
    assert result.returncode == 0, result.stdout
    assert [warning.split(" (")[0] for warning in warnings_of(result, UNCHECKED)] == [f"{UNCHECKED} HV-OLD-01"]


def test_a_task_that_reaches_two_hosts_warns_once_naming_both(hvsim_lab, play):
    """compat_check on the destination asks the source too: one warning for the task, both hosts in it; the task
    that gathers on the source alone names the source alone."""
    tasks = [
        {"name": "Gather the VM with its blob", "vmgate.hyperv.compat_facts": {"vms": ["web01"], "include_blob": True},
         "delegate_to": "HV-OLD-01", "delegate_facts": True},
        {"name": "Check", "delegate_to": "HV-NEW-01",
         "vmgate.hyperv.compat_check": {"vm": "{{ hostvars['HV-OLD-01'].hyperv_compat.vms[0] }}", "source": "HV-OLD-01"}},
    ]
    hosts = {"HV-OLD-01": {"scheme": "https", "validate": False}, "HV-NEW-01": {"scheme": "https", "validate": False},
             "HV-NEW-02": {"scheme": "https", "validate": False}}
    result = play(hvsim_lab, tasks, hosts)
    assert result.returncode == 0, result.stdout
    found = [warning.split(" (")[0] for warning in warnings_of(result, UNCHECKED)]
    assert found == [f"{UNCHECKED} HV-OLD-01", f"{UNCHECKED} HV-NEW-01 and HV-OLD-01"], result.stdout  # not HV-NEW-02


def test_a_failing_task_still_warns(hvsim_lab, play):
    result = play(hvsim_lab, [gather(vms=["nosuchvm"])], {"HV-OLD-01": {"scheme": "https", "validate": False}}, "hyperv")
    assert result.returncode == 2 and "no VM named or with id 'nosuchvm'" in result.stdout, result.stdout
    assert len(warnings_of(result, UNCHECKED)) == 1, result.stdout


def lab_allowing_unencrypted() -> dict:
    lab = copy.deepcopy(yaml.safe_load(Path(DEMO_LAB).read_text()))
    for host in lab["hosts"]:
        host["allow_unencrypted"] = True  # WinRM's AllowUnencrypted=true: what clear text needs on a real host
    return lab


def test_ntlm_over_http_without_message_encryption_warns_of_clear_text(hvsim_factory, play):
    sim = hvsim_factory(lab_allowing_unencrypted(), https=True)
    hosts = {"HV-OLD-01": {"ansible_winrm_message_encryption": "never"}}
    result = play(sim, [gather()], hosts, "hyperv")
    assert result.returncode == 0, result.stdout
    found = warnings_of(result, UNENCRYPTED)
    assert len(found) == 1 and found[0].startswith(f"{UNENCRYPTED} HV-OLD-01 (ntlm with message_encryption: never)")
    assert "travels in clear text" in found[0]
    assert HVSIM_PASSWORD not in result.stdout and HVSIM_USER not in found[0]
    assert not warnings_of(result, UNCHECKED) and not warnings_of(result, BASIC)


def test_message_encryption_never_over_https_is_no_clear_text(hvsim_lab, play):
    result = play(hvsim_lab, [gather()], {"HV-OLD-01": {"scheme": "https", "ansible_winrm_message_encryption": "never"}},
                  "hyperv")
    assert result.returncode == 0, result.stdout
    assert "[WARNING]: vmgate.hyperv" not in result.stdout, result.stdout


def test_basic_over_http_allowed_for_a_lab_warns_that_the_password_travels_in_clear_text(hvsim_factory, play):
    sim = hvsim_factory(lab_allowing_unencrypted(), https=True)
    result = play(sim, [gather(allow_basic_over_http=True)], {"HV-OLD-01": {"transport": "basic"}}, "hyperv")
    assert result.returncode == 0, result.stdout
    found = warnings_of(result, BASIC)
    assert len(found) == 1 and "HV-OLD-01" in found[0] and "the password" in found[0], result.stdout
    assert HVSIM_PASSWORD not in result.stdout


def test_psrp_settings_are_read_the_same_way(hvsim_lab, play):
    """ansible_psrp_cert_validation=ignore, on the psrp connection of the task (the gather, and compat_check's
    destination) and on another inventory host (compat_check's source)."""
    def psrp(name):
        return {"scheme": "https", "ansible_host": hvsim_lab.hosts[name].bind, "ansible_port": hvsim_lab.hosts[name].https_port,
                "ansible_connection": "psrp", "ansible_psrp_protocol": "https", "ansible_psrp_auth": "ntlm",
                "ansible_psrp_cert_validation": "ignore", "ansible_user": HVSIM_USER, "ansible_password": HVSIM_PASSWORD}
    tasks = [
        {"name": "Gather the VM with its blob", "vmgate.hyperv.compat_facts": {"vms": ["web01"], "include_blob": True},
         "delegate_to": "HV-OLD-01", "delegate_facts": True},
        {"name": "Check", "delegate_to": "HV-NEW-01",
         "vmgate.hyperv.compat_check": {"vm": "{{ hostvars['HV-OLD-01'].hyperv_compat.vms[0] }}", "source": "HV-OLD-01"}},
    ]
    result = play(hvsim_lab, tasks, {"HV-NEW-01": psrp("HV-NEW-01"), "HV-OLD-01": psrp("HV-OLD-01")})
    assert result.returncode == 0, result.stdout
    found = [warning.split(" (")[0] for warning in warnings_of(result, UNCHECKED)]
    assert found == [f"{UNCHECKED} HV-OLD-01", f"{UNCHECKED} HV-NEW-01 and HV-OLD-01"], result.stdout
    assert HVSIM_PASSWORD not in result.stdout


DUPLICATE = "host_vectors[1].vector_id: 1 appears twice (first at host_vectors[0]); each id may appear once per list"


@pytest.mark.parametrize("task", [
    {"ansible.builtin.set_fact": {"report": "{{ vm | vmgate.hyperv.compat_report(host) }}"}},
    {"ansible.builtin.debug": {"msg": "{{ vm is vmgate.hyperv.compatible_with(host) }}"}},
    {"ansible.builtin.assert": {"that": "vm is vmgate.hyperv.compatible_with(host)"}},
], ids=["filter-in-task-args", "test-in-task-args", "test-in-a-condition"])
def test_a_duplicate_vector_id_is_named_without_ansibles_wrapper(run_playbook, tmp_path, task):
    vector = {"vector_id": 1, "compare_operation": 2, "compatibility_info": 1}
    playbook = tmp_path / "duplicate.yml"
    playbook.write_text(yaml.safe_dump([{
        "hosts": "localhost", "gather_facts": False,
        "vars": {"vm": [vector], "host": [vector, {**vector, "compatibility_info": 3}]},
        "tasks": [{"name": "Use the vectors", **task}],
    }]))
    result = run_playbook(playbook)
    message = task_failure(result)
    assert DUPLICATE in message, message
    assert "Finalization of task args" not in result.stdout and "Error while resolving value" not in result.stdout
    kind, name = ("filter", "compat_report") if "compat_report" in json.dumps(task) else ("test", "compatible_with")
    if "2.19" in result.stdout.splitlines()[0]:  # the plugin's own message, whole, with the plugin's name
        assert message == f"The {kind} plugin 'vmgate.hyperv.{name}' failed: {DUPLICATE}", message
