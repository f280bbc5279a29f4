# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""gate/decision.py: every verdict path, every reason and where it is filed, the selection, the wait, the move.

The gate action's steps are run here as it runs them (locate, assess, slots_to_wait_for/after_wait, hosts_to_ask,
decide), on what the hosts would have answered: no host, no Ansible.
"""

from __future__ import annotations

import pytest

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import decision
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate.decision import Sighting
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate.request import Request
from ansible_collections.vmgate.hyperv.tests.unit.plugins.plugin_utils.helpers import SUBSET, vec

VM_ID = "1F3B5D7A-2C4E-4A6B-8D0F-1A2B3C4D5E01"
VM_VECTORS = [vec(1, SUBSET, 0b0011)]
FIT0 = [vec(1, SUBSET, 0b0011)]  # no surplus feature bit
FIT1 = [vec(1, SUBSET, 0b0111)]  # one surplus feature bit
MISS = [vec(1, SUBSET, 0b0001)]  # lacks bit 1, which the VM uses
MISS_TEXT = ("The VM uses ProcessorFeatures (vector 1) bits the host lacks: 0x2 (bit 1). The usual remedy is processor "
             "compatibility mode: with the VM off, run Set-VMProcessor -VMName <vm> -CompatibilityForMigrationEnabled $true; "
             "otherwise choose a host with the same or a newer processor.")
READY = {"enabled_state": 2, "live_migration_enabled": True, "listener_addresses": ["10.0.0.9"],
         "active_vm_migrations": 0, "max_vm_migrations": 2}
UNREAD = {"enabled_state": 2, "live_migration_enabled": None, "listener_addresses": ["10.0.0.9"],
          "active_vm_migrations": 0, "max_vm_migrations": None}  # a destination read without its migration settings
VM = {"id": VM_ID, "name": "web01", "state": 2, "state_name": "Running", "configuration_version": "10.0",
      "vectors": VM_VECTORS}
COMPATIBLE = {"compatible": True, "reasons": [], "details": [], "warnings": [], "checks": {"blob": {"return_value": 0}},
              "error": None}
WHEN = "2026-01-01T00:00:00+00:00"
TO_DO = ("What to do: act on the reasons above, then run again{}; or, to move despite them and take the risk, run again "
         "with a written reason in migration_gate_override_reason (override_reason= with playbooks/migrate.yml), which is "
         "recorded with the decision.")
CHOOSE = ("; or let the gate choose among several hosts (migration_gate_candidates; candidates= with "
          "playbooks/migrate.yml)")


def req(**fields):
    """A request as request.parse() makes it (vm web01, source hv01, destination hv02 unless told)."""
    values = {"vm": "web01", "source": "hv01", "destination": "hv02", "candidates": None, "search_hosts": ()}
    values.update(fields)
    if values["candidates"] is not None and "destination" not in fields:
        values["destination"] = None
    return Request(**values)


def host(name, vectors=None, **service):
    """The host part of a target's hyperv_compat facts (vectors that fit the VM exactly unless given)."""
    return {"name": name, "vectors": vectors or FIT0, "migration_service": {**READY, **service}}


def rejected(*texts, about=None, check=None, error=None):
    """compat_check's verdict refusing, each reason about the host asked unless `about` names another."""
    details = [{"host": about, "role": "source", "check": check or "Hyper-V", "message": text} for text in texts] if about else []
    return {"compatible": False, "reasons": list(texts), "details": details, "warnings": [], "checks": None, "error": error}


def where(request, on="hv01", vm=None):
    """The VM found on one host."""
    found = vm or VM
    return decision.locate(request, [Sighting(on, {key: found[key] for key in ("id", "name", "state", "state_name")})], {}, [on])


def gate(request, hosts, *, unreadable=None, verdicts=None, vm=None, source_service=None, location=None,
         service_after_wait=None, seconds=1.0, check_mode=False):
    """The action's steps; Hyper-V is asked about the hosts hosts_to_ask() names, compatible unless `verdicts` says."""
    vm = vm or VM
    location = location or where(request, vm=vm)
    source = location.source
    assessment = decision.assess(request, source, vm["vectors"], hosts, unreadable or {})
    waited = None
    target = decision.slots_to_wait_for(request, assessment)
    if target and service_after_wait is not None:
        assessment = decision.after_wait(request, assessment, target, service_after_wait)
        hosts = {**hosts, target: {**hosts[target], "migration_service": service_after_wait}}  # as the action keeps it
        waited = {"host": target, "seconds": seconds, "freed": decision.slot_free(service_after_wait)}
    asked = decision.hosts_to_ask(request, assessment, waited)
    answers = {name: (verdicts or {}).get(name, COMPATIBLE) for name in asked}
    return decision.decide(request, location, vm=vm, source_service=READY if source_service is None else source_service,
                           assessment=assessment, verdicts=answers, waited=waited,
                           hosts=hosts, check_mode=check_mode,
                           decided_at=WHEN)


def lines(result):
    return result["message"].splitlines()


def messages(result, check=None):
    return [item["message"] for item in result["reasons"] if check is None or item["check"] == check]


# --- matches(): a name without case, an id without braces or case, nothing trimmed


@pytest.mark.parametrize("asked, answers", [
    ("web01", True), ("WEB01", True), (VM_ID.lower(), True), ("{" + VM_ID + "}", True), ("{" + VM_ID.lower() + "}", True),
    (" web01", False), ("web01 ", False), ("web0", False), ("{web01}", False), (" " + VM_ID, False),
])
def test_matches(asked, answers):
    assert decision.matches(asked, {"id": VM_ID, "name": "web01"}) is answers


# --- locate(): where the VM is


def test_a_vm_on_its_source_is_located_there():
    location = where(req())
    assert (location.outcome, location.source, location.reasons, location.warnings) == ("located", "hv01", [], [])
    assert location.vm["id"] == VM_ID


def test_a_vm_found_on_a_candidate_without_a_source_is_located_there():
    location = where(req(source=None, candidates=("hv02", "hv03")), on="hv03")
    assert (location.outcome, location.source) == ("located", "hv03")


@pytest.mark.parametrize("source", ["hv01", None])
def test_a_vm_already_on_the_destination(source):
    location = where(req(source=source), on="hv02")
    assert (location.outcome, location.source) == ("already_there", source)


def test_a_vm_already_on_a_candidate_when_a_source_was_given():
    assert where(req(candidates=("hv02", "hv03")), on="hv03").outcome == "already_there"


def test_hosts_that_could_not_be_read_while_looking_are_warnings_once_the_vm_is_found():
    request = req(source=None, search_hosts=("hv01", "hv03", "hv04"))
    location = decision.locate(request, [Sighting("hv01", VM)], {"hv03": "timed out", "hv02": "refused"},
                               ["hv02", "hv01", "hv03", "hv04"])
    assert location.outcome == "located"
    # hv02, the destination, is read again as the destination: its own reason comes from there
    assert location.warnings == [{"host": "hv03", "role": "searched", "check": "finding the VM",
                                  "message": "hv03 could not be read while looking for the VM: timed out"}]


# --- Not found, ambiguous


def test_not_found_names_the_hosts_searched_as_the_readme_says():
    request = req(vm="web9", source=None, destination="HV-NEW-01", search_hosts=("HV-OLD-01",))
    location = decision.locate(request, [], {}, ["HV-OLD-01", "HV-NEW-01"])
    result = decision.decide(request, location, decided_at=WHEN)
    assert result["reasons"] == [{"host": "", "role": "request", "check": "finding the VM",
                                  "message": 'No VM named or with id "web9" is on HV-OLD-01, HV-NEW-01. Check the name as '
                                             "Get-VM shows it, and that the host it runs on is in the inventory."}]
    assert (result["verdict"], result["outcome"], result["allowed"]) == ("blocked", "not_found", False)
    assert (result["source"], result["destination"], result["vm_id"], result["vm"]) == (None, "HV-NEW-01", None, "web9")
    assert result["message"] == "\n".join([
        "BLOCKED: web9 was not found. Nothing was moved.",
        "Reasons, per host:",
        "  The request:",
        '    - [finding the VM] No VM named or with id "web9" is on HV-OLD-01, HV-NEW-01. Check the name as Get-VM shows it, '
        "and that the host it runs on is in the inventory.",
        "What to do: name the VM as Get-VM shows it, or by its id, and make sure the host it runs on is in the inventory; "
        "migration_gate_source (source= with playbooks/migrate.yml) names that host.",
    ])


def test_not_found_with_some_hosts_unreadable_says_both():
    request = req()  # source hv01, destination hv02
    location = decision.locate(request, [], {"hv01": "hv01: connection refused", "hv03": "hv03: timed out"},
                               ["hv01", "hv02", "hv03"])
    result = decision.decide(request, location, decided_at=WHEN)
    assert [(item["host"], item["role"], item["check"]) for item in result["reasons"]] == [
        ("hv01", "source", "finding the VM"), ("hv03", "searched", "finding the VM"), ("", "request", "finding the VM")]
    assert messages(result)[:2] == ["hv01: connection refused", "hv03: timed out"]
    assert messages(result)[2].startswith('No VM named or with id "web01" is on hv02. ')
    assert lines(result)[0] == "BLOCKED: web01 was not found. Nothing was moved."
    assert lines(result)[1:6] == ["Reasons, per host:", "  hv01 (source):", "    - [finding the VM] hv01: connection refused",
                                  "  hv03 (searched):", "    - [finding the VM] hv03: timed out"]


def test_when_no_host_could_be_read_the_vm_could_not_be_looked_for():
    request = req(source=None, search_hosts=("hv01",))
    location = decision.locate(request, [], {"hv02": "hv02: timed out", "hv01": "hv01: access denied"}, ["hv02", "hv01"])
    result = decision.decide(request, location, decided_at=WHEN)
    assert [item["role"] for item in result["reasons"]] == ["searched", "searched"]
    assert lines(result)[0] == ("BLOCKED: web01 could not be looked for: no host it may be on could be read (2 reasons). "
                                "Nothing was moved.")
    assert lines(result)[-1].startswith("What to do: name the VM as Get-VM shows it")


def test_when_the_only_host_could_not_be_read_one_reason_is_counted():
    request = req()
    result = decision.decide(request, decision.locate(request, [], {"hv01": "hv01: 401"}, ["hv01"]), decided_at=WHEN)
    assert lines(result)[0] == ("BLOCKED: web01 could not be looked for: no host it may be on could be read (1 reason). "
                                "Nothing was moved.")


def test_a_near_miss_is_named_when_the_trimmed_name_matches():
    request = req(vm=" web01 ", source=None, destination="hv02", search_hosts=("hv01",))
    near = [Sighting("hv01", {"id": VM_ID, "name": "web01", "state": 2, "state_name": "Running"})]
    location = decision.locate(request, [], {}, ["hv02", "hv01"], near)
    result = decision.decide(request, location, decided_at=WHEN)
    assert messages(result) == [
        'No VM named or with id " web01 " is on hv02, hv01. Check the name as Get-VM shows it, and that the host it runs on '
        'is in the inventory. Names are taken literally, spaces included: "web01" on hv01 would match without the spaces '
        "around the name; name that VM exactly (or by its id) to gate it."]
    assert result["vm"] == " web01 " and result["vm_id"] is None
    assert lines(result)[0] == "BLOCKED:  web01  was not found. Nothing was moved."


def test_several_near_misses_are_all_named():
    request = req(vm="web01 ", source=None, destination="hv02")
    near = [Sighting("hv01", {"id": "A", "name": "web01"}), Sighting("hv02", {"id": "B", "name": "WEB01"})]
    text = decision.locate(request, [], {}, ["hv02", "hv01"], near).reasons[0]["message"]
    assert 'spaces included: "web01" on hv01, "WEB01" on hv02 would match without the spaces' in text


def test_an_ambiguous_name_lists_the_ids_as_the_readme_says():
    request = req(vm="app01", source=None, destination="HV-NEW-03", search_hosts=("HV-OLD-01", "HV-NEW-02"))
    seen = [Sighting("HV-OLD-01", {"id": "AAAA", "name": "app01", "state": 2, "state_name": "Running"}),
            Sighting("HV-NEW-02", {"id": "BBBB", "name": "APP01", "state": 3, "state_name": "Off"})]
    location = decision.locate(request, seen, {"HV-NEW-03": "timed out"}, ["HV-NEW-03", "HV-OLD-01", "HV-NEW-02"])
    result = decision.decide(request, location, decided_at=WHEN)
    assert result["reasons"] == [{"host": "", "role": "request", "check": "finding the VM",
                                  "message": '2 VMs match "app01": id AAAA on HV-OLD-01 (Running), id BBBB on HV-NEW-02 (Off). '
                                             "Name the VM by its id."}]
    assert (result["verdict"], result["outcome"], result["vm_id"], result["warnings"]) == ("blocked", "ambiguous", None, [])
    assert result["message"] == "\n".join([
        "BLOCKED: app01 names more than one VM, and the gate moves exactly one. Nothing was moved.",
        "Reasons, per host:",
        "  The request:",
        '    - [finding the VM] 2 VMs match "app01": id AAAA on HV-OLD-01 (Running), id BBBB on HV-NEW-02 (Off). '
        "Name the VM by its id.",
        "What to do: name the VM by its id (one of those above).",
    ])


def test_an_override_does_not_move_a_vm_that_was_not_found():
    request = req(override_reason="ticket 7")
    result = decision.decide(request, decision.locate(request, [], {}, ["hv01", "hv02"]), decided_at=WHEN)
    assert (result["verdict"], result["allowed"], result["override"]) == ("blocked", False, None)


# --- Already there


def test_already_there_with_a_source_given():
    request = req()
    location = where(request, on="hv02")
    result = decision.decide(request, location, decided_at=WHEN)
    assert (result["verdict"], result["outcome"], result["allowed"]) == ("already_there", "already_there", True)
    assert (result["source"], result["destination"], result["vm_id"], result["state"]) == ("hv01", "hv02", VM_ID, "Running")
    assert result["reasons"] == [] and result["override"] is None and result["selection"] is None
    assert result["message"] == "\n".join([
        "ALREADY THERE: web01 is already on hv02; nothing to do.",
        f"VM: web01 (id {VM_ID}), Running.",
    ])


def test_already_there_without_a_source():
    request = req(source=None)
    result = decision.decide(request, where(request, on="hv02"), decided_at=WHEN)
    assert (result["verdict"], result["source"], result["destination"]) == ("already_there", None, "hv02")
    assert lines(result)[0] == "ALREADY THERE: web01 is already on hv02; nothing to do."


# --- Allowed


def test_allowed_to_the_destination():
    result = gate(req(), {"hv02": host("HV02")})
    assert (result["verdict"], result["outcome"], result["allowed"]) == ("allowed", "located", True)
    assert (result["source"], result["destination"], result["destination_computer_name"]) == ("hv01", "hv02", "HV02")
    assert result["reasons"] == [] and result["warnings"] == [] and result["override"] is None
    assert (result["vm"], result["vm_id"], result["vm_name"], result["state"]) == ("web01", VM_ID, "web01", "Running")
    assert (result["mode"], result["check_mode"], result["moved"], result["move"]) == ("gate", False, False, None)
    assert result["decided_at"] == WHEN and result["selection"] is None
    assert result["checks"] == {
        "state": {"value": 2, "name": "Running", "allowed": True},
        "configuration_version": "10.0",
        "vectors": {"hv02": {"compatible": True, "surplus_bits": 0, "reasons": []}},
        "hyperv": {"hv02": {"compatible": True, "reasons": [], "warnings": [], "checks": {"blob": {"return_value": 0}}}},
        "migration_service": {"hv01": READY, "hv02": READY},
        "memory": {},  # no room weighed: the facts carried no memory figures
        "limit_wait": None,
    }
    assert result["message"] == "\n".join([
        "ALLOWED: web01 may move from hv01 to hv02.",
        f"VM: web01 (id {VM_ID}), Running, configuration version 10.0, on hv01.",
    ])


def test_the_vm_is_named_by_its_name_when_asked_by_its_id():
    request = req(vm="{" + VM_ID.lower() + "}")
    result = gate(request, {"hv02": host("HV02")})
    assert result["vm"] == "{" + VM_ID.lower() + "}" and result["vm_name"] == "web01"
    assert lines(result)[0] == "ALLOWED: web01 may move from hv01 to hv02."


def test_a_vm_without_a_configuration_version_omits_it():
    result = gate(req(), {"hv02": host("HV02")}, vm={**VM, "configuration_version": None})
    assert lines(result)[1] == f"VM: web01 (id {VM_ID}), Running, on hv01."


def test_allowed_among_candidates_chooses_the_closest_fit_and_says_why_of_each():
    request = req(candidates=("hv02", "hv03", "hv04", "hv05", "hv06"))
    hosts = {"hv02": host("HV02", FIT1), "hv03": host("HV03"), "hv04": host("HV04", MISS),
             "hv05": host("HV05", active_vm_migrations=2)}
    result = gate(request, hosts, unreadable={"hv06": "hv06: the WinRM listener did not answer"})
    assert (result["verdict"], result["destination"], result["destination_computer_name"]) == ("allowed", "hv03", "HV03")
    assert result["reasons"] == []
    limit = ("hv05 is at its limit of 2 simultaneous live migrations: 2 running now. Wait for one to finish and run again, "
             "raise the limit there (Set-VMHost -MaximumVirtualMachineMigrations), or let the gate wait for a free slot "
             "(migration_gate_limit_wait; limit_wait= with playbooks/migrate.yml).")
    assert [(item["host"], item["chosen"], item["ok"], item["why"]) for item in result["selection"]] == [
        ("hv03", True, True, "chosen: compatible by its vectors and by Hyper-V, 0 surplus feature bits, 0 of 2 live migrations active"),
        ("hv02", False, True, "compatible too, ranked after hv03: 1 surplus feature bits, 0 of 2 live migrations active"),
        ("hv05", False, False, f"compatible by its vectors (0 surplus feature bits) but left out: {limit}"),
        ("hv04", False, False, f"left out: {MISS_TEXT}"),
        ("hv06", False, False, "left out: hv06: the WinRM listener did not answer"),
    ]
    hv06 = result["selection"][-1]
    assert hv06 == {"host": "hv06", "ok": False, "compatible": False, "surplus_bits": None, "active_migrations": None,
                    "max_migrations": None, "live_migration_enabled": None, "hyperv_compatible": None, "room_after_mb": None,
                    "reasons": ["hv06: the WinRM listener did not answer"], "chosen": False, "why": hv06["why"]}
    assert result["selection"][0]["hyperv_compatible"] is True and result["selection"][2]["hyperv_compatible"] is None
    assert set(result["checks"]["hyperv"]) == {"hv03", "hv02"}  # a full candidate is not asked while another is free
    assert set(result["checks"]["vectors"]) == {"hv02", "hv03", "hv04", "hv05"}
    # the services of the source and of the hosts asked; hv04's and hv05's figures are in their selection entries
    assert set(result["checks"]["migration_service"]) == {"hv01", "hv02", "hv03"}
    assert result["message"] == "\n".join([
        "ALLOWED: web01 may move from hv01 to hv03.",
        f"VM: web01 (id {VM_ID}), Running, configuration version 10.0, on hv01.",
        "Candidates, best first:",
        *[f"  - {item['host']}: {item['why']}" for item in result["selection"]],
    ])


def test_among_equal_fits_the_candidate_with_fewer_live_migrations_is_chosen():
    request = req(candidates=("hv02", "hv03"))
    hosts = {"hv02": host("HV02", active_vm_migrations=1), "hv03": host("HV03", active_vm_migrations=0)}
    assessment = decision.assess(request, "hv01", VM_VECTORS, hosts, {})
    assert decision.hosts_to_ask(request, assessment, None) == ["hv03", "hv02"]
    assert gate(request, hosts)["destination"] == "hv03"


# --- Blocked: one destination


def test_blocked_by_the_destinations_vectors_and_by_hyper_v():
    result = gate(req(), {"hv02": host("HV02", MISS)},
                  verdicts={"hv02": rejected("The virtual machine 'web01' is using processor-specific features not supported")})
    assert (result["verdict"], result["allowed"], result["destination"]) == ("blocked", False, "hv02")
    assert result["reasons"] == [
        {"host": "hv02", "role": "destination", "check": "vectors", "message": MISS_TEXT},
        {"host": "hv02", "role": "destination", "check": "Hyper-V",
         "message": "The virtual machine 'web01' is using processor-specific features not supported."},
    ]
    assert result["checks"]["vectors"]["hv02"] == {"compatible": False, "surplus_bits": 0, "reasons": [MISS_TEXT]}
    assert result["message"] == "\n".join([
        "BLOCKED: web01 may not move from hv01 to hv02 (2 reasons). Nothing was moved.",
        f"VM: web01 (id {VM_ID}), Running, configuration version 10.0, on hv01.",
        "Reasons, per host:",
        "  hv02 (destination):",
        f"    - [vectors] {MISS_TEXT}",
        "    - [Hyper-V] The virtual machine 'web01' is using processor-specific features not supported.",
        TO_DO.format(CHOOSE),
    ])


def test_a_destination_that_could_not_be_read_blocks_with_its_error():
    result = gate(req(), {}, unreadable={"hv02": "hv02: connection refused (is WinRM listening on 5986?)"})
    assert result["reasons"] == [{"host": "hv02", "role": "destination", "check": "reading the host",
                                  "message": "hv02: connection refused (is WinRM listening on 5986?)"}]
    assert result["checks"]["hyperv"] == {} and result["checks"]["vectors"] == {}  # Hyper-V is not asked about it
    assert lines(result)[0] == "BLOCKED: web01 may not move from hv01 to hv02 (1 reason). Nothing was moved."
    assert result["destination_computer_name"] is None


def test_a_hyper_v_check_that_could_not_be_made_blocks_as_asking_hyper_v():
    error = "HV02: checking the compatibility blob of VM 'web01' (CheckSystemCompatibilityInfo): timed out"
    result = gate(req(), {"hv02": host("HV02")}, verdicts={"hv02": rejected(error, error=error)})
    assert result["reasons"] == [{"host": "hv02", "role": "destination", "check": "asking Hyper-V", "message": error + "."}]


@pytest.mark.parametrize("text, said", [("No dot", "No dot."), ("Ends well.", "Ends well."), ("Really?", "Really?"),
                                        ("wow!", "wow!")])
def test_hyper_v_reasons_are_said_as_sentences(text, said):
    assert messages(gate(req(), {"hv02": host("HV02")}, verdicts={"hv02": rejected(text)})) == [said]


def test_a_hyper_v_reason_about_the_source_is_filed_under_the_source():
    text = "The source hv01 is at its limit of 1 simultaneous live migrations: 1 running now. Wait for one to finish, then run again."
    verdict = rejected(text, about="hv01", check="migration limit")
    result = gate(req(), {"hv02": host("HV02")}, verdicts={"hv02": verdict})
    assert result["reasons"] == [{"host": "hv01", "role": "source", "check": "migration limit", "message": text}]
    assert lines(result)[2:5] == ["Reasons, per host:", "  hv01 (source):", f"    - [migration limit] {text}"]


def test_a_hyper_v_reason_about_the_destination_keeps_its_check():
    verdict = rejected("The migration service on hv02 is not enabled.", about="hv02", check="migration service")
    assert gate(req(), {"hv02": host("HV02")}, verdicts={"hv02": verdict})["reasons"] == [
        {"host": "hv02", "role": "destination", "check": "migration service", "message": "The migration service on hv02 is not enabled."}]


def test_a_hyper_v_reason_that_starts_with_a_host_name_keeps_the_name():
    text = ("hv02 has no migration network: its migration service listens on no address (MigrationServiceListenerIPAddressList "
            "is empty). Add one there (Add-VMMigrationNetwork) and run again.")
    verdict = rejected(text, about="hv02", check="migration service")
    assert messages(gate(req(), {"hv02": host("HV02")}, verdicts={"hv02": verdict})) == [text]


def test_the_destinations_migration_service_as_the_readme_says():
    result = gate(req(destination="HV-OLD-02"), {"HV-OLD-02": host("HV-OLD-02", live_migration_enabled=False)})
    assert result["reasons"] == [{
        "host": "HV-OLD-02", "role": "destination", "check": "migration service",
        "message": "Live migration is turned off on HV-OLD-02, so it accepts no live migrations (EnableVirtualSystemMigration "
                   "is false). Turn it on there (Enable-VMMigration) and run again, or choose another host."}]


def test_a_destination_without_a_migration_network():
    result = gate(req(), {"hv02": host("HV02", listener_addresses=[])})
    assert messages(result, "migration service") == [
        "hv02 has no migration network: its migration service listens on no address (MigrationServiceListenerIPAddressList "
        "is empty). Add one there (Add-VMMigrationNetwork) and run again."]


# --- The VM's state


@pytest.mark.parametrize("vm, text", [
    ({"name": "db01", "state": 6, "state_name": "Saved"},
     "db01 is Saved. The gate does not live-migrate a saved VM: its saved memory and processor state are restored only "
     "where they were saved. Start it (Start-VM) or shut it down (Stop-VM), then run again."),
    ({"name": "db01", "state": 10, "state_name": "Starting"},
     "db01 is Starting, a transitional state. Wait until it is Running or Off, then run again."),
    ({"name": "db01", "state": 32776, "state_name": "Saving"},
     "db01 is Saving, a transitional state. Wait until it is Running or Off, then run again."),
    ({"name": "db01", "state": 32775, "state_name": "Critical"},
     "db01 is Critical (EnabledState 32775); the gate moves VMs that are Running, Off, Paused. Bring it to one of them, "
     "then run again."),
    ({"name": "db01", "state": 5, "state_name": None},
     "db01 is in an unknown state (EnabledState 5); the gate moves VMs that are Running, Off, Paused. Bring it to one of "
     "them, then run again."),
])
def test_a_vm_in_a_state_the_gate_does_not_move(vm, text):
    result = gate(req(vm="db01"), {"hv02": host("HV02")}, vm={**VM, **vm})
    assert result["reasons"] == [{"host": "hv01", "role": "source", "check": "VM state", "message": text}]
    assert result["checks"]["state"] == {"value": vm["state"], "name": vm["state_name"], "allowed": False}
    assert lines(result)[0] == "BLOCKED: db01 may not move from hv01 to hv02 (1 reason). Nothing was moved."


def test_the_allowed_states_are_those_asked():
    result = gate(req(allowed_states=("Running",)), {"hv02": host("HV02")}, vm={**VM, "state": 3, "state_name": "Off"})
    assert messages(result) == ["web01 is Off (EnabledState 3); the gate moves VMs that are Running. Bring it to one of "
                                "them, then run again."]
    assert gate(req(allowed_states=("Running", "Saved")), {"hv02": host("HV02")},
                vm={**VM, "state": 6, "state_name": "Saved"})["verdict"] == "allowed"


# --- The source's migration service


def test_live_migration_turned_off_on_the_source():
    result = gate(req(), {"hv02": host("HV02")}, source_service={**READY, "live_migration_enabled": False})
    assert result["reasons"] == [{
        "host": "hv01", "role": "source", "check": "migration service",
        "message": "Live migration is turned off on the source hv01, so it sends no live migrations "
                   "(EnableVirtualSystemMigration is false). Turn it on there (Enable-VMMigration) and run again."}]
    assert result["checks"]["migration_service"]["hv01"]["live_migration_enabled"] is False


def test_a_source_at_its_known_limit():
    result = gate(req(), {"hv02": host("HV02")}, source_service={**READY, "active_vm_migrations": 2})
    assert result["reasons"] == [{
        "host": "hv01", "role": "source", "check": "migration limit",
        "message": "The source hv01 is at its limit of 2 simultaneous live migrations: 2 running now. Wait for one to "
                   "finish, then run again."}]


def test_a_busy_source_whose_limit_is_unknown_is_left_to_hyper_v():
    service = {**READY, "active_vm_migrations": 3, "max_vm_migrations": None, "live_migration_enabled": None}
    assert decision.source_may_be_full(service)
    assert gate(req(), {"hv02": host("HV02")}, source_service=service)["verdict"] == "allowed"


@pytest.mark.parametrize("service, may_be_full", [
    ({"active_vm_migrations": 0, "max_vm_migrations": None}, False),
    ({"active_vm_migrations": 1, "max_vm_migrations": None}, True),
    ({"active_vm_migrations": 1, "max_vm_migrations": 2}, False),
    ({"active_vm_migrations": 2, "max_vm_migrations": 2}, True),
    ({"active_vm_migrations": None, "max_vm_migrations": 2}, False),
])
def test_source_may_be_full(service, may_be_full):
    assert decision.source_may_be_full(service) is may_be_full


@pytest.mark.parametrize("service, free", [
    ({"active_vm_migrations": 1, "max_vm_migrations": 2}, True),
    ({"active_vm_migrations": 2, "max_vm_migrations": 2}, False),
    ({"active_vm_migrations": 0, "max_vm_migrations": None}, False),  # an unknown limit is no free slot
    ({"active_vm_migrations": None, "max_vm_migrations": 1}, True),
])
def test_slot_free(service, free):
    assert decision.slot_free(service) is free


def test_reasons_are_per_host_the_destination_first_then_the_source():
    result = gate(req(), {"hv02": host("HV02", MISS)}, vm={**VM, "state": 6, "state_name": "Saved"},
                  source_service={**READY, "live_migration_enabled": False})
    assert [(item["host"], item["check"]) for item in result["reasons"]] == [
        ("hv02", "vectors"), ("hv01", "VM state"), ("hv01", "migration service")]
    assert lines(result)[0] == "BLOCKED: web01 may not move from hv01 to hv02 (3 reasons). Nothing was moved."
    assert [line for line in lines(result) if line.startswith("  ") and not line.startswith("    ")] == [
        "  hv02 (destination):", "  hv01 (source):"]


# --- The destination's limit of simultaneous live migrations, and the wait


LIMIT = ("hv02 is at its limit of 2 simultaneous live migrations: 2 running now{}. Wait for one to finish and run again, "
         "raise the limit there (Set-VMHost -MaximumVirtualMachineMigrations), or let the gate wait for a free slot "
         "(migration_gate_limit_wait; limit_wait= with playbooks/migrate.yml).")


def test_a_destination_at_its_limit_without_a_wait():
    result = gate(req(), {"hv02": host("HV02", active_vm_migrations=2)})
    assert result["reasons"] == [{"host": "hv02", "role": "destination", "check": "migration limit", "message": LIMIT.format("")}]
    assert result["checks"]["limit_wait"] is None
    assert "hv02" in result["checks"]["hyperv"]  # without a wait, Hyper-V is asked all the same


def test_the_readme_example_of_a_limit():
    result = gate(req(destination="HV-NEW-02"), {"HV-NEW-02": host("HV-NEW-02", active_vm_migrations=1, max_vm_migrations=1)})
    assert messages(result)[0].startswith("HV-NEW-02 is at its limit of 1 simultaneous live migrations: 1 running now. ")


def test_a_busy_destination_whose_limit_is_unknown_is_left_to_hyper_v_without_a_wait():
    result = gate(req(), {"hv02": host("HV02", **{**UNREAD, "active_vm_migrations": 1})})
    assert (result["verdict"], result["checks"]["limit_wait"]) == ("allowed", None)
    assert gate(req(), {"hv02": host("HV02", **{**UNREAD, "active_vm_migrations": 1})},
                verdicts={"hv02": rejected("hv02 is at its limit.")})["verdict"] == "blocked"


def test_a_destination_still_at_its_limit_after_waiting():
    full = {**READY, "active_vm_migrations": 2}
    result = gate(req(limit_wait=1), {"hv02": host("HV02", active_vm_migrations=2)}, service_after_wait=full, seconds=1)
    assert result["reasons"] == [{"host": "hv02", "role": "destination", "check": "migration limit",
                                  "message": LIMIT.format(", still after waiting 1.0 s")}]
    assert result["checks"]["limit_wait"] == {"host": "hv02", "seconds": 1, "freed": False}
    assert result["checks"]["hyperv"] == {}  # not asked: it stays full
    assert result["message"] == "\n".join([
        "BLOCKED: web01 may not move from hv01 to hv02 (1 reason). Nothing was moved.",
        f"VM: web01 (id {VM_ID}), Running, configuration version 10.0, on hv01.",
        "Still no free slot after waiting 1.0 s for a free live-migration slot on hv02.",
        "Reasons, per host:",
        "  hv02 (destination):",
        "    - [migration limit] " + LIMIT.format(", still after waiting 1.0 s"),
        TO_DO.format(CHOOSE),
    ])


def test_a_destination_whose_slot_freed_while_waiting():
    result = gate(req(limit_wait=60), {"hv02": host("HV02", active_vm_migrations=2)},
                  service_after_wait={**READY, "active_vm_migrations": 1}, seconds=12.25)
    assert (result["verdict"], result["reasons"]) == ("allowed", [])
    assert result["checks"]["limit_wait"] == {"host": "hv02", "seconds": 12.25, "freed": True}
    assert lines(result)[2] == "Waited 12.2 s for a free live-migration slot on hv02."
    assert result["checks"]["migration_service"]["hv02"]["active_vm_migrations"] == 1


def test_a_slot_free_at_once_is_no_wait_worth_saying():
    result = gate(req(limit_wait=60), {"hv02": host("HV02", **{**UNREAD, "active_vm_migrations": 1})},
                  service_after_wait={**READY, "active_vm_migrations": 1}, seconds=0)
    assert result["verdict"] == "allowed" and result["checks"]["limit_wait"] is None
    assert len(lines(result)) == 2


def test_waiting_adds_what_the_settings_read_while_waiting_show():
    hosts = {"hv02": host("HV02", **{**UNREAD, "active_vm_migrations": 1})}  # busy, its limit not read: maybe full
    off = {**READY, "live_migration_enabled": False, "active_vm_migrations": 0}
    result = gate(req(limit_wait=30), hosts, service_after_wait=off, seconds=0)
    assert result["reasons"] == [{
        "host": "hv02", "role": "destination", "check": "migration service",
        "message": "Live migration is turned off on hv02, so it accepts no live migrations (EnableVirtualSystemMigration "
                   "is false). Turn it on there (Enable-VMMigration) and run again, or choose another host."}]
    assert result["checks"]["migration_service"]["hv02"]["live_migration_enabled"] is False


# --- The steps one by one: assess, slots_to_wait_for, after_wait, hosts_to_ask


def test_assess_ranks_the_readable_targets_then_lists_the_unreadable():
    request = req(candidates=("hv01", "hv02", "hv03", "hv04", "hv05"))
    hosts = {"hv02": host("HV02", FIT1), "hv03": host("HV03", MISS), "hv04": host("HV04", active_vm_migrations=1,
                                                                                  max_vm_migrations=None)}
    items = decision.assess(request, "hv01", VM_VECTORS, hosts, {"hv05": "hv05: timed out", "hv01": "not a target"})
    assert [item["host"] for item in items] == ["hv04", "hv02", "hv03", "hv05"]  # the source is no target
    hv04, hv02, hv03, hv05 = items
    assert (hv04["full"], hv04["maybe_full"], hv04["usable"], hv04["computer_name"]) == (False, True, True, "HV04")
    assert (hv02["surplus_bits"], hv02["usable"], hv02["reasons"]) == (1, True, [])
    assert hv03["reasons"] == [{"host": "hv03", "role": "candidate", "check": "vectors", "message": MISS_TEXT}]
    assert (hv03["compatible"], hv03["usable"]) == (False, False)
    assert hv05 == {"host": "hv05", "computer_name": None, "readable": False, "compatible": False, "surplus_bits": None,
                    "live_migration_enabled": None, "listener_addresses": [], "active": None, "limit": None,
                    "full": False, "maybe_full": False, "usable": False, "room_after_mb": None,
                    "reasons": [{"host": "hv05", "role": "candidate", "check": "reading the host", "message": "hv05: timed out"}]}


def test_assess_of_a_full_destination():
    item, = decision.assess(req(), "hv01", VM_VECTORS, {"hv02": host("HV02", active_vm_migrations=3)}, {})
    assert (item["full"], item["maybe_full"], item["usable"], item["active"], item["limit"]) == (True, False, True, 3, 2)


def test_targets_of():
    assert decision.targets_of(req(), "hv01") == ["hv02"]
    assert decision.targets_of(req(candidates=("hv01", "hv02", "hv03")), "hv02") == ["hv01", "hv03"]


@pytest.mark.parametrize("limit_wait, service, target", [
    (0, {"active_vm_migrations": 2}, None),  # no wait asked
    (5, {"active_vm_migrations": 2}, "hv02"),  # full
    (5, {"active_vm_migrations": 1, "max_vm_migrations": None}, "hv02"),  # maybe full
    (5, {"active_vm_migrations": 1}, None),  # a free slot
    (5, {"active_vm_migrations": 2, "live_migration_enabled": False}, None),  # unusable: no slot will help
])
def test_slots_to_wait_for_one_destination(limit_wait, service, target):
    request = req(limit_wait=limit_wait)
    assessment = decision.assess(request, "hv01", VM_VECTORS, {"hv02": host("HV02", **service)}, {})
    assert decision.slots_to_wait_for(request, assessment) == target


def test_slots_to_wait_for_among_candidates_is_the_best_one_only_when_it_is_full():
    request = req(candidates=("hv02", "hv03"), limit_wait=5)
    both_full = {"hv02": host("HV02", active_vm_migrations=2), "hv03": host("HV03", FIT1, active_vm_migrations=2)}
    assert decision.slots_to_wait_for(request, decision.assess(request, "hv01", VM_VECTORS, both_full, {})) == "hv02"
    one_free = {**both_full, "hv03": host("HV03", FIT1)}
    assert decision.slots_to_wait_for(request, decision.assess(request, "hv01", VM_VECTORS, one_free, {})) is None
    assert decision.slots_to_wait_for(request, []) is None


def test_after_wait_updates_only_the_host_waited_for_and_keeps_each_reason_once():
    request = req(candidates=("hv02", "hv03"))
    hosts = {"hv02": host("HV02", listener_addresses=[], active_vm_migrations=2), "hv03": host("HV03")}
    assessment = decision.assess(request, "hv01", VM_VECTORS, hosts, {})
    read_again = {**READY, "listener_addresses": [], "live_migration_enabled": None, "active_vm_migrations": 1}
    updated = decision.after_wait(request, assessment, "hv02", read_again)
    before = {item["host"]: item for item in assessment}
    after = {item["host"]: item for item in updated}
    assert after["hv03"] is before["hv03"]
    assert after["hv02"]["reasons"] == before["hv02"]["reasons"] and len(after["hv02"]["reasons"]) == 1
    assert (after["hv02"]["active"], after["hv02"]["full"], after["hv02"]["usable"]) == (1, False, False)
    assert before["hv02"]["full"] is True  # the assessment given is left as it was


def test_after_wait_with_the_limit_still_unknown_counts_as_full():
    request = req(limit_wait=5)
    assessment = decision.assess(request, "hv01", VM_VECTORS, {"hv02": host("HV02", **{**UNREAD, "active_vm_migrations": 1})}, {})
    item, = decision.after_wait(request, assessment, "hv02", UNREAD)
    assert (item["full"], item["maybe_full"], item["limit"], item["usable"]) == (True, False, None, True)


def test_hosts_to_ask_about_one_destination():
    request = req()
    readable = decision.assess(request, "hv01", VM_VECTORS, {"hv02": host("HV02", MISS)}, {})
    assert decision.hosts_to_ask(request, readable, None) == ["hv02"]  # even when its vectors fail: Hyper-V's words count
    unreadable = decision.assess(request, "hv01", VM_VECTORS, {}, {"hv02": "down"})
    assert decision.hosts_to_ask(request, unreadable, None) == []


def test_hosts_to_ask_about_candidates_are_the_usable_ones_with_a_free_slot_best_first():
    request = req(candidates=("hv02", "hv03", "hv04", "hv05", "hv06"))
    hosts = {"hv02": host("HV02", FIT1), "hv03": host("HV03", active_vm_migrations=1), "hv04": host("HV04", MISS),
             "hv05": host("HV05", active_vm_migrations=2), "hv06": host("HV06", live_migration_enabled=False)}
    assessment = decision.assess(request, "hv01", VM_VECTORS, hosts, {})
    assert decision.hosts_to_ask(request, assessment, None) == ["hv03", "hv02"]


def test_ask_rounds_go_by_fit_a_few_hosts_at_a_time_each_vm_in_its_own_turn():
    request = req(candidates=("hv02", "hv03", "hv04", "hv05", "hv06"))
    hosts = {"hv02": host("HV02", FIT1), **{name: host(name.upper()) for name in ("hv03", "hv04", "hv05", "hv06")}}
    assessment = decision.assess(request, "hv01", VM_VECTORS, hosts, {})
    asked = decision.hosts_to_ask(request, assessment, None)
    rounds = decision.ask_rounds(asked, assessment, VM_ID)
    assert [len(hosts) for hosts in rounds] == [3, 1, 1]  # four of the closest fit, three at a time, then hv02
    assert sorted(rounds[0] + rounds[1]) == ["hv03", "hv04", "hv05", "hv06"] and rounds[2] == ["hv02"]
    one_by_one = decision.ask_rounds(asked, assessment, VM_ID, at_once=1)
    assert one_by_one == [[host] for hosts in rounds for host in hosts]
    other_vm = decision.ask_rounds(asked, assessment, "another-vm-id", at_once=1)
    assert other_vm[-1] == ["hv02"] and other_vm != one_by_one  # the same hosts, in that VM's own turn


def test_hosts_to_ask_after_a_wait():
    one = req(limit_wait=5)
    assessment = decision.assess(one, "hv01", VM_VECTORS, {"hv02": host("HV02", active_vm_migrations=2)}, {})
    assert decision.hosts_to_ask(one, assessment, {"host": "hv02", "seconds": 5, "freed": True}) == ["hv02"]
    assert decision.hosts_to_ask(one, assessment, {"host": "hv02", "seconds": 5, "freed": False}) == []
    # a wait for the source (busy too) changes nothing about whom to ask
    assert decision.hosts_to_ask(one, assessment, {"host": "hv01", "seconds": 5, "freed": False}) == ["hv02"]
    many = req(candidates=("hv02", "hv03"), limit_wait=5)
    hosts = {"hv02": host("HV02", active_vm_migrations=2), "hv03": host("HV03", FIT1, active_vm_migrations=2)}
    assessment = decision.assess(many, "hv01", VM_VECTORS, hosts, {})
    assert decision.hosts_to_ask(many, assessment, {"host": "hv02", "seconds": 5, "freed": True}) == ["hv02"]
    assert decision.hosts_to_ask(many, assessment, {"host": "hv02", "seconds": 5, "freed": False}) == []  # all full
    hosts["hv03"] = host("HV03", FIT1)
    assessment = decision.assess(many, "hv01", VM_VECTORS, hosts, {})
    assert decision.hosts_to_ask(many, assessment, {"host": "hv02", "seconds": 5, "freed": False}) == ["hv03"]


def test_a_candidate_waited_for_in_vain_gives_way_to_one_with_a_free_slot():
    request = req(candidates=("hv02", "hv03"), limit_wait=5)
    hosts = {"hv02": host("HV02", **{**UNREAD, "active_vm_migrations": 1}), "hv03": host("HV03", FIT1)}
    result = gate(request, hosts, service_after_wait={**READY, "active_vm_migrations": 2}, seconds=5)
    assert (result["verdict"], result["destination"]) == ("allowed", "hv03")
    assert result["checks"]["limit_wait"] == {"host": "hv02", "seconds": 5, "freed": False}
    assert lines(result)[2] == "Still no free slot after waiting 5.0 s for a free live-migration slot on hv02."
    assert result["selection"][1]["why"].startswith("compatible by its vectors (0 surplus feature bits) but left out: "
                                                    "hv02 is at its limit of 2 simultaneous live migrations: 2 running now, "
                                                    "still after waiting 5.0 s. ")


# --- Blocked: candidates


def test_blocked_when_no_candidate_fits():
    request = req(candidates=("hv02", "hv03", "hv04"))
    hosts = {"hv02": host("HV02", MISS), "hv03": host("HV03")}
    result = gate(request, hosts, unreadable={"hv04": "hv04: timed out"},
                  verdicts={"hv03": rejected("The virtual machine 'web01' has a legacy network adapter")})
    assert (result["verdict"], result["destination"], result["allowed"]) == ("blocked", None, False)
    assert result["reasons"] == [
        {"host": "hv03", "role": "candidate", "check": "Hyper-V",
         "message": "The virtual machine 'web01' has a legacy network adapter."},
        {"host": "hv02", "role": "candidate", "check": "vectors", "message": MISS_TEXT},
        {"host": "hv04", "role": "candidate", "check": "reading the host", "message": "hv04: timed out"},
    ]
    assert [item["host"] for item in result["selection"]] == ["hv03", "hv02", "hv04"]
    assert not any(item["chosen"] for item in result["selection"])
    assert result["message"] == "\n".join([
        "BLOCKED: no candidate can take web01 from hv01 (3 reasons). Nothing was moved.",
        f"VM: web01 (id {VM_ID}), Running, configuration version 10.0, on hv01.",
        "Reasons, per host:",
        "  hv03 (candidate):",
        "    - [Hyper-V] The virtual machine 'web01' has a legacy network adapter.",
        "  hv02 (candidate):",
        f"    - [vectors] {MISS_TEXT}",
        "  hv04 (candidate):",
        "    - [reading the host] hv04: timed out",
        TO_DO.format(""),  # candidates were given: no advice to give some
    ])


def test_no_candidate_besides_the_source_as_the_readme_says():
    request = req(source=None, candidates=("HV-OLD-01",))
    location = where(request, on="HV-OLD-01")
    result = decision.decide(request, location, vm=VM, source_service=READY, assessment=[], decided_at=WHEN)
    assert result["reasons"] == [{"host": "", "role": "request", "check": "candidates",
                                  "message": "There is no candidate besides the source HV-OLD-01."}]
    assert (result["verdict"], result["source"], result["selection"]) == ("blocked", "HV-OLD-01", [])
    assert lines(result)[0] == "BLOCKED: no candidate can take web01 from HV-OLD-01 (1 reason). Nothing was moved."
    assert lines(result)[-1] == TO_DO.format("")


def test_a_source_reason_given_by_every_candidates_check_is_said_once():
    text = "The source hv01 is at its limit of 1 simultaneous live migrations: 1 running now. Wait for one to finish, then run again."
    verdict = rejected(text, about="hv01", check="migration limit")
    request = req(candidates=("hv02", "hv03"))
    result = gate(request, {"hv02": host("HV02"), "hv03": host("HV03", FIT1)}, verdicts={"hv02": verdict, "hv03": verdict})
    assert result["reasons"] == [{"host": "hv01", "role": "source", "check": "migration limit", "message": text}]
    assert lines(result)[0] == "BLOCKED: no candidate can take web01 from hv01 (1 reason). Nothing was moved."
    assert [item["why"] for item in result["selection"]] == [
        f"compatible by its vectors (0 surplus feature bits) but left out: {text}",
        f"compatible by its vectors (1 surplus feature bits) but left out: {text}"]


def test_a_chosen_candidate_is_still_blocked_by_the_vms_state():
    request = req(candidates=("hv02", "hv03"))
    result = gate(request, {"hv02": host("HV02"), "hv03": host("HV03", FIT1)}, vm={**VM, "state": 6, "state_name": "Saved"})
    assert (result["verdict"], result["destination"]) == ("blocked", "hv02")
    assert [item["check"] for item in result["reasons"]] == ["VM state"]
    assert lines(result)[0] == "BLOCKED: web01 may not move from hv01 to hv02 (1 reason). Nothing was moved."
    assert not any(line.startswith("Candidates") for line in lines(result))
    assert lines(result)[-1] == TO_DO.format("")


# --- Overridden


def test_overridden_to_the_destination():
    request = req(override_reason="CHG-42: the legacy adapter is removed after the move (J. Doe)")
    result = gate(request, {"hv02": host("HV02", MISS)})
    assert (result["verdict"], result["allowed"], result["destination"]) == ("overridden", True, "hv02")
    assert result["override"] == {"reason": "CHG-42: the legacy adapter is removed after the move (J. Doe)", "overridden_reasons": 1}
    assert result["message"] == "\n".join([
        "OVERRIDDEN: web01 is blocked from moving from hv01 to hv02 (1 reason), and allowed by an override with the reason: "
        "CHG-42: the legacy adapter is removed after the move (J. Doe)",
        f"VM: web01 (id {VM_ID}), Running, configuration version 10.0, on hv01.",
        "Set aside by the override, per host:",
        "  hv02 (destination):",
        f"    - [vectors] {MISS_TEXT}",
    ])


def test_overridden_to_a_destination_that_could_not_be_read():
    result = gate(req(override_reason="ok"), {}, unreadable={"hv02": "hv02: down"})
    assert (result["verdict"], result["destination"], result["override"]["overridden_reasons"]) == ("overridden", "hv02", 1)


def test_overridden_among_candidates_goes_to_the_best_one_asked():
    request = req(candidates=("hv02", "hv03", "hv04"), override_reason="accepted by ops")
    hosts = {"hv02": host("HV02", MISS), "hv03": host("HV03", FIT1), "hv04": host("HV04", FIT1)}
    verdicts = {"hv03": rejected("Legacy adapter on hv03"), "hv04": rejected("Legacy adapter on hv04")}
    result = gate(request, hosts, verdicts=verdicts)
    assert (result["verdict"], result["destination"], result["destination_computer_name"]) == ("overridden", "hv03", "HV03")
    assert result["override"] == {"reason": "accepted by ops", "overridden_reasons": 3}
    assert [(item["host"], item["chosen"]) for item in result["selection"]] == [("hv03", True), ("hv04", False), ("hv02", False)]
    assert result["selection"][0]["why"] == "compatible by its vectors (1 surplus feature bits) but left out: Legacy adapter on hv03."
    assert lines(result)[0] == ("OVERRIDDEN: web01 is blocked from moving from hv01 to hv03 (3 reasons), and allowed by an "
                                "override with the reason: accepted by ops")
    assert lines(result)[2:6] == ["Candidates, best first:",
                                  "  - hv03: compatible by its vectors (1 surplus feature bits) but left out: Legacy adapter on hv03.",
                                  "  - hv04: compatible by its vectors (1 surplus feature bits) but left out: Legacy adapter on hv04.",
                                  f"  - hv02: left out: {MISS_TEXT}"]
    assert lines(result)[6] == "Set aside by the override, per host:"


def test_overridden_among_candidates_none_usable_goes_to_the_first_readable():
    request = req(candidates=("hv02", "hv03", "hv04"), override_reason="accepted by ops")
    hosts = {"hv02": host("HV02", MISS), "hv03": host("HV03", live_migration_enabled=False)}
    result = gate(request, hosts, unreadable={"hv04": "down"})
    assert (result["verdict"], result["destination"]) == ("overridden", "hv03")  # rank order: hv03 is compatible


def test_an_override_with_no_readable_candidate_still_blocks():
    request = req(candidates=("hv02", "hv03"), override_reason="accepted by ops")
    result = gate(request, {}, unreadable={"hv02": "hv02: down", "hv03": "hv03: down"})
    assert (result["verdict"], result["destination"], result["override"], result["allowed"]) == ("blocked", None, None, False)
    assert lines(result)[0] == "BLOCKED: no candidate can take web01 from hv01 (2 reasons). Nothing was moved."


def test_an_override_unused_when_allowed():
    result = gate(req(override_reason="just in case"), {"hv02": host("HV02")})
    assert (result["verdict"], result["override"]) == ("allowed", None)


# --- Warnings


def test_hyper_v_warnings_on_the_chosen_host_and_hosts_not_read_while_looking():
    request = req(source=None, candidates=("hv02", "hv03"), search_hosts=("hv01", "hv09"))
    location = decision.locate(request, [Sighting("hv01", VM)], {"hv09": "hv09: timed out"}, ["hv02", "hv03", "hv01", "hv09"])
    warned = {**COMPATIBLE, "warnings": ["The DVD image D:\\iso\\setup.iso will not be moved."]}
    other = {**COMPATIBLE, "warnings": ["Not said: hv03 is not chosen."]}
    result = gate(request, {"hv02": host("HV02"), "hv03": host("HV03", FIT1)}, location=location,
                  verdicts={"hv02": warned, "hv03": other})
    assert (result["verdict"], result["source"], result["destination"]) == ("allowed", "hv01", "hv02")
    assert result["warnings"] == [
        {"host": "hv02", "role": "candidate", "check": "Hyper-V", "message": "The DVD image D:\\iso\\setup.iso will not be moved."},
        {"host": "hv09", "role": "searched", "check": "finding the VM",
         "message": "hv09 could not be read while looking for the VM: hv09: timed out"},
    ]
    assert lines(result)[-3:] == ["Warnings:", "  - hv02: The DVD image D:\\iso\\setup.iso will not be moved.",
                                  "  - hv09: hv09 could not be read while looking for the VM: hv09: timed out"]


def test_hyper_v_warnings_on_a_blocked_destination_are_kept():
    warned = {**rejected("nope"), "warnings": ["A DVD image stays behind."]}
    result = gate(req(), {"hv02": host("HV02")}, verdicts={"hv02": warned})
    assert result["warnings"] == [{"host": "hv02", "role": "destination", "check": "Hyper-V", "message": "A DVD image stays behind."}]
    assert lines(result)[-3:-1] == ["Warnings:", "  - hv02: A DVD image stays behind."]


# --- The move's outcome


def allowed(check_mode=False):
    return gate(req(mode="move"), {"hv02": host("HV02")}, check_mode=check_mode)


def test_record_move_of_a_vm_moved():
    before = allowed()
    result = {"changed": True, "msg": "web01 moved from hv01 to hv02 in 12.0 s.", "job_id": "J1", "duration": 12.0,
              "progress": [50, 100], "final": {"host": "hv02", "state_name": "Running"}, "limit_refusals": 1,
              "limit_waited": 5.0}
    after = decision.record_move(before, result, failed=False)
    assert after["moved"] is True and before["moved"] is False and before["move"] is None
    assert after["move"] == {"failed": False, "changed": True, "msg": "web01 moved from hv01 to hv02 in 12.0 s.", "job_id": "J1",
                             "duration": 12.0, "progress": [50, 100], "final": {"host": "hv02", "state_name": "Running"},
                             "limit_refusals": 1, "limit_waited": 5.0}
    assert lines(after) == lines(before) + ["MOVED: web01 moved from hv01 to hv02 in 12.0 s. It is Running on hv02 now."]
    assert {key: value for key, value in after.items() if key not in ("moved", "move", "message")} == {
        key: value for key, value in before.items() if key not in ("moved", "move", "message")}


def test_record_move_of_a_failed_move():
    after = decision.record_move(allowed(), {"msg": "The migration job failed (ErrorCode 32768). web01 is still on hv01."},
                                 failed=True)
    assert after["moved"] is False
    assert after["move"] == {"failed": True, "changed": False, "msg": "The migration job failed (ErrorCode 32768). web01 is still on hv01.",
                             "job_id": None, "duration": None, "progress": [], "final": {}, "limit_refusals": 0, "limit_waited": 0}
    assert lines(after)[-1] == "MOVE FAILED: The migration job failed (ErrorCode 32768). web01 is still on hv01."


def test_record_move_in_check_mode():
    after = decision.record_move(allowed(check_mode=True), {"changed": True, "msg": "web01 would move to hv02."}, failed=False)
    assert after["moved"] is False and after["move"]["changed"] is True and after["check_mode"] is True
    assert lines(after)[-1] == "CHECK MODE: web01 would move to hv02. Nothing was moved."


def test_record_move_with_nothing_to_move():
    after = decision.record_move(allowed(), {"changed": False, "msg": "web01 is on hv02 already."}, failed=False)
    assert after["moved"] is False
    assert lines(after)[-1] == "NOTHING TO MOVE: web01 is on hv02 already."


def test_record_move_of_a_move_without_its_final_state():
    after = decision.record_move(allowed(), {"changed": True, "msg": "Moved."}, failed=False)
    assert lines(after)[-1] == "MOVED: Moved. It is ? on ? now."


def test_a_destination_hyper_v_was_not_asked_about_is_never_allowed():
    request = req()
    hosts = {"hv02": host("HV02")}
    assessment = decision.assess(request, "hv01", VM_VECTORS, hosts, {})
    result = decision.decide(request, where(request), vm=VM, source_service=READY, assessment=assessment,
                             verdicts={}, hosts=hosts, decided_at=WHEN)
    assert (result["verdict"], result["allowed"]) == ("blocked", False)
    assert [(item["host"], item["check"]) for item in result["reasons"]] == [("hv02", "asking Hyper-V")]


def test_equally_good_candidates_are_those_that_passed_with_the_same_fit():
    request = req(candidates=("hv02", "hv03", "hv04", "hv05"))
    hosts = {"hv02": host("HV02"), "hv03": host("HV03"), "hv04": host("HV04", FIT1), "hv05": host("HV05", MISS)}
    result = gate(request, hosts)
    assert result["destination"] == "hv02"
    assert decision.equally_good(result) == ("hv02", "hv03")  # hv04 fits less closely, hv05 not at all
    assert decision.equally_good(gate(req(), {"hv02": host("HV02")})) == ("hv02",)
    # a wave's queue may also take the closer fits' alternates, the closer fit first
    assert decision.queue_destinations(result) == ("hv02", "hv03", "hv04")
    assert decision.queue_destinations(gate(req(), {"hv02": host("HV02")})) == ("hv02",)


def test_a_decision_rerouted_to_a_looser_fit_says_the_closer_one_had_no_free_slot():
    request = req(candidates=("hv02", "hv04"))
    result = gate(request, {"hv02": host("HV02"), "hv04": host("HV04", FIT1)})
    assert result["destination"] == "hv02"
    moved = decision.reroute(result, "hv04")
    assert moved["destination"] == "hv04" and moved["verdict"] == "allowed"
    assert [(item["host"], item["why"]) for item in moved["selection"]] == [
        ("hv04", "chosen: compatible by its vectors and by Hyper-V, 1 surplus feature bits, 0 of 2 live migrations "
                 "active; a closer fit passed too but had no free live-migration slot"),
        ("hv02", "compatible too and a closer fit, but with no free live-migration slot when hv04 was chosen: "
                 "0 surplus feature bits, 0 of 2 live migrations active")]
    assert lines(moved)[0] == "ALLOWED: web01 may move from hv01 to hv04."


def test_a_decision_rerouted_to_an_equally_good_candidate_says_so():
    request = req(candidates=("hv02", "hv03"))
    warned = {**COMPATIBLE, "warnings": ["A DVD image stays behind on hv03."]}
    result = gate(request, {"hv02": host("HV02"), "hv03": host("HV03")}, verdicts={"hv03": warned})
    moved = decision.reroute(result, "hv03")
    assert moved["destination"] == "hv03" and moved["verdict"] == "allowed"
    assert [item["host"] for item in moved["selection"]] == ["hv03", "hv02"]
    assert moved["selection"][0]["why"].startswith("chosen: compatible by its vectors and by Hyper-V")
    assert moved["selection"][1]["why"].startswith("compatible too, ranked after hv03")
    assert moved["warnings"] == [{"host": "hv03", "role": "candidate", "check": "Hyper-V",
                                  "message": "A DVD image stays behind on hv03."}]
    assert lines(moved)[0] == "ALLOWED: web01 may move from hv01 to hv03."
    assert decision.reroute(result, "hv02") is result
    with pytest.raises(ValueError, match="hv04 is not one of the candidates that passed every check"):
        decision.reroute(result, "hv04")


# --- Room: memory


def test_a_host_without_room_is_left_out_and_equal_fits_go_where_the_most_memory_is_left():
    request = req(candidates=("hv02", "hv03", "hv04"))
    hosts = {"hv02": host("HV02"), "hv03": host("HV03"), "hv04": host("HV04")}
    no_room = "hv04 has no room for web01: it needs 8192 MB, and hv04 has 4096 MB free, less its reserve of 2048 MB, 2048 MB for VMs."
    assessment = decision.assess(request, "hv01", VM_VECTORS, hosts, {}, {"hv04": [("memory", no_room)]},
                                 {"hv02": 1024, "hv03": 16384, "hv04": -6144})
    assert decision.hosts_to_ask(request, assessment, None) == ["hv03", "hv02"]  # the most left first; hv04 not asked
    memory = {"hv02": {"after_mb": 1024}, "hv03": {"after_mb": 16384}, "hv04": {"after_mb": -6144}}
    result = decision.decide(request, where(request), vm=VM, source_service=READY, assessment=assessment,
                             verdicts={"hv03": COMPATIBLE, "hv02": COMPATIBLE}, hosts=hosts, decided_at=WHEN,
                             memory=memory)
    assert result["destination"] == "hv03" and result["checks"]["memory"] == memory
    assert [(item["host"], item["ok"]) for item in result["selection"]] == [("hv03", True), ("hv02", True), ("hv04", False)]
    assert result["selection"][0]["why"].endswith("16384 MB of memory left for VMs after the move")
    assert result["selection"][2]["why"] == f"compatible by its vectors (0 surplus feature bits) but left out: {no_room}"
