# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The wave's queue of migrations, pure: which start now, within every host's limit on both ends.

Hyper-V lets each host run MaximumActiveVirtualSystemMigration live migrations at once, counted on the source and
on the destination. As vCenter does, a migration that would exceed a limit waits in the queue; it is not sent to be
refused. When slots free, the queue serves first the migrations whose hosts have the most work per slot (the wave's
bottleneck), and a VM with several equally good destinations goes where the most slots are free and the least work
is queued, so that parallel decisions do not pile onto the host whose name sorts first. A VM goes to a compatible host
of another fit only when none of its closest fit has a free slot: a wave is not held to the few hosts that fit its VMs
best while others sit idle. A migration also needs the memory for its VM on its destination, counting what the wave's
earlier migrations placed there (Room).

No I/O and no clock: the wave tells it what started and ended (actions/wave_run.py), and a test drives it on a
simulated clock.
"""

from __future__ import annotations

import dataclasses
import typing as t


@dataclasses.dataclass
class Migration:
    """One allowed move waiting for its slots: the VM, its source, and the destinations it may take, equally good."""

    vm: str
    source: str
    destinations: tuple[str, ...]
    order: int = 0  # the wave's order, the last tie-break
    closest: int | None = None  # the first `closest` destinations are its closest fit, the others taken only when none
    # of those has a free slot (None: all alike)
    destination: str | None = None  # chosen when it starts
    needed_mb: int | None = None  # the memory it takes on its destination (None: not known, not counted)

    def is_closest(self, host: str) -> bool:
        return self.closest is None or self.destinations.index(host) < self.closest


class Slots:
    """Every host's limit and the live migrations running there (others', as read, and the wave's own), and the hosts
    where live migration is turned off (closed: none starts there until it is on again)."""

    def __init__(self, limits: t.Mapping[str, int | None], running: t.Mapping[str, int] | None = None):
        self.limits = dict(limits)
        self.running = {host: int((running or {}).get(host) or 0) for host in self.limits}
        self.closed: set[str] = set()

    def free(self, host: str) -> int:
        """Free slots; a host whose limit is unknown takes one migration at a time (fail safe, not fast)."""
        if host in self.closed:
            return 0
        limit = self.limits.get(host)
        return max(0, (1 if limit is None else int(limit)) - self.running.get(host, 0))

    def capacity(self, host: str) -> int:
        limit = self.limits.get(host)
        return max(1, 1 if limit is None else int(limit))

    def take(self, *hosts: str) -> None:
        for host in hosts:
            self.running[host] = self.running.get(host, 0) + 1

    def give_back(self, *hosts: str) -> None:
        for host in hosts:
            self.running[host] = max(0, self.running.get(host, 0) - 1)


class Room:
    """The memory each host has for VMs (its free memory less its reserve), as the wave places them: a migration
    holds its VM's memory on its destination from its start, and gives it back to its source once the VM left.
    A host whose figure is unknown is not counted (the gate warned about it)."""

    def __init__(self, for_vms: t.Mapping[str, int | None] | None = None):
        self.for_vms = dict(for_vms or {})

    def fits(self, host: str, needed: int | None) -> bool:
        have = self.for_vms.get(host)
        return have is None or needed is None or have >= needed

    def take(self, host: str, needed: int | None) -> None:
        if needed is not None and self.for_vms.get(host) is not None:
            self.for_vms[host] -= needed

    def give_back(self, host: str, needed: int | None) -> None:
        if needed is not None and self.for_vms.get(host) is not None:
            self.for_vms[host] += needed


class Queue:
    """`submit()` what may move, `start()` what may start now (their slots and memory taken), `finish()` what ended."""

    def __init__(self, slots: Slots, room: Room | None = None):
        self.slots = slots
        self.room = room or Room()
        self.waiting: list[Migration] = []
        self.running: list[Migration] = []

    def submit(self, migration: Migration) -> None:
        if not migration.destinations:
            raise ValueError(f"{migration.vm}: a migration needs at least one destination")
        self.waiting.append(migration)

    def start(self, cap: int | None = None) -> list[Migration]:
        """The migrations that start now, each with its destination chosen and its two slots taken; with `cap`, no
        more than that many running at once (the user's own limit on the wave)."""
        started = []
        while cap is None or len(self.running) < cap:
            migration = self._next()
            if migration is None:
                break
            self.waiting.remove(migration)
            self.slots.take(migration.source, t.cast(str, migration.destination))
            self.room.take(t.cast(str, migration.destination), migration.needed_mb)
            self.running.append(migration)
            started.append(migration)
        return started

    def finish(self, migration: Migration, moved: bool = False) -> None:
        """A started migration ended (moved, failed, or refused): its slots are free again, and the memory it held
        is back on its destination, or, when the VM moved, on its source, which it left."""
        self.running.remove(migration)
        self.slots.give_back(migration.source, t.cast(str, migration.destination))
        self.room.give_back(migration.source if moved else t.cast(str, migration.destination), migration.needed_mb)

    def short_of_room(self, migration: Migration) -> list[str]:
        """The destinations a waiting migration may take that lack the memory for it now."""
        return [host for host in migration.destinations if not self.room.fits(host, migration.needed_mb)]

    def closed_to(self, migration: Migration) -> list[str]:
        """The hosts with live migration off that keep a waiting migration from starting: its source, or every
        destination that is not short of room; empty when one of its destinations is open."""
        if migration.source in self.slots.closed:
            return [migration.source]
        short = self.short_of_room(migration)
        closed = [host for host in migration.destinations if host in self.slots.closed]
        return closed if closed and all(host in closed or host in short for host in migration.destinations) else []

    def hopeless(self, migration: Migration) -> bool:
        """Whether waiting cannot start it, as far as the wave knows: live migration is off where it would go, or
        none of its destinations has the memory (memory frees only when the wave's own VMs leave)."""
        return bool(self.closed_to(migration)) or len(self.short_of_room(migration)) == len(migration.destinations)

    def _work(self) -> dict[str, float]:
        """Each host's migrations still to run (waiting, on either end), per slot: how long it will be busy."""
        count: dict[str, float] = {}
        for migration in self.waiting:
            count[migration.source] = count.get(migration.source, 0) + 1
            share = 1 / len(migration.destinations)  # a VM with several destinations weighs on each in part
            for host in migration.destinations:
                count[host] = count.get(host, 0) + share
        return {host: value / self.slots.capacity(host) for host, value in count.items()}

    def _next(self) -> Migration | None:
        """The waiting migration to start first, if any can: a free slot on its source and on a destination."""
        work = self._work()
        best = None
        for migration in self.waiting:
            if self.slots.free(migration.source) <= 0:
                continue
            open_ends = [host for host in migration.destinations if self.slots.free(host) > 0 and host != migration.source
                         and self.room.fits(host, migration.needed_mb)]
            if not open_ends:
                continue
            # Where it goes: its closest fit, then the most free slots, then the least work queued there, then the
            # most memory left, then the order given (the gate's rank).
            destination = min(open_ends, key=lambda host: (not migration.is_closest(host), -self.slots.free(host),
                                                           work.get(host, 0), -(self.room.for_vms.get(host) or 0),
                                                           migration.destinations.index(host)))
            # The busier of its two hosts first, then the other: the bottleneck of the wave is served first.
            ends = sorted((work.get(migration.source, 0), work.get(destination, 0)), reverse=True)
            key = (-ends[0], -ends[1], migration.order)
            if best is None or key < best[0]:
                best = (key, migration, destination)
        if best is None:
            return None
        _key, migration, destination = best
        migration.destination = destination
        return migration
