# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One gate decision: find the VM, read its source and targets, wait for slots, ask Hyper-V, decide.

The reads go through actions/gate_reads.py (several hosts at a time); every judgement is gate/decision.py's.
Used by the gate action (one VM) and the wave action (each VM of a wave).
"""

from __future__ import annotations

import typing as t

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.gate_reads import Failed, GateReads
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import decision as model
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import request as gate_request

TARGET_SUBSET = {False: frozenset({"host_vectors"}),  # one destination: its settings only when it is busy
                 True: frozenset({"host_vectors", "migration_settings"})}  # candidates: ranked by their limits too


class Gate:
    """One decision: find the VM, read its source and targets, wait for slots, ask Hyper-V, decide."""

    def __init__(self, request: gate_request.Request, reads: GateReads, check_mode: bool, say: t.Callable[[str], None],
                 ask_at_once: int = model.ASK_AT_ONCE):
        self.request = request
        self.ask_at_once = ask_at_once  # candidates asked about together: alternates for a queue, or answers sooner
        self.reads = reads
        self.check_mode = check_mode
        self.say = say
        self.unreadable: dict[str, str] = {}
        self.hosts: dict[str, dict[str, t.Any]] = {}  # the targets' facts, as last read

    def decide(self, decided_at: str) -> dict[str, t.Any]:
        request = self.request
        # Where the VM is, and the targets, read at the same time.
        targets = model.targets_of(request, request.source)
        searched = [request.source] if request.source else list(dict.fromkeys([*targets, *request.search_hosts]))
        for host in {*targets, *searched}:  # opened before the reads' threads (they template inventory variables);
            self.reads.session(host)          # a wave opens them all before its own threads
        target_facts, found = self.reads.together(
            lambda: self.reads.read_hosts(targets, TARGET_SUBSET[request.pick]),
            lambda: self.reads.find(searched, request.vm))
        if request.source and not self._seen(found):  # not on its source: perhaps it moved already
            others = [host for host in targets if host not in searched]
            found.update(self.reads.find(others, request.vm))
            searched += others
        location = self._locate(found, searched)
        self.hosts = {host: facts for host, facts in target_facts.items() if not isinstance(facts, Failed)}
        if location.outcome != "located":
            return model.decide(request, location, hosts=self.hosts, check_mode=self.check_mode, decided_at=decided_at)

        # The VM with its blob on its source; a source that cannot be read leaves the VM not found.
        source = t.cast(str, location.source)
        source_facts = self.reads.read_vm(source, found[source].systems[location.vm["id"]])
        if isinstance(source_facts, Failed):
            self.unreadable = {source: source_facts.message}
            location = model.locate(request, [], self.unreadable, [source])
            return model.decide(request, location, hosts=self.hosts, check_mode=self.check_mode, decided_at=decided_at)
        vm = source_facts["vms"][0]
        source_service = source_facts["host"]["migration_service"]

        failed = {host: facts.message for host, facts in target_facts.items() if isinstance(facts, Failed)}
        assessment = model.assess(request, source, vm["vectors"], self.hosts, failed)
        assessment, source_service, waited = self._wait_for_slots(assessment, source, source_service)
        known = {**self.hosts, source: source_facts["host"]}
        verdicts: dict[str, t.Any] = {}
        asked = model.hosts_to_ask(request, assessment, waited)
        for hosts in model.ask_rounds(asked, assessment, vm["id"], self.ask_at_once):
            verdicts.update(self.reads.ask_hyperv(hosts, source, vm, request.migration_type, known))
            if any(_passes(verdicts[host], assessment, host) for host in hosts):
                break  # the closest fit that passes is found; the others need not be asked
        return model.decide(
            request, location, vm=vm, source_service=source_service, assessment=assessment,
            verdicts={host: _verdict(result) for host, result in verdicts.items()}, waited=waited,
            hosts=self.hosts, check_mode=self.check_mode, decided_at=decided_at)

    @staticmethod
    def _seen(found: dict[str, t.Any]) -> bool:
        return any(not isinstance(result, Failed) and result.matches for result in found.values())

    def _locate(self, found: dict[str, t.Any], searched: list[str]) -> model.Location:
        seen, near = [], []
        for host in searched:
            result = found[host]
            if isinstance(result, Failed):
                self.unreadable[host] = result.message
            else:
                seen += result.matches
                near += result.near_misses
        return model.locate(self.request, seen, self.unreadable, searched, near)

    def _wait_for_slots(self, assessment, source, source_service):
        """Wait, within limit_wait, for a free slot on the chosen target and on the source when either is at its
        limit (or may be: live migrations are running and its limit is not read yet)."""
        request = self.request
        target = model.slots_to_wait_for(request, assessment)
        busy_source = model.source_may_be_full(source_service)
        if busy_source and request.limit_wait <= 0:  # learn the source's limit, so that a full one is said
            read = self.reads.read_services([source])[source]
            return assessment, (read if not isinstance(read, Failed) else source_service), None
        hosts = [host for host in (target, source if busy_source else None) if host]
        if not hosts:
            return assessment, source_service, None
        services, seconds, _all_free = self.reads.wait_for_slots(
            hosts, request.limit_wait, request.limit_poll, model.slot_free, self.say)
        waited = None
        for host in hosts:
            service = services[host]
            if isinstance(service, Failed):
                continue  # its earlier reading stands; Hyper-V's own checks judge it
            if host == source:
                source_service = service
                waited = waited or {"host": host, "seconds": seconds, "freed": model.slot_free(service)}
            else:
                assessment = model.after_wait(request, assessment, host, service)
                self.hosts[host] = {**self.hosts[host], "migration_service": service}
                waited = {"host": host, "seconds": seconds, "freed": model.slot_free(service)}
        return assessment, source_service, waited


def _passes(result: t.Any, assessment: list[dict[str, t.Any]], host: str) -> bool:
    """Whether Hyper-V passed a host the assessment found usable (so the decision can choose it)."""
    usable = any(item["host"] == host and item["usable"] and not item["full"] for item in assessment)
    return usable and not isinstance(result, Failed) and bool(result["compatible"])


def _verdict(result: t.Any) -> dict[str, t.Any]:
    """compat_check's result as the decision reads it; a host that could not be asked is not compatible."""
    if isinstance(result, Failed):
        return {"compatible": False, "reasons": [result.message], "warnings": [], "checks": None,
                "error": result.message}
    return {"compatible": result["compatible"], "reasons": result["reasons"], "details": result["reason_details"],
            "warnings": result["compatibility_warnings"], "checks": result["checks"], "error": None}
