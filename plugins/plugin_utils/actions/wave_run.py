# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A wave: each VM gated (actions/gate_run.py), then moved when asked and allowed (actions/move_run.py), several
VMs at a time. Every VM is accounted for: its decision, with its move's outcome, or the error that stopped it.

Hyper-V holds each host to its limit of simultaneous live migrations on both ends. A gate waits within
limit_wait for a slot; a request Hyper-V still refuses for a limit is sent again by the move, within limit_wait,
only while the VM is still on its source with no job running. A request whose reply was lost is never sent again.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime
import time
import typing as t

from ansible.errors import AnsibleError

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions import cluster_drain, move_run
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.gate_reads import Failed, GateReads
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.gate_run import TARGET_SUBSET, Gate
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import cluster as gate_cluster
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import decision as model
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import message as gate_message
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import request as gate_request
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import wave
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate.schedule import Migration, Queue, Room, Slots
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.move import MoveRequest


GATES_AT_ONCE = 16  # decisions made at the same time: they only read, one request at a time per host
# When a migration ends, the queue waits this long for others ending with it, and fills their freed slots together:
# started at once, the first freed slot's migration takes a slot that a partner of the next one needed, and a wave of
# like VMs loses a round (benchmarks/load_wave.py). A moment against jobs of minutes.
SETTLE_S = 0.2
MAX_PARALLEL = 64  # threads that follow migrations; Hyper-V's limits allow far fewer at once anyway


class WaveRun:
    """`WaveRun(reads, request, inventory, ...).run()` -> wave.report()'s entries, in the wave's order.

    Every VM is decided first, several at a time: Hyper-V's pre-check counts the migrations running against the
    hosts' limits, so the decisions are made before the wave's own migrations fill them. Then the allowed ones go
    through the queue (gate/schedule.py), which starts each migration when its source and destination both have a
    free slot, and sends a VM with several equally good candidates where the room is.
    """

    def __init__(self, reads: GateReads, request: wave.WaveRequest, inventory: list[str], *, check_mode: bool,
                 cap: int | None, move_poll: float, say: t.Callable[[str], None]):
        self.reads = reads
        self.request = request
        self.inventory = inventory
        self.check_mode = check_mode
        self.cap = min(cap, MAX_PARALLEL) if cap else MAX_PARALLEL
        self.move_poll = move_poll
        self.say = say
        self.ask_at_once = model.ASK_AT_ONCE
        self.wanted = 1
        self.cluster_drain: dict[str, t.Any] | None = None  # a drained cluster node, paused once its VMs moved

    def run(self, group_hosts: list[str]) -> list[dict[str, t.Any]]:
        options = self.request.gate
        hosts = [*group_hosts, *filter(None, [options["source"], options["destination"]]),
                 *(options["candidates"] if isinstance(options["candidates"], list) else [])]
        for host in dict.fromkeys(host for host in hosts if isinstance(host, str) and host in self.inventory):
            self.reads.session(host)  # opened here: they template inventory variables, which threads must not
        left: list[dict[str, t.Any]] = []
        if self.request.drain:  # the wave is the host's running VMs
            listed = self.reads.list_vms([self.request.drain])[self.request.drain]
            if isinstance(listed, Failed):
                raise AnsibleError(f"Cannot drain {self.request.drain}: its VMs could not be listed. {listed.message}")
            self.request = wave.drain_wave(self.request, listed)
            left = [vm for vm in listed if vm.get("state_name") != "Running"]
        found = None
        if len(self.request.vms) > 1 and not self.request.drain:
            # One query per host (the source alone, when named) finds the whole wave, so that a VM named twice (by its
            # name and by its id) is gated and moved once; each gate then reads its VM where it was found.
            where = [options["source"]] if options["source"] else group_hosts
            listed = self.reads.list_vms(where, remember=True)  # the gates find their VMs in it
            found = {host: vms for host, vms in listed.items() if not isinstance(vms, Failed)}
        entries = wave.plan(self.request, found)
        if not entries:  # a drained host without running VMs
            self.say(f"Drain {self.request.drain}: no running VM to move." if self.request.drain else "No VM to gate.")
            return []
        if len(entries) > 1:  # every host the gates may go to, read once for all of them
            every_vm = gate_request.parse({**options, "vm": entries[0]["vm"], "source": None}, self.inventory, prefix="")
            self.reads.remember_hosts(every_vm.targets, TARGET_SUBSET[every_vm.pick])
        # A wave that moves asks Hyper-V about several equally good candidates at once: its queue sends a VM to
        # whichever has a free slot and room. A gate-only wave of many VMs has no queue and its gates already run side
        # by side, so it asks about one candidate at a time (the next only if that one fails): half the requests per VM.
        queued = options["mode"] == "move" and not self.check_mode and len(entries) > 1
        self.ask_at_once = (model.QUEUE_CHOICES if queued else model.ASK_AT_ONCE if len(entries) <= GATES_AT_ONCE
                            else 1)
        self.wanted = model.QUEUE_CHOICES if queued else 1  # alternates, of the next fits when the closest are few
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(GATES_AT_ONCE, len(entries)),
                                                   thread_name_prefix="vmgate-gate") as pool:
            outcomes = list(pool.map(self._decide, entries))
        self._place_by_room(outcomes)
        self.reads.forget_listings()  # from now on a VM is looked for on its host, as it is then
        node = self._drained_cluster_node()
        if self.request.drain:  # the plan first: where each VM goes, and which can go nowhere, with why
            decided = [_as_decided(outcome) for outcome in outcomes]
            self.say("\n".join(wave.plan_lines(self.request.drain, decided, left, wave.memory_for_vms(decided))))
        movable = [outcome for outcome in outcomes if outcome["error"] is None and outcome["move"]]
        held = wave.held_by_cluster_drain([_as_decided(outcome) for outcome in outcomes]) if node else None
        if held:  # a cluster node is drained whole or not at all: nothing moves
            self.say(held)
            for outcome in movable:
                outcome["decision"] = model.record_move(outcome["decision"], {"msg": held}, failed=True)
            movable = []
        if movable:
            self._move_through_queue(movable)
        decided = [{"vm": outcome["vm"], "decision": outcome["decision"], "error": outcome["error"]} for outcome in outcomes]
        if node and not held and options["mode"] == "move" and wave.all_moved(decided):
            self.cluster_drain = self._pause(*node)
        return decided

    def _drained_cluster_node(self) -> tuple[str, str] | None:
        """(node, cluster) when the wave drains a node of a failover cluster."""
        if not self.request.drain:
            return None
        view = self.reads.read_clusters([self.request.drain])[self.request.drain]
        if not view or isinstance(view, Failed):
            return None
        node = gate_cluster.node_name(view, self.request.drain)
        return (node, view["name"]) if node else None

    def _pause(self, node: str, cluster: str) -> dict[str, t.Any]:
        if self.check_mode:
            msg = f"Check mode: cluster node {node} of {cluster} would now be paused with drain; nothing was sent."
            self.say(msg)
            return {"node": node, "cluster": cluster, "paused": False, "drain_status": None, "failed": False, "msg": msg}
        session = self.reads.session(t.cast(str, self.request.drain))
        if isinstance(session, Failed):
            return {"node": node, "cluster": cluster, "paused": False, "drain_status": None, "failed": True,
                    "msg": session.message}
        try:
            return cluster_drain.pause(session, node, cluster, timeout=self.request.move_timeout, poll=self.move_poll,
                                       say=self.say)
        except AnsibleError as exc:
            return {"node": node, "cluster": cluster, "paused": None, "drain_status": None, "failed": True,
                    "msg": f"Every running VM moved, but pausing cluster node {node} failed: {exc.message}"}

    def _place_by_room(self, outcomes: list[dict[str, t.Any]]) -> None:
        """The gates decided side by side, each as if alone on the hosts: place the allowed VMs together
        (wave.room_plan), each to the equally good host with the most memory left, and decide again, one after
        another, those left without room, with the memory the others were placed on counted (they may find room on a
        host of another fit, or be blocked with the figures)."""
        decided = [outcome for outcome in outcomes if outcome["error"] is None and outcome["decision"]["allowed"]]
        for_vms = wave.memory_for_vms([outcome["decision"] for outcome in decided])
        placed, homeless, after = wave.room_plan([outcome["decision"] for outcome in decided], for_vms)
        for outcome in decided:
            if outcome["vm"] in placed:
                outcome["decision"] = model.reroute(outcome["decision"], placed[outcome["vm"]])
        ledger = {host: mb - (after.get(host) or 0) for host, mb in for_vms.items() if mb is not None}
        for outcome in (outcome for outcome in decided if outcome["vm"] in homeless):
            self.say(f"{outcome['vm']}: no room left where the gate chose once the wave's other VMs were placed; "
                     "deciding again")
            fresh = self._decide({"vm": outcome["vm"], "source": outcome["decision"]["source"]}, ledger)
            outcome.update(fresh)
            needed = wave.needed_mb(fresh["decision"]) if fresh["decision"] else None
            if fresh["error"] is None and fresh["decision"]["allowed"] and needed is not None:
                destination = fresh["decision"]["destination"]
                ledger[destination] = ledger.get(destination, 0) + needed

    def _decide(self, entry: dict[str, t.Any], placed: t.Mapping[str, int] | None = None) -> dict[str, t.Any]:
        """One VM's decision: {vm, decision, error, request, move (whether it is to be moved)}; `placed`: the memory
        the wave already placed on each host."""
        name = entry["vm"]
        try:
            request = gate_request.parse({**self.request.gate, "vm": name, "source": entry["source"]},
                                         self.inventory, prefix="")
            decided_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
            decision = Gate(request, self.reads, self.check_mode, self.say, self.ask_at_once, placed,
                            self.wanted).decide(decided_at)
        except (AnsibleError, gate_request.RequestError, ValueError) as exc:
            return _stopped(name, "gating the VM", getattr(exc, "message", None) or str(exc))
        except Exception as exc:  # pylint: disable=broad-exception-caught  # a bug: still account for the VM
            return _stopped(name, "gating the VM", f"an unexpected error ({type(exc).__name__}: {exc})")
        self.say(decision["message"].splitlines()[0])
        if decision["verdict"] == "overridden":
            self.say("\n".join(gate_message.override_announcement(decision)))
        move = request.mode == "move" and decision["allowed"] and decision["verdict"] != "already_there"
        return {"vm": name, "decision": decision, "error": None, "request": request, "move": move}

    def _move_through_queue(self, movable: list[dict[str, t.Any]]) -> None:
        """Move the allowed VMs, each when its source and destination have a free slot (the limits as read now,
        and read again while migrations wait); a VM that never gets one within limit_wait is reported."""
        queue, outcomes = self._queue(movable)
        wait, poll = movable[0]["request"].limit_wait, movable[0]["request"].limit_poll  # the wave's, as parsed
        stuck_since = None
        refreshed = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(self.cap, len(movable)),
                                                   thread_name_prefix="vmgate-move") as pool:
            running: dict[concurrent.futures.Future, Migration] = {}
            first_round = True
            while queue.waiting or running:
                started = queue.start(self.cap)
                for migration in started:
                    outcome = outcomes[id(migration)]
                    outcome["decision"] = model.reroute(outcome["decision"], t.cast(str, migration.destination))
                    # A VM that waited in the queue is looked at again before it moves; one that starts at once was
                    # decided a moment ago (and the move itself refuses a VM that changed).
                    move = self._move if first_round else self._check_then_move
                    running[pool.submit(move, outcome["request"], outcome["decision"])] = migration
                first_round = False
                if running:
                    stuck_since = None
                    done, _pending = concurrent.futures.wait(running, timeout=poll,
                                                             return_when=concurrent.futures.FIRST_COMPLETED)
                    if done and queue.waiting:  # and those ending with it (SETTLE_S)
                        done, _pending = concurrent.futures.wait(running, timeout=SETTLE_S)
                    failed = False
                    for future in done:
                        migration = running.pop(future)
                        outcomes[id(migration)].update(_moved(outcomes[id(migration)], future))
                        moved = bool(outcomes[id(migration)]["decision"].get("moved"))
                        queue.finish(migration, moved=moved)
                        failed = failed or not moved
                    if failed and queue.waiting:  # its hosts may have changed (live migration off, a lower limit):
                        self._refresh(queue)  # read them before sending more there
                        refreshed = time.monotonic()
                elif queue.waiting:  # nothing of the wave runs, yet nothing may start: others' migrations hold slots
                    stuck_since = stuck_since or time.monotonic()
                    hopeless = all(queue.hopeless(migration) for migration in queue.waiting)
                    if hopeless or time.monotonic() - stuck_since >= wait:
                        self._give_up(queue, outcomes, time.monotonic() - stuck_since)
                        break
                    time.sleep(poll)
                if queue.waiting and not started and time.monotonic() - refreshed >= poll:
                    self._refresh(queue)  # others' migrations may have ended (or begun)
                    refreshed = time.monotonic()

    def _queue(self, movable: list[dict[str, t.Any]]) -> tuple[Queue, dict[int, dict[str, t.Any]]]:
        hosts = {host for outcome in movable
                 for host in (outcome["decision"]["source"], *model.queue_destinations(outcome["decision"]))}
        queue = Queue(Slots({host: None for host in hosts}),  # a limit not read: one migration at a time
                      Room(wave.memory_for_vms([outcome["decision"] for outcome in movable])))
        if len(movable) > 1:  # one VM needs no queue: Hyper-V refuses it at a limit, and the move waits that out
            self._refresh(queue)
        outcomes = {}
        for order, outcome in enumerate(movable):
            decision = outcome["decision"]
            migration = Migration(outcome["vm"], decision["source"], model.queue_destinations(decision), order=order,
                                  closest=len(model.equally_good(decision)), needed_mb=wave.needed_mb(decision))
            queue.submit(migration)
            outcomes[id(migration)] = outcome
        return queue, outcomes

    def _refresh(self, queue: Queue) -> None:
        """The limits and the live migrations running on every host the queue serves, as the hosts say now
        (counting the wave's own, which may not be counted there yet). A host that cannot be read keeps what was
        known, or takes one migration at a time."""
        ours: dict[str, int] = {}
        for migration in queue.running:
            for host in (migration.source, t.cast(str, migration.destination)):
                ours[host] = ours.get(host, 0) + 1
        for host, service in self.reads.read_services(queue.slots.limits).items():
            if isinstance(service, Failed):
                continue
            queue.slots.limits[host] = service.get("max_vm_migrations")
            queue.slots.running[host] = max(int(service.get("active_vm_migrations") or 0), ours.get(host, 0))
            if service.get("live_migration_enabled") is False:
                queue.slots.closed.add(host)
            else:
                queue.slots.closed.discard(host)

    def _give_up(self, queue: Queue, outcomes: dict[int, dict[str, t.Any]], seconds: float) -> None:
        for migration in list(queue.waiting):
            queue.waiting.remove(migration)
            decision = outcomes[id(migration)]["decision"]
            label = decision["vm_name"] or decision["vm"]
            short, closed = queue.short_of_room(migration), queue.closed_to(migration)
            if closed:  # turned off after the decision: waiting would not have helped
                why = (f"live migration is turned off on {', '.join(closed)} now"
                       + (f" (and {', '.join(short)} lack the room)" if short else "")
                       + ": the migration was not sent. Turn it on (Enable-VMMigration) and run the wave again.")
            elif len(short) == len(migration.destinations):  # memory, not slots: waiting would not have helped
                why = (f"no room left for {label} on {', '.join(short)} once the wave's other VMs were placed there "
                       f"(it needs {migration.needed_mb} MB): the migration was not sent.")
            else:
                ends = (migration.source, *migration.destinations)
                off = [host for host in ends if host in queue.slots.closed]
                full = [host for host in ends if queue.slots.free(host) <= 0 and host not in off]
                why = (f"no free live-migration slot on {', '.join(full)} after waiting {seconds:.0f} s (limit_wait)"
                       + (f", and live migration is turned off on {', '.join(off)}" if off else "")
                       + ": the migration was not sent.")
            outcomes[id(migration)]["decision"] = model.record_move(
                decision, {"msg": f"{why} {label} is still on {decision['source']}."}, failed=True)

    def _check_then_move(self, request: gate_request.Request, decision: dict[str, t.Any]) -> dict[str, t.Any]:
        """Move the VM if it is still where, and as, its decision saw it; else decide again, and move it only if the
        new decision sends it from the same source to the destination whose slots the queue holds for it."""
        source = decision["source"]
        found = self.reads.find([source], decision["vm_id"])[source]
        state = decision["checks"]["state"]["value"]
        if isinstance(found, Failed) or [sighting.vm["state"] for sighting in found.matches] == [state]:
            return self._move(request, decision)  # unchanged (or unreadable: the move's own checks decide)
        label = decision["vm_name"] or decision["vm"]
        now = found.matches[0].vm.get("state_name") if found.matches else f"no longer on {source}"
        self.say(f"{label}: changed since its decision ({now}); deciding again")
        decided_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        fresh = Gate(dataclasses.replace(request, source=None), self.reads, self.check_mode, self.say, self.ask_at_once,
                     wanted=self.wanted).decide(decided_at)
        self.say(fresh["message"].splitlines()[0])
        if (fresh["verdict"] == "allowed" and fresh["source"] == source
                and decision["destination"] in model.queue_destinations(fresh)):
            return self._move(request, model.reroute(fresh, decision["destination"]))
        if fresh["allowed"] and fresh["verdict"] != "already_there":  # allowed elsewhere: not in this wave's slots
            return model.record_move(fresh, {"msg": (
                f"{label} changed while it waited in the queue ({now}) and was decided again; the new decision sends "
                f"it from {fresh['source']} to {fresh['destination']}, which this wave did not plan. Nothing was "
                "moved: run the wave again for it.")}, failed=True)
        return fresh

    def _move(self, request: gate_request.Request, decision: dict[str, t.Any]) -> dict[str, t.Any]:
        """vm_move's work for one allowed decision, with sessions of its own (it follows a job for minutes)."""
        source, destination = self.reads.session(decision["source"]), self.reads.session(decision["destination"])
        for session in (source, destination):
            if isinstance(session, Failed):
                return model.record_move(decision, {"msg": session.message}, failed=True)
        move = MoveRequest(
            vm=decision["vm_id"], destination_host=None, migration_type=request.migration_type,
            destination_path=request.destination_path, timeout_s=self.request.move_timeout,
            poll_interval_s=self.move_poll, expected_state=decision["checks"]["state"]["value"],
            limit_wait_s=request.limit_wait, limit_poll_s=request.limit_poll, vm_name=decision["vm_name"])
        label = decision["vm_name"] or decision["vm"]
        self.say(f"{label}: moving from {decision['source']} to {decision['destination']}")
        with source.sibling() as own_source, destination.sibling() as own_destination:
            try:
                result, failed = move_run.move(own_source, own_destination, move, self.check_mode, say=lambda _text: None), False
            except AnsibleError as exc:
                result, failed = {"msg": exc.message}, True
        recorded = model.record_move(decision, result, failed)
        self.say(f"{label}: {recorded['message'].splitlines()[-1]}")
        return recorded


def _as_decided(outcome: dict[str, t.Any]) -> dict[str, t.Any]:
    """An outcome as the plan shows it: its decision, or its error as a VM that can go nowhere."""
    if outcome["decision"] is not None:
        return outcome["decision"]
    return {"vm": outcome["vm"], "allowed": False, "reasons": [{"message": outcome["error"]["msg"]}]}


def _stopped(name: str, step: str, message: str) -> dict[str, t.Any]:
    return {"vm": name, "decision": None, "error": wave.stopped(name, step, message), "request": None,
            "move": False}


def _moved(outcome: dict[str, t.Any], future: concurrent.futures.Future) -> dict[str, t.Any]:
    """The outcome with its move's record; a move that raised (a bug) stops the VM, which is then looked for."""
    try:
        return {"decision": future.result()}
    except Exception as exc:  # pylint: disable=broad-exception-caught  # still account for the VM
        return {"error": wave.stopped(outcome["vm"], "moving the VM", f"an unexpected error ({type(exc).__name__}: {exc})")}
