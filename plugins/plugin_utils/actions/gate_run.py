# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One gate decision: find the VM, read its source and targets, wait for slots, ask Hyper-V, decide.

The reads go through actions/gate_reads.py (several hosts at a time); every judgement is gate/decision.py's.
Used by the gate action (one VM) and the wave action (each VM of a wave).
"""

from __future__ import annotations

import dataclasses
import typing as t

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.gate_reads import FREE_MEMORY, Failed, GateReads
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import cluster as gate_cluster
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import decision as model
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import room
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import request as gate_request

TARGET_SUBSET = {False: frozenset({"host_vectors", FREE_MEMORY}),  # one destination: its settings only when it is busy
                 True: frozenset({"host_vectors", "migration_settings", FREE_MEMORY})}  # candidates: their limits too


class Gate:
    """One decision: find the VM, read its source and targets, wait for slots, ask Hyper-V, decide."""

    def __init__(self, request: gate_request.Request, reads: GateReads, check_mode: bool, say: t.Callable[[str], None],
                 ask_at_once: int = model.ASK_AT_ONCE, placed: t.Mapping[str, int] | None = None, wanted: int = 1):
        self.request = request
        self.placed = dict(placed or {})  # host -> memory (MB) a wave already placed there: not free for this VM
        self.ask_at_once = ask_at_once  # candidates asked about together: alternates for a queue, or answers sooner
        self.wanted = wanted  # candidates that pass before the gate stops asking: a wave's queue wants alternates
        self.reads = reads
        self.check_mode = check_mode
        self.say = say
        self.unreadable: dict[str, str] = {}
        self.hosts: dict[str, dict[str, t.Any]] = {}  # the targets' facts, as last read

    def decide(self, decided_at: str) -> dict[str, t.Any]:
        request = self.request
        # Where the VM is, and the targets, read at the same time (on its owner node only, when the destination's
        # failover cluster says the VM is a role there).
        start = request.source or self._owner_by_cluster()
        targets = model.targets_of(request, start)
        searched = [start] if start else list(dict.fromkeys([*targets, *request.search_hosts]))
        for host in {*targets, *searched}:  # opened before the reads' threads (they template inventory variables);
            self.reads.session(host)          # a wave opens them all before its own threads
        target_facts, found = self.reads.together(
            lambda: self.reads.read_hosts(targets, TARGET_SUBSET[request.pick]),
            lambda: self.reads.find(searched, request.vm))
        if start and not self._seen(found):  # not where it was said or thought to be: perhaps it moved already
            wider = targets if request.source else [*targets, *request.search_hosts]
            others = list(dict.fromkeys(host for host in wider if host not in searched))
            found.update(self.reads.find(others, request.vm))
            searched += others
        location = self._locate(found, searched)
        self.hosts = {host: facts for host, facts in target_facts.items() if not isinstance(facts, Failed)}
        if location.outcome != "located":
            return model.decide(request, location, hosts=self.hosts, check_mode=self.check_mode, decided_at=decided_at)

        # The VM with its blob on its source, and the source's cluster; a source that cannot be read leaves the VM
        # not found.
        source = t.cast(str, location.source)
        source_facts, view = self.reads.together(
            lambda: self.reads.read_vm(source, found[source].systems[location.vm["id"]]),
            lambda: self.reads.read_clusters([source])[source])
        if isinstance(source_facts, Failed):  # found there, but what the host says of it cannot be used: not "not found"
            problem = model.reason(source, "source", model.READING_VM, source_facts.message)
            return model.decide(request, location, vm=location.vm, hosts=self.hosts, check_mode=self.check_mode,
                                decided_at=decided_at, source_problems=[problem])
        vm = source_facts["vms"][0]
        source_service = source_facts["host"]["migration_service"]
        clustered = _Clustered(self, view, vm, source)
        if clustered.role and request.candidates_by_default:  # its candidates: the other nodes of its cluster
            request = self.request = dataclasses.replace(request, candidates=tuple(clustered.default_candidates()))
            target_facts = {**target_facts, **self.reads.read_hosts(
                [host for host in model.targets_of(request, source) if host not in target_facts],
                TARGET_SUBSET[request.pick])}
            self.hosts = {host: facts for host, facts in target_facts.items() if not isinstance(facts, Failed)}

        targets = model.targets_of(request, source)
        failed = {host: facts.message for host, facts in target_facts.items() if isinstance(facts, Failed) and host in targets}
        host_problems: dict[str, list[tuple[str, str]]] = {host: [("cluster", text)]
                                                           for host, text in clustered.refusals(targets).items()}
        memory, warnings = self._room(vm, targets, host_problems)
        assessment = model.assess(request, source, vm["vectors"], self.hosts, failed, host_problems,
                                  {host: figures["after_mb"] for host, figures in memory.items()})
        problems = clustered.problems + self._migration_running(source, vm, source_service)
        waited = None
        if not problems:  # a VM already on the move is not waited for: its own job holds the slots
            assessment, source_service, waited = self._wait_for_slots(assessment, source, source_service)
        known = {**self.hosts, source: source_facts["host"]}
        verdicts: dict[str, t.Any] = {}
        asked = model.hosts_to_ask(request, assessment, waited) if not problems else []
        for hosts in model.ask_rounds(asked, assessment, vm["id"], self.ask_at_once):
            verdicts.update(self.reads.ask_hyperv(hosts, source, vm, request.migration_type, known))
            if sum(_passes(result, assessment, host) for host, result in verdicts.items()) >= self.wanted:
                break  # the closest fits that pass are found; the others need not be asked
        return model.decide(
            request, location, vm=vm, source_service=source_service, assessment=assessment,
            verdicts={host: _verdict(result) for host, result in verdicts.items()}, waited=waited,
            hosts=self.hosts, check_mode=self.check_mode, decided_at=decided_at,
            cluster=clustered.summary(), source_problems=problems, memory=memory, warnings=warnings)

    def _room(self, vm: dict[str, t.Any], targets: list[str], problems: dict[str, list[tuple[str, str]]]
              ) -> tuple[dict[str, dict[str, t.Any]], list[dict[str, str]]]:
        """Each readable target's room for the VM (gate/room.py's figures), a reason where it has none, and a warning
        where a figure is missing (room then unchecked)."""
        reserve, label = self.request.memory_reserve_mb, vm.get("name") or self.request.vm
        needed = room.needed_mb(vm)
        role = "candidate" if self.request.pick else "destination"
        memory, warnings = {}, []
        for host in targets:
            facts = self.hosts.get(host)
            if facts is None:
                continue
            placed = self.placed.get(host, 0)
            memory[host] = room.figures(facts, needed, reserve, placed)
            lacking = room.no_room(host, label, facts, needed, reserve, placed)
            if lacking:
                problems.setdefault(host, []).append(("memory", lacking))
            unknown = room.room_unknown(host, facts, needed)
            if unknown:
                warnings.append(model.reason(host, role, "memory", unknown))
        return memory, warnings[:1] if needed is None else warnings  # the VM's demand unknown: said once

    def _owner_by_cluster(self) -> str | None:
        """With one destination and no source: the inventory host of the node that owns the VM's role, when the
        destination is a node of a failover cluster where the VM is a role (one request spares asking every host)."""
        request = self.request
        if request.source or request.pick:
            return None
        view = self.reads.read_clusters([t.cast(str, request.destination)])[t.cast(str, request.destination)]
        if not view or isinstance(view, Failed):
            return None
        owner = gate_cluster.owner_of(view, request.vm)
        return gate_cluster.node_hosts(view, self.reads.inventory()).get(owner) if owner else None

    def _migration_running(self, source: str, vm: dict[str, t.Any], service: t.Mapping[str, t.Any]) -> list[dict[str, str]]:
        """The reason when a migration job already moves the VM (a run killed mid-move, another run, someone by hand).
        Looked for only when the source's migration service shows live migrations running, so that an allowed decision
        costs no request more; a job list that cannot be read leaves Hyper-V's pre-check to refuse."""
        if not int(service.get("active_vm_migrations") or 0):
            return []
        job = self.reads.running_migration(source, vm["id"])
        if job is None or isinstance(job, Failed):
            return []
        return [model.migration_running(source, vm.get("name") or self.request.vm, job)]

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


class _Clustered:
    """What the source's failover cluster says of the VM: its role (None when the VM is not clustered), where the
    cluster will not take it and why, and what the decision records."""

    def __init__(self, gate: Gate, view: t.Any, vm: dict[str, t.Any], source: str):
        self.gate = gate
        self.source = source
        self.label = vm.get("name") or gate.request.vm
        self.problems: list[dict[str, str]] = []
        self.view = None if isinstance(view, Failed) else view
        self.role = gate_cluster.clustered(self.view, vm.get("id"))
        if isinstance(view, Failed):  # fail closed: a clustered VM must not be moved behind its cluster's back
            self.problems.append(model.reason(source, "source", "cluster", (
                f"Whether {self.label} is a role of a failover cluster could not be read, so the gate cannot tell "
                f"how it may move. {view.message}")))
        elif self.role and gate.request.migration_type != "live":
            self.problems.append(model.reason(source, "source", "cluster", (
                f"{self.label} is a clustered role of {self.view['name']}: its files stay on the cluster's shared "
                "storage, and the cluster moves it by live migration. Use migration_type live; move its storage "
                "separately (Move-VMStorage).")))

    def default_candidates(self) -> list[str]:
        candidates, absent = gate_cluster.default_candidates(self.view, self.role, self.gate.reads.inventory())
        if absent:
            self.gate.say(f"{self.label}: nodes of {self.view['name']} not in the inventory, so not considered: "
                          f"{', '.join(absent)}")
        return candidates

    def refusals(self, targets: list[str]) -> dict[str, str]:
        if not self.role:
            return {}
        hosts = self.gate.hosts
        found = {host: gate_cluster.node_problem(self.view, self.role, self.label, host,
                                                 (hosts.get(host) or {}).get("name")) for host in targets}
        return {host: problem for host, problem in found.items() if problem}

    def summary(self) -> dict[str, t.Any] | None:
        if not self.role:
            return None
        vectors = {}
        for host, facts in self.gate.hosts.items():
            node = gate_cluster.node_name(self.view, host, facts.get("name"))
            if node is not None:
                vectors[node] = facts.get("vectors")
        return gate_cluster.summary(self.view, self.role, vectors)
