# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/migrate.yml's request and report, pure: which VMs a wave gates, and what became of each.

The request comes as extra vars (or AWX survey answers): `vm` is one name, taken literally; `vms` is a list
whose items are taken literally, or a string of names separated by commas (trimmed). The other options are
those of the gate (gate/request.py), checked once for the whole wave.
"""

from __future__ import annotations

import dataclasses
import json
import re
import typing as t

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import decision as model
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.vectors import describe
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import request as gate_request

HELP = ("Say which VM to move and where: -e vm=NAME (or -e vms=NAME1,NAME2 for a wave, not both), and "
        "-e destination=HOST or -e candidates=HOST1,HOST2 (by default every host of the inventory group hyperv); "
        "-e mode=move (the default) or mode=gate.")
DRAIN_HELP = ("Say which host to empty: -e drain=HOST (its inventory name, one host), and where its VMs may go: "
              "-e candidates=HOST1,HOST2 or -e destination=HOST (by default every other host of the inventory group "
              "hyperv); -e mode=gate (or --check) plans without moving.")
DEFAULTS = {"mode": "move", "limit_wait": 120, "limit_poll": 5, "move_timeout": 600, "migration_type": "live"}


class WaveRequestError(ValueError):
    """migrate.yml cannot start: every problem, then how to ask."""

    def __init__(self, problems: list[str], drain: bool = False):
        self.problems = problems
        super().__init__("\n  - ".join(["migrate.yml cannot start:", *problems]) + "\n" + (DRAIN_HELP if drain else HELP))


@dataclasses.dataclass(frozen=True)
class WaveRequest:
    vms: tuple[str, ...]  # with drain, empty until the host's running VMs are known (with_vms)
    gate: dict[str, t.Any]  # the gate's options for every VM (gate/request.py's names, without a prefix)
    move_timeout: int
    drain: str | None = None

    def with_vms(self, vms: t.Iterable[str]) -> WaveRequest:
        return dataclasses.replace(self, vms=tuple(vms))


def _answered(value: t.Any) -> bool:
    """An answer AWX's launch form leaves blank arrives as '' (or None): not given."""
    return not (value is None or (isinstance(value, str) and not value.strip()))


def _vm_names(vm: t.Any, vms: t.Any, problems: list[str]) -> list[str]:
    if _answered(vm) and _answered(vms):
        problems.append("Give vm (one VM) or vms (a wave), not both.")
        return []
    if _answered(vm):
        if not isinstance(vm, str):
            problems.append(f"vm must be one VM's name or id, a string; got {type(vm).__name__} ({vm!r}). "
                            "For several VMs, use vms.")
            return []
        return [vm]
    if not _answered(vms):
        problems.append("Name the VM: vm (one) or vms (a wave).")
        return []
    if isinstance(vms, str) and _json_list(vms):  # a list typed into a text field (an AWX survey): not names
        problems.append(f"vms is a list written as text ({vms[:80]!r}): give the names separated by commas "
                        "(web01,db01), or a list (-e '{\"vms\": [\"web01\", \"db01\"]}').")
        return []
    if isinstance(vms, str):
        names = [item.strip() for item in vms.split(",")]
        invisible = [name for name in names if name and not gate_request.visible(name)]
        if invisible:
            problems.append(f"vms has items of nothing visible: {', '.join(repr(name) for name in invisible)}.")
        elif not any(names):
            problems.append(f"vms names no VM: {vms!r}.")
        return [name for name in names if name]  # "a, b," names two
    if isinstance(vms, dict):
        problems.append(f"vms must be a list of VM names or ids, or names separated by commas; got a mapping ({vms!r}). "
                        "A wave sends every VM to the same destination or candidates: run one wave per destination.")
        return []
    if not isinstance(vms, (list, tuple)) or not vms:
        problems.append(f"vms must be a non-empty list of VM names or ids, or names separated by commas; got {vms!r}.")
        return []
    bad = [item for item in vms if not isinstance(item, str) or not gate_request.visible(item)]
    if bad:
        problems.append(f"vms has items that are not VM names: {', '.join(repr(item) for item in bad)}.")
        return []
    return list(vms)


def parse(raw: t.Mapping[str, t.Any], inventory: t.Collection[str], group_hosts: t.Sequence[str]) -> WaveRequest:
    """The wave from migrate.yml's extra vars; `group_hosts`: the inventory group hyperv (default candidates).

    With `drain` (a host to empty for maintenance), the wave is every running VM of that host, found when it runs:
    no vm or vms then, the host is every VM's source, and the candidates are the group's other hosts by default."""
    problems: list[str] = []
    drain = raw.get("drain") if _answered(raw.get("drain")) else None
    if drain is not None:
        vms = _drain_names(drain, raw, inventory, problems)
        group_hosts = [host for host in group_hosts if host != drain]
        drain = drain if not problems else None  # said once, as drain, not again as the wave's source
    else:
        vms = _vm_names(raw.get("vm"), raw.get("vms"), problems)
    reason = raw.get("override_reason")
    options = {
        "source": drain if drain is not None else raw.get("source"),
        "destination": raw.get("destination"),
        "candidates": raw.get("candidates") if _answered(raw.get("candidates")) or raw.get("candidates") == [] else None,
        "search_hosts": list(group_hosts),
        "mode": raw.get("mode") if _answered(raw.get("mode")) else DEFAULTS["mode"],
        "override_reason": reason if reason != "" else None,  # AWX's unanswered question; a blank one is refused
        "limit_wait": raw.get("limit_wait") if _answered(raw.get("limit_wait")) else DEFAULTS["limit_wait"],
        "limit_poll": raw.get("limit_poll") if _answered(raw.get("limit_poll")) else DEFAULTS["limit_poll"],
        "migration_type": raw.get("migration_type") if _answered(raw.get("migration_type")) else DEFAULTS["migration_type"],
        "destination_path": raw.get("destination_path"),
        "memory_reserve_mb": raw.get("memory_reserve_mb"),
    }
    if options["candidates"] is None and not _answered(options["destination"]):
        options["candidates"] = list(group_hosts) or None  # by default, every host of group hyperv
        options["candidates_by_default"] = True  # for a clustered VM: the other nodes of its cluster
    try:  # the gate's own rules, once for the wave (each VM's gate applies them again)
        gate_request.parse({**options, "vm": vms[0] if vms else "?"}, inventory, prefix="")
    except gate_request.RequestError as exc:
        problems += [problem for problem in exc.problems if problem not in problems]
    given = raw.get("move_timeout") if _answered(raw.get("move_timeout")) else DEFAULTS["move_timeout"]
    move_timeout = _whole_number(given)
    if move_timeout is None or move_timeout < 1:
        shown = given if move_timeout is None else move_timeout
        problems.append(f"move_timeout must be a whole number of seconds, at least 1; got {shown!r}.")
    if problems:
        raise WaveRequestError(problems, drain=_answered(raw.get("drain")))
    return WaveRequest(tuple(vms), options, t.cast(int, move_timeout), drain)


def _drain_names(drain: t.Any, raw: t.Mapping[str, t.Any], inventory: t.Collection[str], problems: list[str]) -> list[str]:
    """A drain names its host, and nothing else picks the VMs: the host's running VMs are the wave."""
    if not isinstance(drain, str) or drain not in inventory:
        problems.append(f"drain must be the inventory name of the host to empty, got {describe(drain)}."
                        + (gate_request.inventory_hint(drain, inventory) if isinstance(drain, str) else ""))
    for name in ("vm", "vms", "source"):
        if _answered(raw.get(name)):
            problems.append(f"drain moves every running VM of its host: give drain alone, without {name}.")
    return ["?"]  # a stand-in for the gate's rules; the running VMs are listed when the wave runs


def _json_list(text: str) -> bool:
    """Whether text is a JSON list of strings (no VM name is, and names with brackets alone stay names)."""
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def drain_wave(request: WaveRequest, vms: t.Sequence[t.Mapping[str, t.Any]]) -> WaveRequest:
    """The wave of a drain: the running VMs of the host ({id, name, state_name}), each by its name when no other VM
    of the host has it, else by its id."""
    running = [vm for vm in vms if vm.get("state_name") == "Running"]
    names = [str(vm.get("name") or "").lower() for vm in vms]
    return request.with_vms(str(vm["name"]) if vm.get("name") and names.count(str(vm["name"]).lower()) == 1
                            else str(vm["id"]) for vm in running)


def needed_mb(decision: t.Mapping[str, t.Any]) -> int | None:
    """The memory the decided VM needs on a destination, as the gate recorded it (checks.memory), or None."""
    figures = ((decision.get("checks") or {}).get("memory") or {}).values()
    return next((item["needed_mb"] for item in figures if item.get("needed_mb") is not None), None)


def memory_for_vms(decisions: t.Sequence[t.Mapping[str, t.Any]]) -> dict[str, int | None]:
    """Each host's memory for VMs (free, less its reserve) as the gates read it, from their decisions' figures."""
    for_vms: dict[str, int | None] = {}
    for decision in decisions:
        for host, figures in ((decision.get("checks") or {}).get("memory") or {}).items():
            if figures.get("free_mb") is not None and host not in for_vms:
                for_vms[host] = figures["free_mb"] - figures["reserve_mb"]
    return for_vms


def room_plan(decisions: t.Sequence[t.Mapping[str, t.Any]], for_vms: t.Mapping[str, int | None]
              ) -> tuple[dict[str, str], list[str], dict[str, int | None]]:
    """Where the allowed VMs fit together, in the wave's order: each to the equally good destination with the most
    memory left (as the queue will send it). (VM -> destination, the VMs left without room, each host's memory for
    VMs afterwards); a host whose figure is unknown is not counted. The N-1 question before patching a host."""
    left = dict(for_vms)
    placed: dict[str, str] = {}
    homeless: list[str] = []
    for d in decisions:
        if not d.get("allowed") or d.get("verdict") == "already_there":
            continue
        needed = needed_mb(d)
        options = [host for host in model.equally_good(d) if left.get(host) is None or needed is None or left[host] >= needed]
        if not options:
            homeless.append(d["vm"])
            continue
        host = max(options, key=lambda name: left.get(name) or 0)
        placed[d["vm"]] = host
        if needed is not None and left.get(host) is not None:
            left[host] = t.cast(int, left[host]) - needed
    return placed, homeless, left


def plan_lines(host: str, decisions: t.Sequence[t.Mapping[str, t.Any]], left: t.Sequence[t.Mapping[str, t.Any]],
               for_vms: t.Mapping[str, int | None] | None = None) -> list[str]:
    """The plan of a drain, before anything moves: where each running VM goes, which can go nowhere and why, the
    VMs that stay because they are not running, and whether the other hosts have the memory for them all
    (`for_vms`: each host's memory for VMs before the drain)."""
    placed, homeless, after = room_plan(decisions, for_vms or {})
    going = [d for d in decisions if d.get("allowed") and d.get("verdict") != "already_there" and d["vm"] not in homeless]
    stuck = [d for d in decisions if not d.get("allowed")]
    count = f"{len(decisions)} running VM{'' if len(decisions) == 1 else 's'}"
    lines = [f"Drain {host}: {count}; {len(going)} can move, {len(stuck) + len(homeless)} can go nowhere."]
    lines += [f"  {d['vm']} -> {placed.get(d['vm'], d['destination'])}" for d in going]
    lines += [f"  {name}: can go nowhere (no room left for it once the others moved)" for name in homeless]
    for d in stuck:
        first = (d.get("reasons") or [{"message": d.get("message", "")}])[0]
        lines.append(f"  {d['vm']}: can go nowhere ({len(d.get('reasons') or [])} reasons; first: {first['message']})")
    if left:
        lines.append(f"  Not running, left on {host}: " + ", ".join(f"{vm.get('name')} ({vm.get('state_name')})" for vm in left))
    known = {name: mb for name, mb in after.items() if mb is not None and name != host and for_vms and for_vms.get(name) is not None}
    if known:
        verdict = "the other hosts can hold every VM that can move" if not homeless else \
            f"the other hosts cannot hold {', '.join(homeless)}"
        lines.append(f"  Room (memory for VMs, less each host's reserve), before -> after the drain: {verdict}.")
        lines += [f"    {name}: {t.cast(t.Mapping, for_vms)[name]} MB -> {mb} MB" for name, mb in sorted(known.items())]
    return lines


def held_by_cluster_drain(decisions: t.Sequence[t.Mapping[str, t.Any]]) -> str | None:
    """Why a failover-cluster node's drain moves nothing: it is drained whole or not at all, as Suspend-ClusterNode
    -Drain does, so a VM that can go nowhere (and is not overridden) holds every move back. None: it may go on."""
    decisions = list(decisions)
    homeless = room_plan(decisions, memory_for_vms(decisions))[1]  # allowed one by one, yet no room for all of them
    stuck = [d["vm"] for d in decisions if not d.get("allowed")] + homeless
    if not stuck:
        return None
    return (f"Nothing was moved: a cluster node is drained whole or not at all, and {', '.join(stuck)} can go nowhere "
            "(see above). Act on the reasons, or run again with override_reason= to move them anyway.")


def all_moved(entries: t.Sequence[t.Mapping[str, t.Any]]) -> bool:
    """Every VM of the wave moved (or was already there), none stopped or failed."""
    for entry in entries:
        decision = entry.get("decision") or {}
        move = decision.get("move") or {}
        if entry.get("error") or not decision.get("allowed") or move.get("failed"):
            return False
    return True


def _whole_number(value: t.Any) -> int | None:
    """An integer, or a string of one (as -e sends it); None for anything else (a boolean, 2.5, "ten")."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def vm_key(name: str) -> str:
    """How Hyper-V tells VMs apart in a request: names without case, ids without braces or case."""
    return (name[1:-1] if name.startswith("{") and name.endswith("}") else name).lower()


def plan(request: WaveRequest, found: t.Mapping[str, list[t.Mapping[str, t.Any]]] | None) -> list[dict[str, t.Any]]:
    """One entry per VM of the wave, each gated once: {vm, source}.

    `found`: inventory host -> the VMs on it ({id, name}), when the wave was looked for (several VMs, no source);
    a VM found on exactly one host is gated there and known by its id, so that naming it twice (by name and by
    id) gates it once."""
    where: dict[str, list[tuple[str, str]]] = {}
    for host, systems in (found or {}).items():
        for system in systems:
            vm_id = str(system.get("id") or "").lower()
            for key in dict.fromkeys([vm_id, str(system.get("name") or "").lower()]):
                where.setdefault(key, []).append((host, vm_id))
    entries, keys = [], set()
    for name in request.vms:
        seen = where.get(vm_key(name), [])
        key = seen[0][1] if len(seen) == 1 else vm_key(name)
        if key in keys:
            continue
        keys.add(key)
        source = request.gate["source"] if _answered(request.gate["source"]) else (seen[0][0] if len(seen) == 1 else "")
        entries.append({"vm": name, "source": source})
    return entries


def stopped(vm: str, step: str, message: str) -> dict[str, str]:
    """Where a VM's gate or move stopped on an error: the step, its message, and what to do, for people."""
    return {"task": step, "msg": message,
            "message": f'STOPPED: the gate of {vm} stopped at "{step}": {message}\n'
                       f"Nothing after that step ran for {vm}. Check where it is (Get-VM) before running again."}


def report(entries: list[dict[str, t.Any]], mode: str, check_mode: bool) -> dict[str, t.Any]:
    """Every VM's decision (a stopped gate as verdict 'error'), a line per VM, and the failure message or None.

    `entries`: [{vm, decision (or None), error (stopped(), or None)}] in the wave's order."""
    decisions: dict[str, dict[str, t.Any]] = {}
    lines, unmoved = [], []
    for entry in entries:
        name, decision, error = entry["vm"], entry.get("decision"), entry.get("error")
        if decision is None or error is not None:
            error = error or {"task": "the wave", "msg": "its gate did not run",
                              "message": f"STOPPED: the gate of {name} did not run. Check where it is (Get-VM) "
                                         "before running again."}
            decision = {**(decision or {"vm": name, "verdict": "error", "allowed": False, "moved": False, "move": None,
                                        "mode": mode, "check_mode": check_mode,
                                        "reasons": [{"host": "", "role": "gate", "check": error["task"],
                                                     "message": error["msg"]}]}),
                        "error": error, "message": error["message"]}
        decisions[name] = decision
        lines.append(f"{name}: {summary_line(decision)}")
        move = decision.get("move")
        if decision.get("error") or not decision.get("allowed") or (move and move.get("failed")):
            unmoved.append(name)
    message = None
    if unmoved:
        parts = [f"{len(unmoved)} of {len(entries)} VMs did not move."] if len(entries) > 1 else []
        message = "\n\n".join(parts + [decisions[name]["message"] for name in unmoved])
    return {"decisions": decisions, "summary": lines, "unmoved": unmoved, "message": message}


def summary_line(d: t.Mapping[str, t.Any]) -> str:
    """What became of one VM, in a few words."""
    move = d.get("move")
    override = " (override)" if d.get("override") else ""
    if d.get("error"):
        return f'STOPPED at "{d["error"]["task"]}": ' + re.sub(r"\s*\n\s*", " ", d["error"]["msg"])
    if move and move.get("failed"):
        return f"MOVE FAILED from {d['source']} to {d['destination']}"
    if d.get("moved"):
        return f"MOVED from {d['source']} to {d['destination']}{override}"
    if d.get("verdict") == "already_there":
        return f"already on {d['destination']}"
    if not d.get("allowed"):
        count = len(d.get("reasons") or [])
        return f"BLOCKED ({count} reason{'' if count == 1 else 's'})"
    if d.get("check_mode") and d.get("mode") == "move":
        return f"would move from {d['source']} to {d['destination']} (check mode)"
    if move and not move.get("changed"):  # allowed, but someone else's migration got there first
        return f"NOTHING TO MOVE: on {(move.get('final') or {}).get('host') or d['destination']} already"
    return f"ALLOWED from {d['source']} to {d['destination']}{override}"
