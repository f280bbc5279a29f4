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
import datetime
import typing as t

from ansible.errors import AnsibleError

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions import move_run
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.gate_reads import Failed, GateReads
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.gate_run import Gate
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import decision as model
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import message as gate_message
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import request as gate_request
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import wave
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.move import MoveRequest


MAX_PARALLEL = 64  # threads on the controller; Hyper-V's limits allow far fewer migrations at once anyway


class WaveRun:
    """`WaveRun(reads, request, inventory, ...).run()` -> wave.report()'s entries, in the wave's order."""

    def __init__(self, reads: GateReads, request: wave.WaveRequest, inventory: list[str], *, check_mode: bool,
                 parallel: int, move_poll: float, say: t.Callable[[str], None]):
        self.reads = reads
        self.request = request
        self.inventory = inventory
        self.check_mode = check_mode
        self.parallel = min(max(1, parallel), MAX_PARALLEL)
        self.move_poll = move_poll
        self.say = say

    def run(self, group_hosts: list[str]) -> list[dict[str, t.Any]]:
        options = self.request.gate
        hosts = [*group_hosts, *filter(None, [options["source"], options["destination"]]),
                 *(options["candidates"] if isinstance(options["candidates"], list) else [])]
        for host in dict.fromkeys(host for host in hosts if isinstance(host, str) and host in self.inventory):
            self.reads.session(host)  # opened here: they template inventory variables, which threads must not
        found = None
        if len(self.request.vms) > 1 and not options["source"]:
            # One query per host finds the whole wave; each gate then reads its VM where it was found.
            listed = self.reads.list_vms(group_hosts)
            found = {host: vms for host, vms in listed.items() if not isinstance(vms, Failed)}
        entries = wave.plan(self.request, found)
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(self.parallel, len(entries)),
                                                   thread_name_prefix="vmgate-wave") as pool:
            return list(pool.map(self._one, entries))

    def _one(self, entry: dict[str, t.Any]) -> dict[str, t.Any]:
        name = entry["vm"]
        step = "gating the VM"
        try:
            request = gate_request.parse({**self.request.gate, "vm": name, "source": entry["source"]},
                                         self.inventory, prefix="")
            decided_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
            decision = Gate(request, self.reads, self.check_mode, self.say).decide(decided_at)
            self.say(decision['message'].splitlines()[0])
            if decision["verdict"] == "overridden":
                self.say("\n".join(gate_message.override_announcement(decision)))
            if request.mode == "move" and decision["allowed"] and decision["verdict"] != "already_there":
                step = "moving the VM"
                decision = self._move(request, decision)
            return {"vm": name, "decision": decision, "error": None}
        except (AnsibleError, gate_request.RequestError, ValueError) as exc:
            message = getattr(exc, "message", None) or str(exc)
            return {"vm": name, "decision": None, "error": wave.stopped(name, step, {"msg": message})}
        except Exception as exc:  # pylint: disable=broad-exception-caught  # a bug: still account for the VM
            message = f"an unexpected error ({type(exc).__name__}: {exc})"
            return {"vm": name, "decision": None, "error": wave.stopped(name, step, {"msg": message})}

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
            limit_wait_s=request.limit_wait, limit_poll_s=request.limit_poll)
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
