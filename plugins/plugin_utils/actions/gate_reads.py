# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reads one gate decision makes, several hosts at a time: one session per host, with the settings of
its inventory variables. The decision itself is made from them by plugin_utils/gate/decision.py."""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
import time
import typing as t

from ansible.errors import AnsibleActionFail

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions import hyperv_verdict
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.host_session import HostSession
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import cluster as gate_cluster
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate.decision import Sighting, matches
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv import cluster_view
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv import facts as hyperv_facts
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv import memory
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.failures import step
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.move import running_migration

MAX_PARALLEL_HOSTS = 16
FREE_MEMORY = "free_memory"  # a part of read_hosts() beside the facts' own: the host's free memory, one request


class Failed(t.NamedTuple):
    """A host that could not be read, and why (the message names the host and the step)."""

    message: str


class Found(t.NamedTuple):
    """What one host answered when asked for a VM: the VMs answering to the name or id, those that would answer
    to it without the spaces around it, and the Msvm_ComputerSystem instance of each, by id."""

    matches: list[Sighting]
    near_misses: list[Sighting]
    systems: dict[str, dict[str, t.Any]]


class GateReads(contextlib.AbstractContextManager):
    """Sessions to the inventory hosts a gate needs, opened in the calling thread (they template inventory
    variables), used from a thread pool (each session serializes its own requests)."""

    def __init__(self, action: t.Any, task_vars: dict[str, t.Any], namespace: str):
        self._action = action
        self._task_vars = task_vars
        self._namespace = namespace
        self._sessions: dict[str, HostSession | Failed] = {}
        self._known_hosts: dict[tuple[str, frozenset[str]], dict[str, t.Any]] = {}  # see remember_hosts()
        self._listed: dict[str, list[dict[str, t.Any]]] = {}  # host -> its Msvm_ComputerSystem instances (list_vms)
        self._clusters: dict[str, dict[str, t.Any] | None] = {}  # host -> its cluster's view, None if standalone
        self._clusters_lock = threading.Lock()
        self._vm_memory: dict[str, int] = {}  # VM id -> its memory demand, read with a wave's listing
        self._cluster_locks: dict[str, threading.Lock] = {}  # one read of a host's cluster at a time
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=MAX_PARALLEL_HOSTS,
                                                           thread_name_prefix="vmgate-gate")

    def __exit__(self, *_exc_info: t.Any) -> None:
        self._pool.shutdown(wait=True)
        for session in self._sessions.values():
            if isinstance(session, HostSession):
                session.__exit__(None, None, None)

    def session(self, host: str) -> HostSession | Failed:
        if host not in self._sessions:
            try:
                self._sessions[host] = HostSession.for_inventory_host(self._action, self._task_vars, host,
                                                                      self._namespace)
            except AnsibleActionFail as exc:
                self._sessions[host] = Failed(str(exc))
        return self._sessions[host]

    def each(self, hosts: t.Iterable[str], work: t.Callable[[HostSession], t.Any]) -> dict[str, t.Any]:
        """work(session) on every host at once; host -> its result, or Failed with the host's message."""
        sessions = {host: self.session(host) for host in dict.fromkeys(hosts)}  # opened here, not in the threads
        futures = {host: self._pool.submit(_attempt, session, work) for host, session in sessions.items()
                   if isinstance(session, HostSession)}
        return {host: futures[host].result() if host in futures else session for host, session in sessions.items()}

    @staticmethod
    def together(*reads: t.Callable[[], t.Any]) -> list[t.Any]:
        """Several reads of different kinds at the same time (each on its own hosts), their results in order."""
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(reads)) as outer:
            return [future.result() for future in [outer.submit(read) for read in reads]]

    # The reads

    def find(self, hosts: t.Iterable[str], vm: str) -> dict[str, t.Any]:
        """host -> Found, or Failed: one cheap query per host (the VM's name and its trimmed name), none on a host
        whose listing a wave remembers (list_vms)."""
        names = list(dict.fromkeys([vm, vm.strip()])) if vm.strip() else [vm]
        hosts = list(dict.fromkeys(hosts))
        asked = self.each([host for host in hosts if host not in self._listed], lambda session: session.run(
            lambda api: _found(session.label, vm, names[-1], _query(api, names))))
        return {host: _found(host, vm, names[-1], self._listed[host]) if host in self._listed else asked[host]
                for host in hosts}

    def list_vms(self, hosts: t.Iterable[str], remember: bool = False) -> dict[str, t.Any]:
        """host -> every VM on it ({id, name, state, state_name}), or Failed: one query per host. With `remember`,
        find() answers from these listings until forget_listings(): a wave's gates, decided right after."""
        listed = self.each(hosts, lambda session: session.run(lambda api: _query(api, None)))
        if remember:
            self._listed.update({host: systems for host, systems in listed.items() if not isinstance(systems, Failed)})
            self._remember_memory(self._listed)
        return {host: systems if isinstance(systems, Failed) else [hyperv_facts.vm_identity(system) for system in systems]
                for host, systems in listed.items()}

    def _remember_memory(self, listed: dict[str, list[dict[str, t.Any]]]) -> None:
        """Every listed VM's memory demand, a few requests per host rather than one per VM (hyperv/memory.py); a host
        whose read fails is read VM by VM, as a single gate does."""
        read = self.each(listed, lambda session: session.run(
            lambda api: memory.vms_memory(api.client, listed[session.label], every_vm=True)))
        for host, figures in read.items():
            if not isinstance(figures, Failed):
                self._vm_memory.update({vm_id: entry["memory"]["needed_mb"] for vm_id, entry in figures.items()
                                        if entry["memory"]["needed_mb"] is not None})  # else read it on its own

    def forget_listings(self) -> None:
        self._listed.clear()
        self._vm_memory.clear()  # what a VM needs is read again when it is looked at again

    def read_vm(self, host: str, system: dict[str, t.Any]) -> dict[str, t.Any] | Failed:
        """The source's facts with the VM's entry and its compatibility blob (no other part of the host). On a host
        a wave remembered, its migration service is not read again: only the VM's vectors and blob are."""
        known = next((facts for (name, _subset), facts in self._known_hosts.items() if name == host), None)

        def read(api):
            if known is None:
                facts = hyperv_facts.gather_systems(api, [system], include_blob=True, subset=frozenset())
            else:
                api.use_known_service(known["migration_service"].get("selectors"))
                facts = {"host": known, "vms": [hyperv_facts.vm_entry(api, system, include_blob=True)]}
            vm_id = str(system.get("Name"))
            if vm_id in self._vm_memory:  # read with the wave's listing
                facts["vms"][0]["memory"] = {"needed_mb": self._vm_memory[vm_id]}
            else:
                with step("reading the VM's memory demand (Msvm_Memory, Msvm_MemorySettingData)"):
                    facts["vms"][0]["memory"] = {"needed_mb": memory.vm_needed_mb(api.client, system)}
            return facts
        return self.each([host], lambda session: session.run(read))[host]

    def read_hosts(self, hosts: t.Iterable[str], subset: frozenset[str]) -> dict[str, t.Any]:
        """host -> the host part of its facts (vectors, migration service, as `subset` asks), or Failed; the hosts
        a wave remembered are not read again."""
        hosts = list(dict.fromkeys(hosts))
        missing = [host for host in hosts if (host, subset) not in self._known_hosts]
        fresh = self.each(missing, lambda session: session.run(lambda api: _host_part(api, subset)))
        return {host: self._known_hosts.get((host, subset)) or fresh[host] for host in hosts}

    def remember_hosts(self, hosts: t.Iterable[str], subset: frozenset[str]) -> None:
        """Read these hosts once for every gate of a wave: their vectors and settings do not change while the wave
        is decided (the live migrations running, which do, are the queue's business and read again there)."""
        for host, facts in self.read_hosts(hosts, subset).items():
            if not isinstance(facts, Failed):
                self._known_hosts[(host, subset)] = facts

    def read_clusters(self, hosts: t.Iterable[str], *, fresh: bool = False) -> dict[str, t.Any]:
        """host -> its failover cluster as it sees it (hyperv/cluster_view.py), None for a host that is not a cluster
        node, or Failed. Read once per run: a view answers for every inventory host that is a node of that cluster.
        `fresh`: read again (a wave's queue, before moving a clustered VM that waited)."""
        hosts = list(dict.fromkeys(hosts))
        with contextlib.ExitStack() as held:  # gates decided side by side read a host's cluster once, not each
            for host in sorted(hosts):  # one order for every caller: no deadlock
                held.enter_context(self._cluster_lock(host))
            with self._clusters_lock:
                missing = [host for host in hosts if fresh or host not in self._clusters]
            read = self.each(missing, lambda session: session.run(lambda api: cluster_view.read(api.client)))
            with self._clusters_lock:
                for host, view in read.items():
                    if not isinstance(view, Failed):
                        self._remember_cluster(host, view, fresh)
                return {host: read[host] if isinstance(read.get(host), Failed) else self._clusters[host] for host in hosts}

    def _cluster_lock(self, host: str) -> threading.Lock:
        with self._clusters_lock:
            return self._cluster_locks.setdefault(host, threading.Lock())

    def _remember_cluster(self, host: str, view: dict[str, t.Any] | None, fresh: bool) -> None:
        self._clusters[host] = view
        if view is not None:  # its other nodes in the inventory see the same cluster
            for node_host in gate_cluster.node_hosts(view, self.inventory()).values():
                if fresh or node_host not in self._clusters:
                    self._clusters[node_host] = view

    def inventory(self) -> list[str]:
        return list((self._task_vars.get("groups") or {}).get("all") or [])

    def read_services(self, hosts: t.Iterable[str]) -> dict[str, t.Any]:
        """host -> its migration service with its settings (the limit), or Failed."""
        def work(session: HostSession):
            def read(api):
                with step("reading the migration service and its settings"):
                    return hyperv_facts.migration_service_facts(api.migration_service(), api.migration_settings())
            return session.run(read)
        return self.each(hosts, work)

    def running_migration(self, host: str, vm_id: str) -> dict[str, t.Any] | None | Failed:
        """The migration job running for a VM on its source (Msvm_MigrationJob), None when none runs, or Failed:
        one query."""
        def read(api):
            with step("looking for a migration job of the VM (Msvm_MigrationJob)"):
                return running_migration(api.migration_jobs(vm_id))
        return self.each([host], lambda session: session.run(read))[host]

    def wait_for_slots(self, hosts: list[str], limit_wait: float, limit_poll: float,
                       is_free: t.Callable[[t.Mapping[str, t.Any]], bool],
                       say: t.Callable[[str], None]) -> tuple[dict[str, t.Any], float, bool]:
        """Read the hosts' migration services every `limit_poll` seconds, for up to `limit_wait` seconds, until each
        has a free live-migration slot. Returns (the last services read, seconds waited, whether all are free)."""
        slept = 0.0  # the waiting the gate chose, between reads (the reads' own time aside)
        while True:
            services = self.read_services(hosts)
            busy = {host: service for host, service in services.items() if isinstance(service, Failed) or not is_free(service)}
            if not busy or slept >= limit_wait:
                return services, round(slept, 1), not busy
            say("Waiting for a free live-migration slot on " + ", ".join(
                f"{host} ({service.get('active_vm_migrations')} of {service.get('max_vm_migrations')} running)"
                if not isinstance(service, Failed) else host for host, service in busy.items()))
            pause = min(limit_poll, limit_wait - slept)
            time.sleep(pause)
            slept += pause

    def ask_hyperv(self, hosts: t.Iterable[str], source: str, vm: dict[str, t.Any], migration_type: str,
                   known: t.Mapping[str, t.Mapping[str, t.Any]]) -> dict[str, t.Any]:
        """host -> compat_check's verdict on `vm` for that host (its blob check, the source's pre-check), or
        Failed. The source's session is shared: its pre-checks go one at a time."""
        source_session = self.session(source)
        if isinstance(source_session, Failed):
            return {host: source_session for host in hosts}
        return self.each(hosts, lambda session: hyperv_verdict.ask(
            session, source_session, vm, migration_type, None, known.get(session.label), known.get(source)))


def _host_part(api: t.Any, subset: frozenset[str]) -> dict[str, t.Any]:
    """The host part of the facts, with its free memory when the subset asks for it (the gate weighs room)."""
    host = hyperv_facts.gather_systems(api, [], include_blob=False, subset=subset)["host"]
    if FREE_MEMORY in subset:
        with step("reading the host's free memory (Win32_OperatingSystem)"):
            host["memory"] = {"free_mb": memory.host_free_mb(api.client)}
    return host


def _query(api: t.Any, names: list[str] | None) -> list[dict[str, t.Any]]:
    with step("finding the VM (Msvm_ComputerSystem)" if names else "listing the VMs (Msvm_ComputerSystem)"):
        return api.virtual_machines(names)


def _found(host: str, vm: str, trimmed: str, systems: list[dict[str, t.Any]]) -> Found:
    """What a host's VMs (Msvm_ComputerSystem) say of `vm`: the VMs answering to it, and to it trimmed."""
    identities = [hyperv_facts.vm_identity(system) for system in systems]
    return Found([Sighting(host, identity) for identity in identities if matches(vm, identity)],
                 [Sighting(host, identity) for identity in identities
                  if trimmed != vm and not matches(vm, identity) and matches(trimmed, identity)],
                 {identity["id"]: system for identity, system in zip(identities, systems)})


def _attempt(session: HostSession, work: t.Callable[[HostSession], t.Any]) -> t.Any:
    try:
        return work(session)
    except AnsibleActionFail as exc:
        return Failed(exc.message)
