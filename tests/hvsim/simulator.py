# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The in-process API: start a lab's hosts on loopback ports, inspect and steer them from tests.

    sim = Simulator.from_lab('tests/hvsim/labs/demo.yml', https=True, migration_duration_s=0.3)
    with sim:                                   # start() ... stop()
        endpoint = sim.hosts['HV-OLD-01'].endpoint  # https://127.0.0.1:PORT/wsman
        sim.inject('HV-OLD-01', 'latency', op='Enumerate:*', ms=200)
        sim.counters('HV-OLD-01')                # {'Enumerate:Msvm_ComputerSystem': 1, ...}
        sim.where('web01')                       # 'HV-OLD-01'
        sim.cluster_group('sql01')               # {'owner_node': 'HVC-N1', 'state': 0, 'migration_state': 0, ...}
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hvsim import cluster as cluster_engine
from hvsim import inventory
from hvsim.auth import register_users
from hvsim.lab import NODE_STATES, STATES, Lab, normalize_guid
from hvsim.server import HostRuntime, Listener, make_ssl_context
from hvsim.tls import CertificateAuthority

DEFAULT_USER = 'LAB\\hvadmin'
DEFAULT_PASSWORD = 'Hvsim-Passw0rd!'
TICK_SECONDS = 0.05


@dataclass
class HostHandle:
    """How to reach one simulated host."""

    name: str
    bind: str
    address: str
    http_port: int | None
    https_port: int | None
    ca_file: str | None

    @property
    def http_endpoint(self) -> str | None:
        """http://bind:port/wsman, when HTTP is served."""
        return f'http://{self.bind}:{self.http_port}/wsman' if self.http_port else None

    @property
    def https_endpoint(self) -> str | None:
        """https://bind:port/wsman, when HTTPS is served."""
        return f'https://{self.bind}:{self.https_port}/wsman' if self.https_port else None

    @property
    def endpoint(self) -> str:
        """The HTTPS endpoint when served, else HTTP."""
        return self.https_endpoint or self.http_endpoint or ''

    @property
    def port(self) -> int:
        """Port of endpoint."""
        return self.https_port or self.http_port or 0

    @property
    def scheme(self) -> str:
        """Scheme of endpoint."""
        return 'https' if self.https_port else 'http'

    @property
    def control_url(self) -> str:
        """Base URL of the JSON control endpoint (served on every listener of the host; plain HTTP preferred)."""
        return (self.http_endpoint or self.endpoint).rsplit('/wsman', 1)[0] + '/hvsim/'


class Simulator:
    """A running lab: one HostRuntime and one or two listeners per host."""

    def __init__(self, lab: Lab, *, user: str = DEFAULT_USER, password: str = DEFAULT_PASSWORD,
                 users: list[tuple[str, str]] | None = None, https: bool = False, http: bool = True,
                 state_dir: str | os.PathLike | None = None, control: bool = True, port_base: int | None = None):
        if not (http or https):
            raise ValueError('serve at least one of http and https')
        self.lab = lab
        self.users = [(user, password)] + list(users or []) + list(lab.users)
        self.https = https
        self.http = http
        self.control = control
        self.port_base = port_base
        self._state_dir = Path(state_dir) if state_dir else None
        self._own_state_dir = state_dir is None
        self.state_dir: Path | None = None
        self.ca_file: str | None = None
        self.users_file: str | None = None
        self.runtimes: dict[str, HostRuntime] = {}
        self.hosts: dict[str, HostHandle] = {}
        self._listeners: list[Listener] = []
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    @classmethod
    def from_lab(cls, source: str | os.PathLike | dict, *, migration_duration_s: float | None = None, **kwargs) -> 'Simulator':
        """A simulator for a lab YAML file or dict; kwargs as for __init__."""
        return cls(Lab.load(source, duration_s=migration_duration_s), **kwargs)

    # Life cycle

    def start(self) -> 'Simulator':
        """Bind every listener and start serving (returns self)."""
        if self._listeners:
            return self
        self._stop.clear()
        self.users_file = register_users(self.users)
        self.state_dir = self._state_dir or Path(tempfile.mkdtemp(prefix='hvsim-'))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        authority = CertificateAuthority(str(self.state_dir)) if self.https else None
        self.ca_file = authority.ca_file if authority else None
        try:
            for index, host in enumerate(self.lab.hosts.values()):
                runtime = HostRuntime(self.lab, host.name, self.users, self.control)
                self.runtimes[host.name] = runtime
                http_port = https_port = None
                if self.http:
                    port = host.http_port or (self.port_base + 2 * index if self.port_base else 0)
                    listener = Listener(runtime, host.bind, port)
                    self._listeners.append(listener)
                    http_port = listener.port
                if authority is not None:
                    names = ['wrong-host.hvsim.invalid'] if host.tls_san_mismatch else \
                        [host.name.lower(), 'localhost', '127.0.0.1', host.bind, host.address or host.bind] + ([host.fqdn] if host.fqdn else [])
                    files = authority.issue(f'{host.name}-server', names)
                    port = host.https_port or (self.port_base + 2 * index + 1 if self.port_base else 0)
                    listener = Listener(runtime, host.bind, port, make_ssl_context(files.cert, files.key))
                    self._listeners.append(listener)
                    https_port = listener.port
                self.hosts[host.name] = HostHandle(host.name, host.bind, host.address or host.bind, http_port, https_port, self.ca_file)
        except OSError:
            self.stop()
            raise
        for listener in self._listeners:
            listener.start()
        self._ticker = threading.Thread(target=self._tick, name='hvsim-ticker', daemon=True)
        self._ticker.start()
        return self

    def _tick(self) -> None:
        # Jobs finish (and VMs move) on time even when nobody polls.
        while not self._stop.wait(TICK_SECONDS):
            self.lab.tick()

    def stop(self) -> None:
        """Stop every listener and remove the state directory if this simulator created it."""
        self._stop.set()
        for runtime in self.runtimes.values():
            runtime.stopping.set()
        for listener in self._listeners:
            listener.stop()
        self._listeners = []
        if self._ticker is not None:
            self._ticker.join(timeout=2)
            self._ticker = None
        if self._own_state_dir and self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> 'Simulator':
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # Steering

    def _runtime(self, host: str) -> HostRuntime:
        name = self.lab.host(host).name
        return self.runtimes[name]

    def counters(self, host: str) -> dict[str, int]:
        """Requests served per operation key (auth handshakes excluded)."""
        return self._runtime(host).counters.snapshot()['operations']

    def auth_counters(self, host: str) -> dict[str, int]:
        """Authentication-layer exchanges: challenge, handshake, rejected, rejected_unencrypted, bad_encryption."""
        return self._runtime(host).counters.snapshot()['auth']

    def request_count(self, host: str | None = None) -> int:
        """Total operations served by one host, or by all."""
        names = [host] if host else list(self.runtimes)
        return sum(sum(self.counters(name).values()) for name in names)

    def reset_counters(self, host: str | None = None) -> None:
        """Zero the counters of one host, or of all."""
        for name in ([self.lab.host(host).name] if host else list(self.runtimes)):
            self.runtimes[name].counters.reset()

    def inject(self, host: str, kind: str, op: str | None = None, nth: int = 1, times: int | None = None, **params) -> int | None:
        """Make a host misbehave (faults.py lists kinds and params; 'migration_limit' fills its migration slots).

        Returns the rule id (None for migration_limit). op defaults to '*' ('Invoke:MigrateVirtualSystemToHost' for migration_fail).
        """
        return self._runtime(host).inject(kind, op, nth, times, **params)

    def clear_faults(self, host: str | None = None) -> None:
        """Remove injected misbehaviour from one host, or from all."""
        for name in ([self.lab.host(host).name] if host else list(self.runtimes)):
            self.runtimes[name].clear_faults()

    def reset(self) -> None:
        """Lab back to its definition, no jobs, no faults, no enumeration contexts, counters at zero."""
        self.lab.reset()
        for runtime in self.runtimes.values():
            runtime.faults.clear()
            runtime.counters.reset()
            runtime.responder.reset()

    # Inspection

    def where(self, vm: str) -> str:
        """Host of a VM (GUID or unique name)."""
        return self.lab.vm(vm).host

    def vm_state(self, vm: str) -> int:
        """EnabledState of a VM."""
        return self.lab.vm(vm).state

    def set_vm_state(self, vm: str, state: int | str) -> None:
        """Change a VM's EnabledState (2 running, 3 off, 32769 saved, or those names)."""
        with self.lab.lock:
            record = self.lab.vm(vm)
            record.state = STATES[state.lower()] if isinstance(state, str) else int(state)
            record.state_changed_wall = self.lab.wall()

    def guid(self, vm: str, host: str | None = None) -> str:
        """GUID of a VM by name (on a given host when several share the name)."""
        found = [item for item in self.lab.find_vms(vm) if host is None or item.host == self.lab.host(host).name]
        if len(found) != 1:
            raise KeyError(f'{len(found)} VMs match {vm!r}' + (f' on {host}' if host else ''))
        return found[0].guid

    def jobs(self, host: str | None = None) -> list[dict[str, Any]]:
        """Jobs (as in lab.snapshot()), optionally only those started on a host."""
        name = self.lab.host(host).name if host else None
        return [job for job in self.lab.snapshot()['jobs'] if name is None or job['source'] == name]

    def peak_migrations(self) -> dict[str, int]:
        """The most live migrations each host ran at once so far: its baseline plus the overlap of the jobs touching it.

        Exact, from each job's start and end on the lab clock. A job refused at submission (ended as it started)
        never ran; phantom migrations (inject migration_limit) are not counted.
        """
        with self.lab.lock:
            self.lab.tick()
            now = self.lab.clock()
            events: dict[str, list[tuple[float, int]]] = {name: [] for name in self.lab.hosts}
            for job in self.lab.jobs.values():
                end = job.finished if job.finished is not None else now
                if end > job.started:
                    for name in {job.source, job.destination} & set(events):
                        events[name] += [(job.started, 1), (end, -1)]
            peaks = {}
            for name, items in events.items():
                level = peak = 0
                for _when, change in sorted(items):  # at one instant an end comes first: it frees the slot a start takes
                    level += change
                    peak = max(peak, level)
                peaks[name] = self.lab.hosts[name].migration.active_vm + peak
            return peaks

    def migration_requests(self) -> dict[str, list[dict[str, Any]]]:
        """Every MigrateVirtualSystemToHost that made a job, per VM GUID, oldest first (as in jobs()); the jobs of
        cluster moves are not requests (see cluster_moves)."""
        with self.lab.lock:
            ordered = sorted(self.lab.jobs.values(), key=lambda job: job.started)
            order = [job.instance_id for job in ordered if job.origin == 'hyperv']
            jobs = {job['id']: job for job in self.jobs()}
        requests: dict[str, list[dict[str, Any]]] = {}
        for job_id in order:
            requests.setdefault(jobs[job_id]['vm'], []).append(jobs[job_id])
        return requests

    def wait_for_job(self, job_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """Block until a job is no longer running (bounded); returns its snapshot entry."""
        deadline = time.monotonic() + timeout
        wanted = normalize_guid(job_id) or job_id
        while True:
            job = next((item for item in self.jobs() if item['id'] == wanted), None)
            if job is None:
                raise KeyError(f'no job {job_id}')
            if job['state'] != 4 or time.monotonic() >= deadline:
                return job
            time.sleep(TICK_SECONDS)

    # Failover clusters

    def _clustered_vm(self, vm_or_group: str):
        """A clustered VM by GUID, unique VM name or group name."""
        with self.lab.lock:
            found = [vm for vm in self.lab.find_vms(vm_or_group) if vm.clustered]
            found = found or [vm for vm in self.lab.vms.values() if vm.clustered and vm.group.lower() == str(vm_or_group).lower()]
            if len(found) != 1:
                raise KeyError(f'{len(found)} clustered VMs or groups match {vm_or_group!r}')
            return found[0]

    def cluster_group(self, vm_or_group: str) -> dict[str, Any]:
        """A VM role now: cluster, group, vm, guid, owner_node, host (where Hyper-V runs it), state (group State),
        migration_state (the VM resource's MigrationState) and moving (a move is queued or running)."""
        with self.lab.lock:
            self.lab.tick()
            return cluster_engine.describe_group(self.lab, self._clustered_vm(vm_or_group))

    def cluster_moves(self, group: str | None = None) -> list[dict[str, Any]]:
        """Every MoveToNewNodeParams / MoveToNewNode call (refused ones too) and every drain move, oldest first:
        method, group, vm, node_name, via, source, destination, migration_type, properties (the decoded CLUSPROP list),
        flags, state (queued, running, completed, failed, refused), refused_code, error, job_id, drain_of."""
        with self.lab.lock:
            self.lab.tick()
            moves = [move.describe() for move in self.lab.cluster_moves]
        return [move for move in moves if group is None or move['group'].lower() == group.lower() or move['vm'].lower() == group.lower()]

    def cluster_violations(self) -> list[dict[str, Any]]:
        """MigrateVirtualSystemToHost requests that named a clustered VM (Hyper-V moved it behind its cluster's back)."""
        with self.lab.lock:
            return [dict(item) for item in self.lab.cluster_violations]

    def node_state(self, node: str) -> dict[str, Any]:
        """A cluster node: state (up, down, paused), drain_status (NodeDrainStatus) and drain_target."""
        host = self.lab.host(node)
        if host.cluster_name is None:
            raise KeyError(f'{host.name} is not a cluster node')
        with self.lab.lock:
            self.lab.tick()
            return {'cluster': host.cluster_name, 'state': host.cluster_state, 'drain_status': host.drain_status,
                    'drain_target': host.drain_target}

    def set_node_state(self, node: str, state: str) -> None:
        """Change a cluster node at run time: 'down' answers nothing (open connections are cut), 'paused', 'up'."""
        if state not in NODE_STATES:
            raise ValueError(f'node state must be one of {", ".join(NODE_STATES)}')
        host = self.lab.host(node)
        if host.cluster_name is None:
            raise KeyError(f'{host.name} is not a cluster node')
        with self.lab.lock:
            host.cluster_state = state
        if state == 'down':
            for listener in self._listeners:
                if listener.server.runtime.host_name == host.name:
                    listener.server.close_connections()

    def inventory(self, fmt: str = 'ini', transport: str = 'ntlm', scheme: str | None = None, validate: bool = True) -> str:
        """An Ansible inventory for the running hosts (group hyperv), with the first user's credentials."""
        user, password = self.users[0]
        entries = {}
        for handle in self.hosts.values():
            use = scheme or handle.scheme
            port = handle.https_port if use == 'https' else handle.http_port
            entries[handle.name] = inventory.host_vars(handle.bind, port, use, transport, user, password,
                                                       handle.ca_file, validate)
        return inventory.render(entries, fmt)

    def describe(self) -> dict[str, Any]:
        """Endpoints and files, JSON-friendly (the CLI's --json output)."""
        return {
            'lab': self.lab.name,
            'ca_file': self.ca_file,
            'users_file': self.users_file,
            'hosts': {
                name: {'http': handle.http_endpoint, 'https': handle.https_endpoint, 'control': handle.control_url,
                       'address': handle.address, 'cluster': self.lab.hosts[name].cluster_name}
                for name, handle in self.hosts.items()
            },
            'clusters': {cluster.name: list(cluster.nodes) for cluster in self.lab.clusters.values()},
        }
