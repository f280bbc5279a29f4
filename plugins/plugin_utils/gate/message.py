# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The decision told to a person (a terminal, AWX's job output): a headline, plain sentences, one reason a line."""

from __future__ import annotations

import typing as t

# The lines of a move's outcome start with one of these words (the role shows only those after a move).
OUTCOME_WORDS = ("MOVED:", "MOVE FAILED:", "CHECK MODE:", "NOTHING TO MOVE:")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def headline(decision: t.Mapping[str, t.Any]) -> str:
    d = decision
    vm = d["vm_name"] or d["vm"]
    count = _plural(len(d["reasons"]), "reason")
    verdict, outcome = d["verdict"], d["outcome"]
    if verdict == "blocked" and outcome == "ambiguous":
        return f"BLOCKED: {d['vm']} names more than one VM, and the gate moves exactly one. Nothing was moved."
    if verdict == "blocked" and outcome == "not_found":
        if not any(item["role"] == "request" for item in d["reasons"]):
            # no host it may be on could be read: the VM was not looked for, rather than not found
            return f"BLOCKED: {d['vm']} could not be looked for: no host it may be on could be read ({count}). Nothing was moved."
        return f"BLOCKED: {d['vm']} was not found. Nothing was moved."
    if verdict == "blocked" and any(item["check"] == "reading the VM" for item in d["reasons"]):
        return (f"BLOCKED: {vm} was found on {d['source']}, but what the host says of it could not be read "
                f"({count}). Nothing was moved.")
    if verdict == "blocked" and d["destination"]:
        return f"BLOCKED: {vm} may not move from {d['source']} to {d['destination']} ({count}). Nothing was moved."
    if verdict == "blocked":
        return f"BLOCKED: no candidate can take {vm} from {d['source']} ({count}). Nothing was moved."
    if verdict == "overridden":
        return (f"OVERRIDDEN: {vm} is blocked from moving from {d['source']} to {d['destination']} ({count}), "
                f"and allowed by an override with the reason: {d['override']['reason']}")
    if verdict == "already_there":
        return f"ALREADY THERE: {vm} is already on {d['destination']}; nothing to do."
    return f"ALLOWED: {vm} may move from {d['source']} to {d['destination']}."


def compose(decision: t.Mapping[str, t.Any]) -> str:
    """The whole message: headline, the VM, the wait, the candidates, the reasons per host, what to do, the move."""
    d = decision
    vm = d["vm_name"] or d["vm"]
    lines = [headline(d)]
    if d["vm_id"] is not None:
        facts = f"VM: {vm} (id {d['vm_id']}), {d['state']}"
        if d["configuration_version"]:
            facts += f", configuration version {d['configuration_version']}"
        lines.append(facts + (f", on {d['source']}." if d["verdict"] != "already_there" else "."))
    if d.get("cluster"):
        lines.append(_cluster_line(d["cluster"]))
    waited = d["checks"].get("limit_wait") if d.get("checks") else None
    if waited:
        lines.append(f"{'Waited' if waited['freed'] else 'Still no free slot after waiting'} "
                     f"{float(waited['seconds']):.1f} s for a free live-migration slot on {waited['host']}.")
    if d["selection"] and d["verdict"] != "blocked":
        lines.append("Candidates, best first:")
        lines += [f"  - {item['host']}: {item['why']}" for item in d["selection"]]
    if d["reasons"]:
        lines.append(f"{'Set aside by the override' if d['verdict'] == 'overridden' else 'Reasons'}, per host:")
        for host in dict.fromkeys(item["host"] for item in d["reasons"]):
            about = [item for item in d["reasons"] if item["host"] == host]
            lines.append(f"  {host} ({about[0]['role']}):" if host else "  The request:")
            lines += [f"    - [{item['check']}] {item['message']}" for item in about]
    if d["warnings"]:
        lines.append("Warnings:")
        lines += [f"  - {item['host']}: {item['message']}" for item in d["warnings"]]
    if d["verdict"] == "blocked":
        lines.append(_what_to_do(d))
    if d.get("move") is not None:
        lines.append(_move_outcome(d))
    return "\n".join(lines)


def _cluster_line(cluster: t.Mapping[str, t.Any]) -> str:
    nodes = ", ".join(f"{node} {state}" for node, state in cluster["nodes"].items())
    return (f"Cluster: a role of {cluster['name']} (group {cluster['group']}, owned by {cluster['owner_node']}); "
            f"nodes: {nodes}. It moves through the cluster.")


def _what_to_do(d: t.Mapping[str, t.Any]) -> str:
    if d["outcome"] == "ambiguous":
        return "What to do: name the VM by its id (one of those above)."
    if any(item["check"] == "reading the VM" for item in d["reasons"]):
        return ("What to do: the host sent data on the VM that the gate cannot use (the reason above says which). "
                "Look at the VM on its host (Get-VM, Get-VMHost) and at the host's WMI provider, then run again.")
    if d["outcome"] == "not_found":
        return ("What to do: name the VM as Get-VM shows it, or by its id, and make sure the host it runs on is in the "
                "inventory; migration_gate_source (source= with playbooks/migrate.yml) names that host.")
    choose = ("; or let the gate choose among several hosts (migration_gate_candidates; candidates= with "
              "playbooks/migrate.yml)") if d["selection"] is None else ""
    return (f"What to do: act on the reasons above, then run again{choose}; or, to move despite them and take the "
            "risk, run again with a written reason in migration_gate_override_reason (override_reason= with "
            "playbooks/migrate.yml), which is recorded with the decision.")


def _move_outcome(d: t.Mapping[str, t.Any]) -> str:
    move = d["move"]
    if move["failed"]:
        return f"MOVE FAILED: {move['msg']}"
    if d["check_mode"]:
        return f"CHECK MODE: {move['msg']} Nothing was moved."
    if move["changed"]:
        final = move.get("final") or {}
        return f"MOVED: {move['msg']} It is {final.get('state_name', '?')} on {final.get('host', '?')} now."
    return f"NOTHING TO MOVE: {move['msg']}"


def override_announcement(decision: t.Mapping[str, t.Any]) -> list[str]:
    """What a run shows when an override lets a blocked VM move."""
    override = decision["override"]
    return [
        f"WARNING: the gate's block on {decision['vm_name'] or decision['vm']} is OVERRIDDEN.",
        f"{override['overridden_reasons']} blocking reason(s) are set aside on the strength of this written reason:",
        f"  {override['reason']}",
        "The override and every reason it sets aside are recorded in migration_gate_decision and in the run's stats.",
    ]
