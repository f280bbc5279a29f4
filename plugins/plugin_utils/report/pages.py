# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report's pages: fleet facts in, the HTML page, the Markdown and the facts file out, as strings.

engine/fleet.py computes what the report shows; this lays it out with plain Jinja2 (the templates next to this file),
so the million cells of a large fleet never pass through Ansible's templating. Autoescape is on for both templates:
every value is HTML-escaped where it is written (Markdown renderers pass raw HTML through too), and the Markdown's
`md` filter also escapes the characters Markdown and its tables give a meaning to. Every value is also shown as it is
(shown(), the environment's finalize): a line break in a name folds to a space, so it can neither end a table's row
nor add a line to a tooltip, and a character that does not show (a control, a bidi override, a zero-width space) is
written as its escape, so it can neither reorder the text around it nor make two names look alike. Pure: no
Ansible, and no I/O but reading the templates.
"""

from __future__ import annotations

import functools
import json
import os
import re
import typing as t
import unicodedata
from collections.abc import Mapping

import jinja2
from markupsafe import Markup, escape

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine import fleet as fleet_engine
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.reserve import DEFAULT_RESERVE_MB
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.vectors import VectorInputError, describe

DEFAULT_TITLE = "Hyper-V fleet: live-migration compatibility"
TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
HTML_TEMPLATE = "fleet_report.html.j2"
MARKDOWN_TEMPLATE = "fleet_report.md.j2"
# Characters Markdown (and its tables: |, GFM: ~) gives a meaning to; # too: a heading's last word would be taken
# for its closing sequence.
_MARKDOWN_ESCAPES = {ord(char): "\\" + char for char in "\\|*_`[]~#"}
# What a reader cannot see: line breaks (every one str.splitlines and Unicode know, not only \n and \r), tabs,
# controls, format characters (bidi overrides and isolates, zero-width spaces, BOM) and lone surrogates.
_LINE_BREAKS = frozenset("\t\n\v\f\r\x1c\x1d\x1e\x85\u2028\u2029")
_NOT_SHOWN = ("Cc", "Cf", "Cs")
_SUSPECT = re.compile(r"[^ -~]")  # the printable ASCII needs no look
_SURROGATE = re.compile("[\ud800-\udfff]")


class Pages(t.NamedTuple):
    """The report's content (fleet_report's result) and its files' text."""

    report: dict[str, t.Any]
    html: str
    markdown: str
    facts: str


def mb(value: t.Any) -> str:
    """A figure in MB as the pages write it: "8,192 MB"; None: "not read"."""
    return "not read" if value is None else f"{value:,} MB"


def _shown_char(match: re.Match) -> str:
    char = match.group()
    if char in _LINE_BREAKS:
        return " "
    if unicodedata.category(char) in _NOT_SHOWN:
        return f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}"
    return char


def shown(value: t.Any) -> t.Any:
    """A value as the pages write it (the environment's finalize): line breaks folded to a space, and what does not
    show written as its escape (U+202E as \\u202e). Markup stays Markup: the escapes add nothing HTML reads."""
    if not isinstance(value, str):
        return value
    text = _SUSPECT.sub(_shown_char, value)
    return Markup(text) if isinstance(value, Markup) else text  # nosec B704: value was Markup already


def md(text: t.Any) -> Markup:
    """Text from hosts and VMs for the Markdown: the Markdown characters backslash-escaped, then HTML-escaped (in
    this order, so that the # of an entity such as &#34; stays as it is)."""
    return escape(str(text).translate(_MARKDOWN_ESCAPES))


@functools.lru_cache(maxsize=None)
def environment() -> jinja2.Environment:
    """One Jinja2 environment for both templates: autoescape on; trim_blocks and the trailing newline as Ansible's
    template module renders, which these templates were written for."""
    env = jinja2.Environment(  # nosec B701: autoescape is on
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        finalize=shown,
    )
    env.filters["md"] = md
    env.filters["mb"] = mb
    return env


def fleet_from_file(data: t.Any, where: str = "facts file") -> dict[str, t.Any]:
    """{hosts, vms} from what a facts file holds: a saved fleet-facts.json ({hosts, vms}) or a file with sample_hosts
    and sample_vms (playbooks/files/sample_facts.yml)."""
    if not isinstance(data, Mapping):
        raise VectorInputError(f"{where}: expected a mapping with 'hosts' and 'vms' (or 'sample_hosts' and 'sample_vms'), "
                               f"got {type(data).__name__} {describe(data)}")
    if "sample_hosts" in data:
        return {"hosts": data["sample_hosts"], "vms": data.get("sample_vms") or {}}
    return dict(data)


def facts_text(fleet: Mapping[str, t.Any]) -> str:
    """The facts file: the fleet as JSON, keys sorted (as to_nice_json writes it), to render it again offline. A lone
    surrogate (a facts file may hold one, as \\ud800) has no UTF-8: it stays a JSON escape, and reads back the same."""
    text = json.dumps(fleet, indent=4, sort_keys=True, ensure_ascii=False) + "\n"
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def render(report: Mapping[str, t.Any], template: str, title: str, source: str, generated: str) -> str:
    """One template (HTML_TEMPLATE or MARKDOWN_TEMPLATE) with fleet_report's result."""
    return environment().get_template(template).render(
        fleet=report, fleet_title=title, fleet_source=source, fleet_generated=generated)


def pages(fleet: Mapping[str, t.Any], title: str, source: str, generated: str, plan: t.Any = None,
          memory_reserve_mb: t.Any = DEFAULT_RESERVE_MB) -> Pages:
    """Everything the report writes, from {hosts, vms} (what the fleet_report filter takes), and optionally a planned
    wave (the gate's decisions, migration_gate_decisions). Raises VectorInputError for input the engine refuses,
    naming where."""
    report = fleet_engine.fleet_report(fleet, plan, memory_reserve_mb)
    return Pages(
        report=report,
        html=render(report, HTML_TEMPLATE, title, source, generated),
        markdown=render(report, MARKDOWN_TEMPLATE, title, source, generated),
        facts=facts_text(fleet),
    )


PLAN_HOST_KEYS = ("free_mb", "in_mb", "out_mb", "after_mb", "after_for_vms_mb", "overfilled", "over_mb")


def summary_lines(report: Mapping[str, t.Any]) -> list[str]:
    """The summary as lines for a person (the play's output, AWX's job output), the names shown as the pages show
    them: a bidi override or a line break in a name neither reorders nor splits the line."""
    summary = report["summary"]

    def names(items: t.Iterable[t.Any]) -> str:
        return ", ".join(str(shown(str(item))) for item in items) or "none"

    planned = summary["planned_moves"]
    return [
        f"{summary['vms']} VMs x {summary['hosts']} hosts: {summary['compatible_pairs']} of {summary['pairs']} pairs "
        "compatible",
        "host groups: " + " | ".join(names(group["hosts"]) for group in report["groups"]),
        "fit every host: " + names(summary["roaming_vms"]),
        f"no host can run: {names(summary['vms_without_host'])}; fit only their own host: {names(summary['pinned_vms'])}",
        "cannot take a live migration now: " + names(summary["hosts_not_receiving"]),
        f"less memory free than the reserve of {report['memory_reserve_mb']} MB: {names(summary['hosts_in_reserve'])}",
        "no planned wave" if planned is None else
        f"planned wave: {planned} moves; overfilled: {names(summary['hosts_overfilled'])}",
    ]


def artifact_summary(report: Mapping[str, t.Any]) -> dict[str, t.Any]:
    """What a run returns of the report: the summary (as data, and as lines to show), the hosts of each group and,
    with a plan, each host's figures; never the matrix."""
    plan = report.get("plan")
    return {
        "summary": report["summary"],
        "lines": summary_lines(report),
        "groups": [group["hosts"] for group in report["groups"]],
        "blocked_entries": len(report["blocked"]),
        "memory_reserve_mb": report["memory_reserve_mb"],
        "plan": None if plan is None else {
            "hosts": {host["name"]: {key: host[key] for key in PLAN_HOST_KEYS} for host in plan["hosts"]},
            "overfilled_hosts": plan["overfilled_hosts"],
            "moves": len(plan["moves"]),
            "blocked": [entry["vm"] for entry in plan["blocked"]],
        },
    }
