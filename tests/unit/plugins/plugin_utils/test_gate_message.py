# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""gate/message.py: the decision told to a person, a headline, the reasons per host, what to do, the move."""

from __future__ import annotations

import pytest

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import message

VM_ID = "1F3B5D7A-2C4E-4A6B-8D0F-1A2B3C4D5E01"
NOT_FOUND_TO_DO = ("What to do: name the VM as Get-VM shows it, or by its id, and make sure the host it runs on is in the "
                   "inventory; migration_gate_source (source= with playbooks/migrate.yml) names that host.")
TO_DO = ("What to do: act on the reasons above, then run again{}; or, to move despite them and take the risk, run again "
         "with a written reason in migration_gate_override_reason (override_reason= with playbooks/migrate.yml), which is "
         "recorded with the decision.")
CHOOSE = ("; or let the gate choose among several hosts (migration_gate_candidates; candidates= with "
          "playbooks/migrate.yml)")


def reason(host, role, check, text):
    return {"host": host, "role": role, "check": check, "message": text}


def made(**fields):
    """A decision as decision.decide() makes it: web01 allowed from hv01 to hv02 unless told."""
    values = {"vm": "web01", "vm_id": VM_ID, "vm_name": "web01", "state": "Running", "configuration_version": None,
              "source": "hv01", "destination": "hv02", "destination_computer_name": "HV02", "mode": "gate",
              "check_mode": False, "verdict": "allowed", "outcome": "located", "allowed": True, "reasons": [],
              "warnings": [], "override": None, "selection": None, "checks": {"limit_wait": None}, "moved": False,
              "move": None, "decided_at": None, "message": ""}
    values.update(fields)
    return values


def blocked(*reasons, **fields):
    return made(verdict="blocked", allowed=False, reasons=list(reasons), **fields)


VECTORS = reason("hv02", "destination", "vectors", "The VM uses ProcessorXSave (vector 2) bits the host lacks.")
STATE = reason("hv01", "source", "VM state", "web01 is Saved.")
HYPERV = reason("hv02", "destination", "Hyper-V", "The virtual machine 'web01' has a legacy network adapter.")


# --- Headlines


@pytest.mark.parametrize("decision, text", [
    (made(), "ALLOWED: web01 may move from hv01 to hv02."),
    (made(vm="{" + VM_ID + "}"), "ALLOWED: web01 may move from hv01 to hv02."),
    (made(vm_name=None, vm="web01 "), "ALLOWED: web01  may move from hv01 to hv02."),
    (blocked(VECTORS), "BLOCKED: web01 may not move from hv01 to hv02 (1 reason). Nothing was moved."),
    (blocked(VECTORS, HYPERV, STATE), "BLOCKED: web01 may not move from hv01 to hv02 (3 reasons). Nothing was moved."),
    (blocked(VECTORS, destination=None, selection=[]),
     "BLOCKED: no candidate can take web01 from hv01 (1 reason). Nothing was moved."),
    (blocked(VECTORS, HYPERV, destination=None, selection=[]),
     "BLOCKED: no candidate can take web01 from hv01 (2 reasons). Nothing was moved."),
    (made(verdict="overridden", reasons=[VECTORS, HYPERV], override={"reason": "CHG-42 (J. Doe)", "overridden_reasons": 2}),
     "OVERRIDDEN: web01 is blocked from moving from hv01 to hv02 (2 reasons), and allowed by an override with the reason: "
     "CHG-42 (J. Doe)"),
    (made(verdict="overridden", reasons=[VECTORS], override={"reason": "ok", "overridden_reasons": 1}),
     "OVERRIDDEN: web01 is blocked from moving from hv01 to hv02 (1 reason), and allowed by an override with the reason: ok"),
    (made(verdict="already_there", outcome="already_there", source=None),
     "ALREADY THERE: web01 is already on hv02; nothing to do."),
    (blocked(reason("", "request", "finding the VM", "No VM..."), outcome="not_found", vm="web9", vm_id=None, vm_name=None,
             source=None), "BLOCKED: web9 was not found. Nothing was moved."),
    (blocked(reason("hv01", "searched", "finding the VM", "hv01: timed out"), outcome="not_found", vm_id=None, vm_name=None),
     "BLOCKED: web01 could not be looked for: no host it may be on could be read (1 reason). Nothing was moved."),
    (blocked(reason("hv01", "source", "finding the VM", "hv01: 401"), reason("hv02", "searched", "finding the VM", "hv02: 401"),
             outcome="not_found", vm_id=None, vm_name=None),
     "BLOCKED: web01 could not be looked for: no host it may be on could be read (2 reasons). Nothing was moved."),
    (blocked(reason("", "request", "finding the VM", "2 VMs match"), outcome="ambiguous", vm="app01", vm_id=None, vm_name=None),
     "BLOCKED: app01 names more than one VM, and the gate moves exactly one. Nothing was moved."),
])
def test_headline(decision, text):
    assert message.headline(decision) == text
    assert message.compose(decision).splitlines()[0] == text


def test_the_readme_example_of_a_block():
    vectors = reason("HV-OLD-01", "destination", "vectors",
                     "The VM uses ProcessorXSave (vector 2) bits the host lacks: 0xE0 (bits 5, 6, 7).")
    hyperv = reason("HV-OLD-01", "destination", "Hyper-V",
                    "The virtual machine 'db01' is using processor-specific features not supported on physical computer 'HV-OLD-01'.")
    limit = reason("HV-OLD-01", "destination", "migration limit", "HV-OLD-01 is at its limit of 1 simultaneous live migrations.")
    source = reason("HV-NEW-01", "source", "migration service", "Live migration is turned off on the source HV-NEW-01.")
    decision = blocked(vectors, hyperv, source, limit, vm="db01", vm_name="db01", source="HV-NEW-01", destination="HV-OLD-01")
    assert message.compose(decision) == "\n".join([
        "BLOCKED: db01 may not move from HV-NEW-01 to HV-OLD-01 (4 reasons). Nothing was moved.",
        f"VM: db01 (id {VM_ID}), Running, on HV-NEW-01.",
        "Reasons, per host:",
        "  HV-OLD-01 (destination):",
        f"    - [vectors] {vectors['message']}",
        f"    - [Hyper-V] {hyperv['message']}",
        f"    - [migration limit] {limit['message']}",  # with the other reasons about its host
        "  HV-NEW-01 (source):",
        f"    - [migration service] {source['message']}",
        TO_DO.format(CHOOSE),
    ])


# --- The VM


def test_the_vm_line_with_its_configuration_version():
    assert message.compose(made(configuration_version="9.0", state="Off")).splitlines()[1] == (
        f"VM: web01 (id {VM_ID}), Off, configuration version 9.0, on hv01.")


def test_the_vm_line_of_a_vm_already_there_says_no_source():
    text = message.compose(made(verdict="already_there", outcome="already_there", configuration_version="10.0"))
    assert text.splitlines() == ["ALREADY THERE: web01 is already on hv02; nothing to do.",
                                 f"VM: web01 (id {VM_ID}), Running, configuration version 10.0."]


def test_no_vm_line_without_a_vm():
    decision = blocked(reason("", "request", "finding the VM", "No VM named..."), outcome="not_found", vm_id=None, vm_name=None)
    assert message.compose(decision).splitlines() == [
        "BLOCKED: web01 was not found. Nothing was moved.", "Reasons, per host:", "  The request:",
        "    - [finding the VM] No VM named...", NOT_FOUND_TO_DO]


# --- The wait


@pytest.mark.parametrize("waited, text", [
    ({"host": "hv02", "seconds": 1.0, "freed": False}, "Still no free slot after waiting 1.0 s for a free live-migration slot on hv02."),
    ({"host": "hv02", "seconds": "30", "freed": True}, "Waited 30.0 s for a free live-migration slot on hv02."),
    ({"host": "hv01", "seconds": 2.46, "freed": True}, "Waited 2.5 s for a free live-migration slot on hv01."),
    ({"host": "hv02", "seconds": 0, "freed": False}, "Still no free slot after waiting 0.0 s for a free live-migration slot on hv02."),
])
def test_the_wait_is_said_after_the_vm(waited, text):
    assert message.compose(made(checks={"limit_wait": waited})).splitlines()[2] == text


def test_no_wait_no_line():
    assert len(message.compose(made()).splitlines()) == 2
    assert len(message.compose(made(checks=None)).splitlines()) == 2


# --- The candidates


SELECTION = [{"host": "hv03", "why": "chosen: compatible by its vectors and by Hyper-V, 0 surplus feature bits, 0 of 2 live migrations active"},
             {"host": "hv02", "why": "left out: nope"}]


def test_the_candidates_are_listed_when_the_vm_may_move():
    text = message.compose(made(destination="hv03", selection=SELECTION))
    assert text.splitlines()[2:] == ["Candidates, best first:", f"  - hv03: {SELECTION[0]['why']}", "  - hv02: left out: nope"]


def test_the_candidates_are_listed_under_an_override():
    decision = made(verdict="overridden", destination="hv03", selection=SELECTION, reasons=[VECTORS],
                    override={"reason": "ok", "overridden_reasons": 1})
    assert message.compose(decision).splitlines()[2:] == [
        "Candidates, best first:", f"  - hv03: {SELECTION[0]['why']}", "  - hv02: left out: nope",
        "Set aside by the override, per host:", "  hv02 (destination):", f"    - [vectors] {VECTORS['message']}"]


def test_a_block_lists_the_reasons_not_the_candidates_and_does_not_advise_candidates():
    text = message.compose(blocked(VECTORS, destination=None, selection=SELECTION))
    assert "Candidates, best first:" not in text
    assert text.splitlines()[-1] == TO_DO.format("")


# --- The reasons, per host


def test_reasons_are_grouped_per_host_in_the_order_of_their_first_mention():
    request = reason("", "request", "candidates", "There is no candidate besides the source hv01.")
    decision = blocked(STATE, VECTORS, request, HYPERV)
    assert message.compose(decision).splitlines()[2:-1] == [
        "Reasons, per host:",
        "  hv01 (source):", f"    - [VM state] {STATE['message']}",
        "  hv02 (destination):", f"    - [vectors] {VECTORS['message']}", f"    - [Hyper-V] {HYPERV['message']}",
        "  The request:", f"    - [candidates] {request['message']}",
    ]


def test_a_hosts_group_is_named_by_the_role_of_its_first_reason():
    hyperv_on_source = reason("hv01", "source", "migration limit", "The source hv01 is at its limit.")
    decision = blocked(reason("hv03", "candidate", "vectors", "x."), hyperv_on_source, destination=None, selection=[])
    assert "  hv01 (source):" in message.compose(decision).splitlines()


# --- Warnings


def test_warnings_follow_the_reasons():
    warnings = [reason("hv02", "destination", "Hyper-V", "The DVD image will not be moved."),
                reason("hv09", "searched", "finding the VM", "hv09 could not be read while looking for the VM: timed out")]
    assert message.compose(made(warnings=warnings)).splitlines()[2:] == [
        "Warnings:", "  - hv02: The DVD image will not be moved.",
        "  - hv09: hv09 could not be read while looking for the VM: timed out"]
    assert message.compose(blocked(VECTORS, warnings=warnings[:1])).splitlines()[-3:-1] == [
        "Warnings:", "  - hv02: The DVD image will not be moved."]


# --- What to do


@pytest.mark.parametrize("decision, text", [
    (blocked(VECTORS), TO_DO.format(CHOOSE)),
    (blocked(VECTORS, selection=[]), TO_DO.format("")),
    (blocked(reason("", "request", "finding the VM", "2 VMs"), outcome="ambiguous", vm_id=None),
     "What to do: name the VM by its id (one of those above)."),
    (blocked(reason("", "request", "finding the VM", "No VM"), outcome="not_found", vm_id=None), NOT_FOUND_TO_DO),
])
def test_what_to_do_ends_a_block(decision, text):
    assert message.compose(decision).splitlines()[-1] == text


@pytest.mark.parametrize("decision", [
    made(), made(verdict="already_there", outcome="already_there"),
    made(verdict="overridden", reasons=[VECTORS], override={"reason": "ok", "overridden_reasons": 1}),
])
def test_no_what_to_do_when_the_vm_may_move(decision):
    assert "What to do" not in message.compose(decision)


# --- The move


def moved(check_mode=False, **move):
    values = {"failed": False, "changed": True, "msg": "", "job_id": None, "duration": None, "progress": [], "final": {},
              "limit_refusals": 0, "limit_waited": 0}
    values.update(move)
    return made(mode="move", check_mode=check_mode, move=values)


@pytest.mark.parametrize("decision, text", [
    (moved(msg="web01 moved in 12 s.", final={"host": "hv02", "state_name": "Running"}),
     "MOVED: web01 moved in 12 s. It is Running on hv02 now."),
    (moved(msg="Moved."), "MOVED: Moved. It is ? on ? now."),
    (moved(failed=True, changed=False, msg="The job failed (ErrorCode 32768)."), "MOVE FAILED: The job failed (ErrorCode 32768)."),
    (moved(check_mode=True, failed=True, msg="Unreachable."), "MOVE FAILED: Unreachable."),
    (moved(check_mode=True, msg="web01 would move to hv02."), "CHECK MODE: web01 would move to hv02. Nothing was moved."),
    (moved(changed=False, msg="web01 is on hv02 already."), "NOTHING TO MOVE: web01 is on hv02 already."),
])
def test_the_moves_outcome_is_the_last_line(decision, text):
    lines = message.compose(decision).splitlines()
    assert lines[-1] == text and lines[:-1] == message.compose(made()).splitlines()
    assert lines[-1].startswith(message.OUTCOME_WORDS)
    assert not any(line.startswith(message.OUTCOME_WORDS) for line in lines[:-1])


def test_no_move_no_outcome():
    assert not any(line.startswith(message.OUTCOME_WORDS) for line in message.compose(made()).splitlines())
