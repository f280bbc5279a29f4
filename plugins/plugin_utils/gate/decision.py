# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gate's decision, from what was read: pure, no I/O.

The gate action reads the hosts and calls these steps in order:
  locate()     where the VM is, from what the hosts answered when asked for it;
  assess()     the destination or candidates: the vectors' verdict and rank, their migration service;
  slots_to_wait_for() / after_wait()   hosts at their concurrent-migration limit, and what a wait changed;
  hosts_to_ask()   which hosts Hyper-V is asked about (compat_check's checks);
  decide()     the verdict, every reason per host, the selection, the override, and the message;
  record_move()    the move's outcome added to the decision.
Fail closed: a host that could not be read, or a check that could not be made, is a reason, never a pass.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing as t

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.ranking import rank_hosts
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import message as gate_message
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate.request import Request
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import answers_to
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.migration_service import service_reasons
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.move import running_job_text

FINDING = "finding the VM"
READING_VM = "reading the VM"  # found on its source, but the host's data on it could not be used
TRANSITIONAL_STATES = ("Starting", "Stopping", "Saving", "Pausing", "Resuming", "Snapshotting", "Reset")


MIGRATION_RUNNING = "migration running"


def reason(host: str, role: str, check: str, text: str) -> dict[str, str]:
    return {"host": host, "role": role, "check": check, "message": text}


def migration_running(source: str, label: str, job: t.Mapping[str, t.Any]) -> dict[str, str]:
    """The reason a VM may not move while a migration job already moves it (Msvm_MigrationJob on its source):
    another run's, one a killed run left going, or one started by hand. Waiting is the remedy, not a retry."""
    text = running_job_text(job, label, source)
    return reason(source, "source", MIGRATION_RUNNING,
                  f"{text[0].upper()}{text[1:]}, started by another run, a run that was stopped, or by hand. Wait for "
                  f"it to end, then run again: the gate then sees where {label} is.")


@dataclasses.dataclass
class Sighting:
    """A VM that answers to the name or id asked, on one host: {id, name, state, state_name}."""

    host: str
    vm: dict[str, t.Any]


@dataclasses.dataclass
class Location:
    outcome: str  # located, already_there, not_found, ambiguous
    source: str | None  # where the VM is (located), or the source asked for
    seen: list[Sighting]
    reasons: list[dict[str, str]]
    warnings: list[dict[str, str]]

    @property
    def vm(self) -> dict[str, t.Any]:
        return self.seen[0].vm if len(self.seen) == 1 else {}


def matches(vm: str, system: t.Mapping[str, t.Any]) -> bool:
    """Whether a VM ({id, name}) answers to `vm` (hyperv/api.py's rule, answers_to)."""
    return answers_to(system.get("id"), system.get("name"), vm)


def locate(request: Request, seen: list[Sighting], unreadable: t.Mapping[str, str], searched: list[str],
           near_misses: list[Sighting] = ()) -> Location:
    """What the search means. `seen`: the VMs matching the request on the hosts read; `unreadable`: host ->
    why it could not be read; `searched`: every host asked (readable or not); `near_misses`: VMs that match the
    name trimmed, when the literal name matched none."""
    targets = [host for host in request.targets if host != request.source]
    if not seen:
        outcome = "not_found"
    elif len(seen) > 1:
        outcome = "ambiguous"
    elif seen[0].host == request.source:
        outcome = "located"
    elif seen[0].host in targets and (request.source or not request.pick):
        outcome = "already_there"
    else:
        outcome = "located"
    reasons: list[dict[str, str]] = []
    warnings: list[dict[str, str]] = []
    label = json.dumps(request.vm)
    if outcome == "not_found":
        for host, text in unreadable.items():
            reasons.append(reason(host, "source" if host == request.source else "searched", FINDING, text))
        readable = [host for host in searched if host not in unreadable]
        if readable:
            text = (f"No VM named or with id {label} is on {', '.join(readable)}. Check the name as Get-VM shows it, "
                    "and that the host it runs on is in the inventory.")
            if near_misses:
                where = ", ".join(f"{json.dumps(miss.vm.get('name'))} on {miss.host}" for miss in near_misses)
                text += (f" Names are taken literally, spaces included: {where} would match without the spaces "
                         "around the name; name that VM exactly (or by its id) to gate it.")
            reasons.append(reason("", "request", FINDING, text))
    elif outcome == "ambiguous":
        found = [f"id {item.vm.get('id')} on {item.host} ({item.vm.get('state_name')})" for item in seen]
        reasons.append(reason("", "request", FINDING,
                              f"{len(seen)} VMs match {label}: {', '.join(found)}. Name the VM by its id."))
    else:
        for host, text in unreadable.items():
            if host not in request.targets:
                warnings.append(reason(host, "searched", FINDING,
                                       f"{host} could not be read while looking for the VM: {text}"))
    source = seen[0].host if len(seen) == 1 and outcome == "located" else request.source
    return Location(outcome, source, seen, reasons, warnings)


def targets_of(request: Request, source: str | None) -> list[str]:
    """The destination, or the candidates without the source, each once."""
    if not request.pick:
        return [t.cast(str, request.destination)]
    return [host for host in request.targets if host != source]


def assess(request: Request, source: str | None, vm_vectors: t.Any, hosts: t.Mapping[str, t.Mapping[str, t.Any]],
           unreadable: t.Mapping[str, str],
           problems: t.Mapping[str, t.Sequence[tuple[str, str]]] | None = None,
           room_after: t.Mapping[str, int | None] | None = None) -> list[dict[str, t.Any]]:
    """Each target in rank order (then the unreadable ones): its vectors' verdict and its migration service.

    `hosts`: inventory host -> the host part of its hyperv_compat facts (name, vectors, migration_service);
    `problems`: host -> (check, text) found outside the vectors: its cluster will not take the VM there
    (gate/cluster.py), it has no room for it (gate/room.py); each a reason of its own. `room_after`: host -> the
    memory it has left for VMs once this one moved there (gate/room.py), which ranks hosts of equal fit."""
    problems, room_after = problems or {}, room_after or {}
    role = "candidate" if request.pick else "destination"
    targets = targets_of(request, source)
    readable = [host for host in targets if host in hosts]
    ranking = rank_hosts(vm_vectors, {host: hosts[host]["vectors"] for host in readable}) if readable else []
    items = []
    for rank in ranking:
        host = rank["host"]
        service = hosts[host]["migration_service"]
        found = [reason(host, role, check, text) for check, text in problems.get(host, ())]
        found += [reason(host, role, "vectors", item["message"]) for item in rank["reasons"]]
        found += service_reasons(service, host, role, include_limit=False)
        active, limit = int(service.get("active_vm_migrations") or 0), service.get("max_vm_migrations")
        items.append({
            "host": host, "computer_name": hosts[host].get("name"), "readable": True,
            "compatible": rank["compatible"], "surplus_bits": rank["surplus_bits"],
            "live_migration_enabled": service.get("live_migration_enabled"),
            "listener_addresses": service.get("listener_addresses") or [],
            "active": active, "limit": limit, "full": limit is not None and active >= int(limit),
            "maybe_full": limit is None and active > 0, "reasons": found, "usable": not found,
            "room_after_mb": room_after.get(host),
        })
    for host in targets:
        if host in unreadable and host not in hosts:
            items.append({
                "host": host, "computer_name": None, "readable": False, "compatible": False, "surplus_bits": None,
                "live_migration_enabled": None, "listener_addresses": [], "active": None, "limit": None,
                "full": False, "maybe_full": False, "usable": False, "room_after_mb": None,
                "reasons": [reason(host, role, "reading the host", unreadable[host])],
            })
    return items


def _pool(assessment: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """The usable hosts (room for the VM among their conditions), the best first: a free slot, the fewest surplus
    feature bits, the most memory left after the move, the fewest active live migrations, then the name."""
    usable = [item for item in assessment if item["usable"]]
    return sorted(usable, key=lambda item: (item["full"], item["surplus_bits"], -(item.get("room_after_mb") or 0),
                                            item["active"], item["host"]))


def slots_to_wait_for(request: Request, assessment: list[dict[str, t.Any]]) -> str | None:
    """The target whose free live-migration slot the gate waits for (a full, or possibly full, best choice)."""
    if request.limit_wait <= 0 or not assessment:
        return None
    if not request.pick:
        item = assessment[0]
        return item["host"] if item["usable"] and (item["full"] or item["maybe_full"]) else None
    pool = _pool(assessment)
    return pool[0]["host"] if pool and (pool[0]["full"] or pool[0]["maybe_full"]) else None


def source_may_be_full(service: t.Mapping[str, t.Any]) -> bool:
    """A source with live migrations running whose limit is unknown or reached: worth reading (and waiting for)."""
    active, limit = int(service.get("active_vm_migrations") or 0), service.get("max_vm_migrations")
    return active > 0 and (limit is None or active >= int(limit))


def slot_free(service: t.Mapping[str, t.Any]) -> bool:
    active, limit = int(service.get("active_vm_migrations") or 0), service.get("max_vm_migrations")
    return limit is not None and active < int(limit)


def after_wait(request: Request, assessment: list[dict[str, t.Any]], host: str,
               service: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    """The assessment once `host`'s migration service (with its settings) was read again while waiting."""
    role = "candidate" if request.pick else "destination"
    updated = []
    for item in assessment:
        if item["host"] == host:
            known = {found["message"] for found in item["reasons"]}
            extra = [found for found in service_reasons(service, host, role, include_limit=False)
                     if found["message"] not in known]
            reasons = item["reasons"] + extra
            item = {**item, "active": int(service.get("active_vm_migrations") or 0), "full": not slot_free(service),
                    "maybe_full": False, "limit": service.get("max_vm_migrations"),
                    "live_migration_enabled": service.get("live_migration_enabled"),
                    "reasons": reasons, "usable": not reasons}
        updated.append(item)
    return updated


def hosts_to_ask(request: Request, assessment: list[dict[str, t.Any]], waited: t.Mapping[str, t.Any] | None) -> list[str]:
    """The hosts Hyper-V is asked about: the readable destination, or the usable candidates with a free slot."""
    if waited and waited.get("host") in {item["host"] for item in assessment}:
        return [waited["host"]] if waited["freed"] else ([] if not request.pick else _free_pool(assessment))
    if not request.pick:  # asked even when its vectors fail (Hyper-V's words count), not where its cluster says no
        first = assessment[0] if assessment else None
        return [first["host"]] if first and first["readable"] and not _cluster_refused(first) else []
    return _free_pool(assessment)


def _cluster_refused(item: t.Mapping[str, t.Any]) -> bool:
    return any(found["check"] == "cluster" for found in item["reasons"])


def _free_pool(assessment: list[dict[str, t.Any]]) -> list[str]:
    return [item["host"] for item in _pool(assessment) if not item["full"]]


ASK_AT_ONCE = 3  # candidates of one fit Hyper-V is asked about at a time
# A wave that moves asks about more: each one that passes is a destination its queue may choose, and with few choices
# the queue cannot keep every host's slots busy (benchmarks/load_wave.py: 1.36x the bound with 3, 1.18x with 6).
QUEUE_CHOICES = 6


def ask_rounds(hosts: list[str], assessment: list[dict[str, t.Any]], vm_id: str,
               at_once: int = ASK_AT_ONCE) -> list[list[str]]:
    """The hosts to ask, in rounds: the closest fit first, at most `at_once` of one fit a round. The gate stops
    at the first round with a host that passes, so twenty identical candidates cost three checks, not twenty.
    Within a fit, each VM asks its own turn of the hosts (a stable hash of the VM and the host), so that a wave's
    VMs spread over them rather than all asking the host whose name sorts first."""
    fit = {item["host"]: item["surplus_bits"] for item in assessment}
    rounds: list[list[str]] = []
    for bits in dict.fromkeys(fit.get(host) for host in hosts):
        same = sorted((host for host in hosts if fit.get(host) == bits),
                      key=lambda host: hashlib.sha256(f"{vm_id}|{host}".encode()).hexdigest())
        rounds += [same[index:index + at_once] for index in range(0, len(same), at_once)]
    return rounds


def _state_reason(request: Request, vm: t.Mapping[str, t.Any], label: str, source: str) -> list[dict[str, str]]:
    state_name = vm.get("state_name")
    if state_name in request.allowed_states:
        return []
    if state_name == "Saved":
        text = (f"{label} is Saved. The gate does not live-migrate a saved VM: its saved memory and processor state "
                "are restored only where they were saved. Start it (Start-VM) or shut it down (Stop-VM), then run again.")
    elif state_name in TRANSITIONAL_STATES:
        text = f"{label} is {state_name}, a transitional state. Wait until it is Running or Off, then run again."
    else:
        text = (f"{label} is {state_name or 'in an unknown state'} (EnabledState {vm.get('state')}); the gate moves "
                f"VMs that are {', '.join(request.allowed_states)}. Bring it to one of them, then run again.")
    return [reason(source, "source", "VM state", text)]


def _sentence(text: str) -> str:
    """A reason as a sentence: its final stop (its first word's case is kept: it may be a host's name)."""
    text = str(text)
    return text + ("" if text.endswith((".", "!", "?")) else ".")


def _limit_reason(item: t.Mapping[str, t.Any], role: str, waited: t.Mapping[str, t.Any] | None) -> dict[str, str]:
    after = f", still after waiting {float(waited['seconds']):.1f} s" if waited else ""
    return reason(item["host"], role, "migration limit",
                  f"{item['host']} is at its limit of {item['limit']} simultaneous live migrations: {item['active']} "
                  f"running now{after}. Wait for one to finish and run again, raise the limit there "
                  "(Set-VMHost -MaximumVirtualMachineMigrations), or let the gate wait for a free slot "
                  "(migration_gate_limit_wait; limit_wait= with playbooks/migrate.yml).")


def _hyperv_reasons(verdict: t.Mapping[str, t.Any], host: str, role: str, source: str | None) -> list[dict[str, str]]:
    """compat_check's reasons, each filed under the host it is about (the source's pre-check, or the target)."""
    found = []
    details = verdict.get("details") or []
    for text in verdict.get("reasons") or []:
        detail = next((item for item in details if item.get("message") == text), {})
        about = detail.get("host") or host
        check = detail.get("check") or ("Hyper-V" if verdict.get("error") is None else "asking Hyper-V")
        found.append(reason(about, "source" if about == source else role, check, _sentence(text)))
    return found


def _unique(items: list[dict[str, str]]) -> list[dict[str, str]]:
    seen: list[dict[str, str]] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def decide(request: Request, location: Location, *, vm: t.Mapping[str, t.Any] | None = None,
           source_service: t.Mapping[str, t.Any] | None = None, assessment: list[dict[str, t.Any]] = (),
           verdicts: t.Mapping[str, t.Mapping[str, t.Any]] | None = None, waited: t.Mapping[str, t.Any] | None = None,
           hosts: t.Mapping[str, t.Mapping[str, t.Any]] | None = None, check_mode: bool = False,
           decided_at: str | None = None, cluster: t.Mapping[str, t.Any] | None = None,
           source_problems: t.Sequence[t.Mapping[str, str]] = (),
           memory: t.Mapping[str, t.Mapping[str, t.Any]] | None = None,
           warnings: t.Sequence[t.Mapping[str, str]] = ()) -> dict[str, t.Any]:
    """The decision (the migration_gate_decision contract), with its message.

    `vm`: the VM's entry read on its source (located only); `source_service`: the source's migration service;
    `assessment`: from assess() (and after_wait()); `verdicts`: host -> compat_check's verdict for each host
    asked; `waited`: {host, seconds, freed} when the gate waited for a slot; `hosts`: the targets' facts (the
    host part: name, migration_service), as last read; `cluster`: gate/cluster.py's summary of a clustered VM;
    `source_problems`: reasons about the VM on its source found outside these checks (its cluster, unreadable);
    `memory`: host -> gate/room.py's figures for each target whose room was weighed; `warnings`: what does not
    block but was not checked (a figure a host did not report)."""
    verdicts = verdicts or {}
    hosts = hosts or {}
    located = location.outcome == "located"
    vm = dict(vm if located and vm else location.vm)
    label = vm.get("name") or request.vm
    source = location.source if located else request.source
    role = "candidate" if request.pick else "destination"
    reasons = list(location.reasons)
    warnings = [dict(item) for item in warnings]
    selection: list[dict[str, t.Any]] = []
    chosen = ""
    per_host: dict[str, list[dict[str, str]]] = {}
    vectors, hyperv, services = {}, {}, {}
    if located:
        source = t.cast(str, source)
        reasons += _state_reason(request, vm, label, source)
        services[source] = dict(source_service or {})
        reasons += service_reasons(source_service or {}, source, "source")
        reasons += [dict(item) for item in source_problems]
        for item in assessment:
            host = item["host"]
            verdict = verdicts.get(host)
            found = list(item["reasons"])
            if item["full"]:
                found.append(_limit_reason(item, role, waited if waited and waited.get("host") == host else None))
            if verdict is not None:
                found += _hyperv_reasons(verdict, host, role, source)
            ok = not found and verdict is not None and bool(verdict.get("compatible"))
            per_host[host] = found
            if item["readable"]:
                vectors[host] = {"compatible": item["compatible"], "surplus_bits": item["surplus_bits"],
                                 "reasons": [found_item["message"] for found_item in item["reasons"]
                                             if found_item["check"] == "vectors"]}
            if verdict is not None:
                hyperv[host] = {key: verdict.get(key) for key in ("compatible", "reasons", "warnings", "checks")}
            selection.append({"host": host, "ok": ok, "compatible": item["compatible"],
                              "surplus_bits": item["surplus_bits"], "room_after_mb": item.get("room_after_mb"),
                              "active_migrations": item["active"],
                              "max_migrations": item["limit"], "live_migration_enabled": item["live_migration_enabled"],
                              "hyperv_compatible": verdict.get("compatible") if verdict is not None else None,
                              "reasons": [found_item["message"] for found_item in found]})
        passing = {item["host"] for item in selection if item["ok"]}
        if request.pick and passing:
            chosen = next(item["host"] for item in _pool(assessment) if item["host"] in passing)
        if not request.pick:
            chosen = t.cast(str, request.destination)
            reasons = per_host.get(chosen, []) + reasons
            if chosen not in verdicts and not reasons:  # fail closed: no move Hyper-V was not asked about
                reasons.append(reason(chosen, role, "asking Hyper-V", f"Hyper-V's own checks were not made for "
                                      f"{chosen}, so the gate cannot allow the move. Run again."))
        elif not chosen:
            reasons = [found for items in per_host.values() for found in items] + reasons
            if not assessment and not source_problems:
                reasons.append(reason("", "request", "candidates", f"There is no candidate besides the source {source}."))
        if chosen and chosen in hyperv:
            warnings += [reason(chosen, role, "Hyper-V", text) for text in hyperv[chosen].get("warnings") or []]
        warnings += location.warnings
        # The services of the hosts Hyper-V was asked about and of the destination; every other candidate's slots
        # and switch are in its selection entry (a wave's decisions would otherwise carry every host's, each time).
        services.update({host: dict(hosts[host]["migration_service"]) for host in (*hyperv, chosen)
                         if host in hosts and host in vectors})
    reasons = _unique(reasons)
    override = request.override_reason
    if location.outcome == "already_there":
        verdict_name, destination = "already_there", location.seen[0].host
    elif not located:
        verdict_name, destination = "blocked", (request.destination if not request.pick else "")
    elif not reasons:
        verdict_name, destination = "allowed", chosen
    else:
        fallback = hosts_to_ask(request, assessment, waited) + [item["host"] for item in assessment if item["readable"]]
        destination = chosen or (fallback[0] if override and fallback else "")
        verdict_name = "overridden" if override and destination else "blocked"
    state_allowed = vm.get("state_name") in request.allowed_states
    decision = {
        "vm": request.vm,
        "vm_id": vm.get("id"),
        "vm_name": vm.get("name"),
        "state": vm.get("state_name"),
        "configuration_version": vm.get("configuration_version"),
        "source": source or None,
        "destination": destination or None,
        "destination_computer_name": (hosts.get(destination) or {}).get("name") if destination else None,
        "mode": request.mode,
        "check_mode": check_mode,
        "verdict": verdict_name,
        "outcome": location.outcome,
        "allowed": verdict_name in ("allowed", "overridden", "already_there"),
        "reasons": reasons,
        "warnings": warnings,
        "override": {"reason": override, "overridden_reasons": len(reasons)} if verdict_name == "overridden" else None,
        "cluster": dict(cluster) if cluster else None,
        "selection": _explain_selection(selection, destination) if request.pick else None,
        "checks": {
            "state": {"value": vm.get("state"), "name": vm.get("state_name"), "allowed": state_allowed},
            "configuration_version": vm.get("configuration_version"),
            "vectors": vectors,
            "hyperv": hyperv,
            "migration_service": services,
            # as for the services: the hosts asked, the destination, and those without room (their reason says it);
            # every other candidate's room after the move is in its selection entry
            "memory": {host: dict(figures) for host, figures in (memory or {}).items()
                       if host in hyperv or host == destination or _lacks_room(per_host.get(host, ()))},
            "limit_wait": dict(waited) if waited and (float(waited["seconds"]) > 0 or not waited["freed"]) else None,
        },
        "moved": False,
        "move": None,
        "decided_at": decided_at,
        "message": "",
    }
    decision["message"] = gate_message.compose(decision)
    return decision


def _lacks_room(reasons: t.Iterable[t.Mapping[str, str]]) -> bool:
    return any(item["check"] == "memory" for item in reasons)


def _explain_selection(selection: list[dict[str, t.Any]], destination: str) -> list[dict[str, t.Any]]:
    """The candidates, the chosen first, then the usable ones (best first), then those left out; each with why."""
    ordered = ([item for item in selection if item["host"] == destination]
               + sorted((item for item in selection if item["host"] != destination and item["ok"]),
                        key=lambda item: (item["surplus_bits"], -(item.get("room_after_mb") or 0),
                                          item["active_migrations"] or 0, item["host"]))
               + [item for item in selection if item["host"] != destination and not item["ok"]])
    closest = min((item["surplus_bits"] for item in selection if item["ok"]), default=0)
    chosen_bits = next((item["surplus_bits"] for item in selection if item["host"] == destination and item["ok"]), None)
    explained = []
    for item in ordered:
        fit = (f"{item['surplus_bits']} surplus feature bits, {item['active_migrations']} of {item['max_migrations']} "
               "live migrations active")
        if item.get("room_after_mb") is not None:
            fit += f", {item['room_after_mb']} MB of memory left for VMs after the move"
        if item["host"] == destination and item["ok"] and item["surplus_bits"] > closest:
            why = (f"chosen: compatible by its vectors and by Hyper-V, {fit}; a closer fit passed too but had no free "
                   "live-migration slot")
        elif item["host"] == destination and item["ok"]:
            why = f"chosen: compatible by its vectors and by Hyper-V, {fit}"
        elif item["ok"] and chosen_bits is not None and item["surplus_bits"] < chosen_bits:
            why = f"compatible too and a closer fit, but with no free live-migration slot when {destination} was chosen: {fit}"
        elif item["ok"]:
            why = f"compatible too, ranked after {destination}: {fit}"
        elif item["compatible"] and not item["reasons"] and item["hyperv_compatible"] is None:
            why = (f"compatible by its vectors ({item['surplus_bits']} surplus feature bits), not asked: "
                   f"{destination or 'another candidate'} passed Hyper-V's checks first")
        elif item["compatible"]:
            why = (f"compatible by its vectors ({item['surplus_bits']} surplus feature bits) but left out: "
                   + " ".join(item["reasons"]))
        else:
            why = "left out: " + " ".join(item["reasons"])
        explained.append({**item, "chosen": item["host"] == destination, "why": why})
    return explained


def equally_good(decision: t.Mapping[str, t.Any]) -> tuple[str, ...]:
    """Where an allowed decision may go, its destination first: with candidates, every one that passed every check
    with the same fit (surplus feature bits) as the chosen one; else its destination alone."""
    chosen = decision["destination"]
    if not decision.get("selection") or decision["verdict"] != "allowed":
        return (chosen,)
    fit = next(item["surplus_bits"] for item in decision["selection"] if item["host"] == chosen)
    return (chosen, *(item["host"] for item in decision["selection"]
                      if item["ok"] and item["host"] != chosen and item["surplus_bits"] == fit))


def queue_destinations(decision: t.Mapping[str, t.Any]) -> tuple[str, ...]:
    """Where a wave's queue may send an allowed decision, the first choice first: its equally good candidates, then
    the other candidates that passed every check, the closer fit first (taken when the closer fits are busy)."""
    good = equally_good(decision)
    if not decision.get("selection") or decision["verdict"] != "allowed":
        return good
    return (*good, *(item["host"] for item in decision["selection"] if item["ok"] and item["host"] not in good))


def reroute(decision: dict[str, t.Any], host: str) -> dict[str, t.Any]:
    """The decision sent to another candidate that passed every check (the wave's queue chose the one with a free
    slot and room)."""
    if host == decision["destination"]:
        return decision
    if host not in queue_destinations(decision):
        raise ValueError(f"{decision['vm']}: {host} is not one of the candidates that passed every check")
    role = "candidate"
    service = decision["checks"]["migration_service"].get(host) or {}
    warnings = [item for item in decision["warnings"] if not (item["check"] == "Hyper-V" and item["role"] == role)]
    hyperv = decision["checks"]["hyperv"].get(host) or {}
    updated = {**decision, "destination": host,
               "destination_computer_name": (service.get("selectors") or {}).get("SystemName"),
               "selection": _explain_selection(decision["selection"], host),
               "warnings": [reason(host, role, "Hyper-V", text) for text in hyperv.get("warnings") or []] + warnings}
    updated["message"] = gate_message.compose(updated)
    return updated


def record_move(decision: dict[str, t.Any], result: t.Mapping[str, t.Any], failed: bool) -> dict[str, t.Any]:
    """The decision with vm_move's outcome (its result, or its failure message) and the message told again."""
    moved = not failed and bool(result.get("changed")) and not decision["check_mode"]
    updated = {**decision, "moved": moved, "move": {
        "failed": failed,
        "changed": bool(result.get("changed")),
        "msg": result.get("msg") or "",
        "job_id": result.get("job_id"),
        "duration": result.get("duration"),
        "progress": result.get("progress") or [],
        "final": result.get("final") or {},
        "limit_refusals": result.get("limit_refusals") or 0,
        "limit_waited": result.get("limit_waited") or 0,
    }}
    updated["message"] = gate_message.compose(updated)
    return updated
