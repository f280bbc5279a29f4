# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report's pages laid out in Python: the same pages as before, every value escaped, the files' text."""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.vectors import VectorInputError
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.report import pages
from ansible_collections.vmgate.hyperv.tests.unit.plugins.plugin_utils.helpers import DETERMINISTIC, EQUAL, SUBSET, vec

GEN1 = [vec(1, SUBSET, 0x3FFFFFFFFF), vec(2, SUBSET, 7), vec(3, EQUAL, 64)]
GEN2 = [vec(1, SUBSET, 0xFFFFFFFFFFF), vec(2, SUBSET, 231), vec(3, EQUAL, 64)]
LEGACY = [vec(1, SUBSET, 0xFFFFFF), vec(2, SUBSET, 3), vec(3, EQUAL, 64)]
SQL = [vec(1, SUBSET, 0xFFFFFFFFFF), vec(2, SUBSET, 7), vec(3, EQUAL, 64)]
# playbooks/files/sample_facts.yml, as a saved fleet-facts.json holds it
SAMPLE = {
    "hosts": {"hv-gen1-a": {"vectors": GEN1}, "hv-gen1-b": {"vectors": GEN1},
              "hv-gen2-a": {"vectors": GEN2}, "hv-gen2-b": {"vectors": GEN2}},
    "vms": {"web01": {"host": "hv-gen2-a", "vectors": GEN2}, "sql01": {"host": "hv-gen2-b", "vectors": SQL},
            "legacy01": {"host": "hv-gen2-a", "vectors": LEGACY}},
}
HOSTILE = '<script>alert("vm")</script>'
# The elements the HTML template writes; a value that came through as markup would add another
TEMPLATE_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "div", "b", "span", "a",
                 "table", "thead", "tbody", "tr", "th", "td", "br", "code", "ul", "li"}


def render(fleet, title="Fleet", source="facts file x.json"):
    return pages.pages(fleet, title, source, "2025-01-01 00:00 UTC")


class Tags(HTMLParser):
    """The elements and attribute values of a page, as a browser's parser reads them."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.tags, self.attributes, self.text = set(), [], []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes.extend(value for _name, value in attrs if value)

    def handle_data(self, data):
        self.text.append(data)


def test_the_pages_of_the_sample_fleet():
    result = render(SAMPLE)
    html, markdown = result.html, result.markdown
    assert "<b>8 / 12</b>VM-host pairs compatible" in html
    assert ('<td class="cell no" title="web01 cannot run on hv-gen1-a:&#10;- The VM uses ProcessorFeatures (vector 1) bits '
            'the host lacks: 0xFC000000000 (bits 38, 39, 40, 41, 42, 43).&#10;- The VM uses ProcessorXSave (vector 2) bits the '
            'host lacks: 0xE0 (bits 5, 6, 7)."><a href="#b-2">') in html
    assert '<td class="cell ok current" title="web01 can run on hv-gen2-a (it runs there)">&#9679; <span class="sym">' in html
    assert "<td>ProcessorXSave</td><td>2</td><td>Subset</td><td><code>0x7</code></td>" in html
    assert html.startswith("<!DOCTYPE html>") and html.endswith("</html>\n")
    assert "| web01 |  | ✗ 2 | ✗ 2 | ● ✓ | ✓ |" in markdown
    assert "| 1 | hv-gen1-a, hv-gen1-b | legacy01 |" in markdown
    assert "### ✗ web01 cannot run on group 1: hv-gen1-a, hv-gen1-b\n\n- The VM uses ProcessorFeatures" in markdown
    assert markdown.startswith("# Fleet\n\nSource: facts file x.json; generated 2025-01-01 00:00 UTC.\n")
    assert Tags(html).tags <= TEMPLATE_TAGS
    assert json.loads(result.facts) == SAMPLE and result.facts.endswith("}\n")


def test_the_hosts_table_and_the_warnings_from_the_migration_service():
    fleet = {
        "hosts": {"hv-off": {"vectors": GEN1, "migration": {"live_migration_enabled": False, "networks": 1,
                                                            "active_vm_migrations": 0, "max_vm_migrations": 2}},
                  "hv-on": {"vectors": GEN1, "migration": {"live_migration_enabled": True, "networks": 2,
                                                           "active_vm_migrations": 1, "max_vm_migrations": 4}},
                  "hv-unread": {"vectors": GEN2}},
        "vms": {"web01": {"host": "hv-off", "state": "Running", "vectors": GEN1}},
    }
    result = render(fleet)
    assert 'hv-off<br><span class="warn" title="hv-off cannot take a live migration now' in result.html
    assert '<td class="no">&#10007; off</td>' in result.html and '<td class="ok">&#10003; on</td>' in result.html
    assert "<td>2</td>\n      <td>1 / 4</td>" in result.html
    assert '<td class="">not read</td>\n      <td>not read</td>\n      <td>? / ?</td>' in result.html
    assert "| hv-off (g1, ⚠ no live migration) |" in result.markdown
    assert ("| hv-unread | 2 | standalone | not read | not read | ? / ? | not read / not read | not read | 0 MB | not read / 0 "
            "| none |") in result.markdown
    assert "Cannot take a live migration now (live migration off, or no migration network): hv-off." in result.html


def test_a_fleet_where_every_vm_fits_every_host_and_one_without_vms():
    every = render({"hosts": {"a": [vec(1, SUBSET, 15)], "b": [vec(1, SUBSET, 15)]}, "vms": {"x": [vec(1, SUBSET, 3)]}})
    assert "Every VM can run on every host." in every.html and "✓ Every VM can run on every host." in every.markdown
    empty = render({"hosts": {"a": [vec(1, SUBSET, 15)], "b": [vec(3, EQUAL, 64)]}, "vms": {}})
    assert "The hosts share no vector, so no VM is shown to fit them all." in empty.html
    assert "The hosts share no vector, so no VM is shown to fit them all." in empty.markdown


def test_every_value_from_hosts_and_vms_is_escaped():
    fleet = {
        "hosts": {"hv<b>&amp;": {"vectors": GEN1, "migration": {"live_migration_enabled": True, "networks": "<i>2</i>",
                                                                "active_vm_migrations": "<u>", "max_vm_migrations": 2}},
                  "hv-gen2-a": {"vectors": GEN2}},
        "vms": {HOSTILE: {"host": "hv-gen2-a", "state": "Running|*_`[x]<s>", "vectors": GEN2}},
    }
    result = render(fleet, title="<i>Fleet</i>", source='<img src=x onerror="alert(1)">')
    html, markdown = result.html, result.markdown
    for markup in ("<script", "<i>", "<u>", "<s>", "<img", "hv<b>"):
        assert markup not in html, markup
    assert "<" not in markdown
    assert "&lt;script&gt;alert(&#34;vm&#34;)&lt;/script&gt;" in html and "hv&lt;b&gt;&amp;amp;" in html
    assert "<title>&lt;i&gt;Fleet&lt;/i&gt;</title>" in html and "<td>&lt;i&gt;2&lt;/i&gt;</td>" in html
    parsed = Tags(html)
    assert parsed.tags <= TEMPLATE_TAGS
    assert "".join(parsed.text).count(HOSTILE) >= 2  # the row and the details, as text
    assert any(value.startswith(HOSTILE + " can run on") for value in parsed.attributes)  # a cell's title, as text
    assert "| &lt;script&gt;alert(&#34;vm&#34;)&lt;/script&gt; | Running\\|\\*\\_\\`\\[x\\]&lt;s&gt; |" in markdown
    assert "| hv&lt;b&gt;&amp;amp; | 2 | standalone | ✓ on | &lt;i&gt;2&lt;/i&gt; | &lt;u&gt; / 2 |" in markdown


@settings(DETERMINISTIC, max_examples=150)
@given(names=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=4, unique=True),
       hosts=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=3, unique=True),
       state=st.text(max_size=12), title=st.text(max_size=12))
def test_no_text_becomes_markup(names, hosts, state, title):
    fleet = {"hosts": {host: GEN1 if index % 2 else GEN2 for index, host in enumerate(hosts)},
             "vms": {name: {"host": hosts[0], "state": state, "vectors": GEN2} for name in names}}
    result = render(fleet, title=title, source=state)
    parsed = Tags(result.html)
    assert parsed.tags <= TEMPLATE_TAGS
    # a name reaches the reader as it is: a row heading per VM, a column heading per host
    for name in names:  # as the pages write it: line breaks folded, what does not show as its escape
        assert pages.shown(name) in "".join(parsed.text)
    assert "<" not in result.markdown  # HTML-escaped: no element a Markdown renderer would pass through
    # one line per table row (CommonMark ends a line at \n and \r), and escaped pipes keep the table's columns
    header = next(line for line in result.markdown.replace("\r", "\n").split("\n") if line.startswith("| VM | state |"))
    assert re.findall(r"\\.|\|", header).count("|") == 3 + len(hosts)  # VM, state and a column per host


def clustered(cluster="HVC", group="sql01", state="paused"):
    """SAMPLE's hosts as cluster HVC's nodes (hv-gen1-b standalone, hv-gen2-b paused), sql01 and web01 its roles."""
    fleet = json.loads(json.dumps(SAMPLE))
    for host, node_state in (("hv-gen1-a", "up"), ("hv-gen2-a", "up"), ("hv-gen2-b", state)):
        fleet["hosts"][host]["cluster"] = {"name": cluster, "node": host.upper(), "state": node_state}
    fleet["vms"]["sql01"]["cluster"] = {"cluster": cluster, "group": group, "owner_node": "HV-GEN2-B", "possible_owners": None}
    fleet["vms"]["web01"]["cluster"] = {"cluster": cluster, "group": "web", "owner_node": "HV-GEN2-A",
                                        "possible_owners": ["HV-GEN2-A", "HV-GEN2-B"]}
    return fleet


def test_the_failover_clusters_section_after_the_fleet_baseline():
    result = render(clustered())
    html, markdown = result.html, result.markdown
    # the fleet-wide baseline is no longer called the cluster baseline: each cluster has its own
    assert '<h2 id="baseline">Fleet baseline</h2>' in html and "## Fleet baseline\n" in markdown
    assert "Cluster baseline</h2>" not in html and "## Cluster baseline" not in markdown
    assert html.index('id="baseline"') < html.index('<h2 id="clusters">Failover clusters</h2>') < html.index('id="groups"')
    assert markdown.index("## Fleet baseline") < markdown.index("## Failover clusters") < markdown.index("## Host groups")
    assert '<div class="card"><b>1</b>failover clusters</div>' in html
    assert '<h3 id="cluster-1">Cluster HVC</h3>' in html
    assert '<tr><td>hv-gen2-b</td><td>HV-GEN2-B</td><td class="no">paused</td><td>sql01</td></tr>' in html
    assert ('<li><span class="no"><span class="sym">&#10007;</span> sql01</span> (group sql01, on hv-gen2-b): cannot run on '
            'hv-gen1-a; a drain of hv-gen2-b can move it to hv-gen2-a.</li>') in html
    assert "<p>Clustered VMs: sql01, web01." in html
    assert ("web01</span> (group web, on hv-gen2-a): <b>stuck</b>: a drain of hv-gen2-a has no node up it can move it to."
            "</li>") in html  # its other possible owner is paused
    assert "- ✗ **web01** (group web, on hv-gen2-a): **stuck**: a drain of hv-gen2-a has no node up it can move it to.\n" in markdown
    assert "Fit every node:</span> none. Not clustered, so a drain does not move them: legacy01." in html  # GEN2 VMs
    assert "<p>Standalone hosts (no failover cluster): hv-gen1-b.</p>" in html
    assert '<td><a href="#clusters">HVC</a> (paused)</td>' in html and "<td>standalone</td>" in html
    assert "| hv-gen2-b | HV-GEN2-B | paused | sql01 |" in markdown
    assert "- ✗ **sql01** (group sql01, on hv-gen2-b): cannot run on hv-gen1-a; a drain of hv-gen2-b can move it to hv-gen2-a.\n" in markdown
    assert "- cluster baseline: ProcessorFeatures Subset `0x3FFFFFFFFF`, ProcessorXSave Subset `0x7`, CacheLineFlushSize Equal `0x40`\n" in markdown
    assert "- **1** failover clusters; standalone hosts: hv-gen1-b" in markdown
    assert "| hv-gen2-b | 2 | HVC (paused) | not read |" in markdown and "| hv-gen1-b | 1 | standalone |" in markdown
    assert Tags(html).tags <= TEMPLATE_TAGS


def test_a_role_stuck_when_its_node_is_drained_and_owners_not_in_the_report():
    fleet = clustered(state="up")
    fleet["hosts"]["hv-gen2-a"]["cluster"]["state"] = "paused"  # sql01's only other node that fits it
    fleet["vms"]["sql01"]["cluster"]["possible_owners"] = ["HV-GEN1-A", "HV-GEN2-A", "HV-GEN2-B"]
    fleet["vms"]["web01"]["cluster"]["possible_owners"] = ["HV-GEN2-A", "HV-GEN2-B", "HV-GONE"]
    result = render(fleet)
    assert ("sql01</span> (group sql01, on hv-gen2-b): cannot run on hv-gen1-a; <b>stuck</b>: a drain of hv-gen2-b has no "
            "node up it can move it to.</li>") in result.html
    assert ('<span class="sym">?</span> web01</span> (group web, on hv-gen2-a): a drain of hv-gen2-a can move it to hv-gen2-b; '
            "possible owners not in this report, not checked: HV-GONE.</li>") in result.html  # not a failure: unknown
    assert "- ✗ **sql01** (group sql01, on hv-gen2-b): cannot run on hv-gen1-a; **stuck**: a drain of hv-gen2-b" in result.markdown
    assert ("- ? **web01** (group web, on hv-gen2-a): a drain of hv-gen2-a can move it to hv-gen2-b; possible owners not in "
            "this report, not checked: HV-GONE.\n") in result.markdown


def test_without_clusters_the_section_says_so():
    result = render(SAMPLE)
    assert "<p>No host of the report is a failover-cluster node.</p>" in result.html
    assert "## Failover clusters\n\nNo host of the report is a failover-cluster node.\n" in result.markdown
    assert "failover clusters</div>" not in result.html and "Standalone hosts" not in result.html
    fits = json.loads(json.dumps(SAMPLE))
    for host in fits["hosts"]:
        fits["hosts"][host]["cluster"] = {"name": "C", "node": host, "state": "up"}
    fits["vms"]["legacy01"]["cluster"] = {"cluster": "C", "group": "legacy01", "owner_node": "hv-gen2-a", "possible_owners": None}
    result = render(fits)
    assert "Every clustered VM can run on every node of its possible owners, and a drain can move it." in result.html
    assert "- ✓ every clustered VM can run on every node of its possible owners, and a drain can move it\n" in result.markdown


@pytest.mark.parametrize("hostile", [HOSTILE, '<img src=x onerror="alert(1)">|*_`[x]', "a\nb\r<b>&amp;"])
def test_hostile_cluster_group_node_and_state_names_are_escaped(hostile):
    fleet = clustered(cluster=hostile, group=hostile, state=hostile)
    fleet["hosts"]["hv-gen1-a"]["cluster"]["node"] = hostile
    fleet["vms"]["web01"]["cluster"]["possible_owners"] = [hostile, "HV-GEN2-B", hostile + "-gone"]
    result = render(fleet)
    html, markdown = result.html, result.markdown
    parsed = Tags(html)
    assert parsed.tags <= TEMPLATE_TAGS
    assert "<script" not in html and "<img" not in html and "<b>&amp;" not in html
    assert "<" not in markdown
    text = "".join(parsed.text)
    shown = pages.shown(hostile)  # as the pages write every value: a line break folded to a space
    assert "Cluster " + shown in text  # the heading, as text
    assert text.count("group " + shown) == 1  # sql01's entry, as text
    markdown_heading = next(line for line in markdown.split("\n") if line.startswith("### Cluster "))
    assert markdown_heading == "### Cluster " + str(pages.shown(pages.md(hostile)))  # one line: the heading's own
    clusters = markdown[markdown.index("## Failover clusters"):]
    node_row = next(line for line in clusters.split("\n") if line.startswith("| hv-gen1-a | "))
    assert re.findall(r"\\.|\|", node_row).count("|") == 5  # escaped pipes keep the table's four columns


@settings(DETERMINISTIC, max_examples=100)
@given(cluster=st.text(min_size=1, max_size=12), group=st.text(max_size=12), state=st.text(max_size=12))
def test_no_cluster_text_becomes_markup(cluster, group, state):
    result = render(clustered(cluster=cluster, group=group, state=state))
    assert Tags(result.html).tags <= TEMPLATE_TAGS
    assert "<" not in result.markdown
    assert len([line for line in result.markdown.split("\n") if line.startswith("### Cluster ")]) == 1


def test_md_escapes_markdown_then_html_and_the_pages_fold_its_line_breaks():
    escaped = pages.md('a|b*c_d`e[f]g\\h\ni<j>&"\r#')
    assert escaped == 'a\\|b\\*c\\_d\\`e\\[f\\]g\\\\h\ni&lt;j&gt;&amp;&#34;\r\\#'
    assert pages.shown(escaped) == 'a\\|b\\*c\\_d\\`e\\[f\\]g\\\\h i&lt;j&gt;&amp;&#34; \\#'  # the environment's finalize
    assert pages.md(42) == "42"


def test_autoescape_is_on_and_the_templates_are_next_to_the_code():
    env = pages.environment()
    assert env.autoescape is True
    assert env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"
    for name in (pages.HTML_TEMPLATE, pages.MARKDOWN_TEMPLATE):
        assert os.path.isfile(os.path.join(pages.TEMPLATES, name))


def test_a_facts_file_saved_or_with_sample_hosts():
    assert pages.fleet_from_file(SAMPLE) == SAMPLE
    sample = {"sample_hosts": SAMPLE["hosts"], "sample_vms": SAMPLE["vms"], "other": 1}
    assert pages.fleet_from_file(sample) == SAMPLE
    assert pages.fleet_from_file({"sample_hosts": SAMPLE["hosts"]}) == {"hosts": SAMPLE["hosts"], "vms": {}}
    with pytest.raises(VectorInputError, match=r"facts file x: expected a mapping with 'hosts' and 'vms'"):
        pages.fleet_from_file(["hosts"], "facts file x")


def test_bad_input_is_named_as_the_filter_names_it():
    with pytest.raises(VectorInputError, match=r"fleet.hosts\['hv01'\].vectors\[0\]: missing 'compare_operation'"):
        render({"hosts": {"hv01": [{"vector_id": 1}]}, "vms": {}})


def test_the_summary_a_run_returns_holds_no_matrix():
    result = render(SAMPLE)
    summary = pages.artifact_summary(result.report)
    assert set(summary) == {"summary", "lines", "groups", "blocked_entries", "memory_reserve_mb", "plan"}
    assert summary["plan"] is None and summary["memory_reserve_mb"] == 2048
    assert summary["groups"] == [["hv-gen1-a", "hv-gen1-b"], ["hv-gen2-a", "hv-gen2-b"]]
    assert summary["summary"]["pairs"] == 12 and summary["blocked_entries"] == len(result.report["blocked"])
    assert "cells" not in json.dumps(summary)


def test_the_summary_lines_show_names_as_the_pages_do():
    fleet = {"hosts": {"hv\u202e1": GEN1, "hv\n2": GEN2}, "vms": {"web\u200b01": {"host": "hv\n2", "vectors": GEN1}}}
    lines = pages.artifact_summary(render(fleet).report)["lines"]
    assert lines[0] == "1 VMs x 2 hosts: 2 of 2 pairs compatible"
    assert "host groups: hv 2 | hv\\u202e1" in lines or "host groups: hv\\u202e1 | hv 2" in lines, lines
    assert "fit every host: web\\u200b01" in lines and lines[-1] == "no planned wave"
    assert not any(char in "".join(lines) for char in "\u202e\u200b\n")  # nothing reorders, hides or splits a line


# Memory and the planned wave

MEMORY_FLEET = {
    "hosts": {"src": {"vectors": GEN1, "memory": {"total_mb": 196608, "free_mb": 100000, "logical_processors": 112}},
              "full": {"vectors": GEN1, "memory": {"total_mb": 65536, "free_mb": 6144, "logical_processors": 56}},
              "roomy": {"vectors": GEN2, "memory": {"total_mb": 65536, "free_mb": 45056, "logical_processors": 56}}},
    "vms": {"wave01": {"host": "src", "state": "Running", "vectors": GEN1, "needed_mb": 8192, "virtual_processors": 2},
            "wave02": {"host": "src", "state": "Running", "vectors": GEN1, "needed_mb": 10240, "virtual_processors": 4},
            "off01": {"host": "src", "state": "Off", "vectors": GEN1, "needed_mb": 32768, "virtual_processors": 4},
            "big01": {"host": "src", "state": "Running", "vectors": GEN1, "needed_mb": 63488, "virtual_processors": 16}},
}


def gate(vm, source, destination, needed_mb, allowed=True, state="Running", **extra):
    """A decision as migration_gate_decisions holds it."""
    checks = {"memory": {destination: {"needed_mb": needed_mb, "free_mb": 0, "reserve_mb": 2048, "placed_mb": 0,
                                       "after_mb": 0}} if destination else {}}
    return {"vm": vm, "source": source, "destination": destination, "allowed": allowed, "state": state,
            "verdict": "allowed" if allowed else "blocked", "reasons": [], "moved": False, "checks": checks, **extra}


def memory_plan(big01_reason="full has no room for big01: it needs 63488 MB."):
    return {"wave01": gate("wave01", "src", "roomy", 8192), "wave02": gate("wave02", "src", "full", 10240),
            "off01": gate("off01", "src", "roomy", 32768, state="Off"),
            "big01": gate("big01", "src", None, None, allowed=False,
                          reasons=[{"host": "full", "role": "candidate", "check": "memory", "message": big01_reason},
                                   {"host": "roomy", "role": "candidate", "check": "memory", "message": "second"}])}


def test_the_hosts_table_shows_memory_free_for_vms_and_the_vms_memory():
    result = pages.pages(MEMORY_FLEET, "Fleet", "x", "now", memory_reserve_mb=8192)
    html, markdown = result.html, result.markdown
    assert ("| full | 1 | standalone | not read | not read | ? / ? | 65,536 MB / 6,144 MB | -2,048 MB ⚠ inside its reserve | "
            "0 MB | 56 / 0 | none |") in markdown
    assert ("| src | 1 | standalone | not read | not read | ? / ? | 196,608 MB / 100,000 MB | 91,808 MB | 81,920 MB; 32,768 MB "
            "more when the VMs off start | 112 / 22 | big01 (63,488 MB), off01 (32,768 MB, off), wave01 (8,192 MB), "
            "wave02 (10,240 MB) |") in markdown
    assert "8,192 MB for itself (<code>memory_reserve_mb</code>" in html
    assert '<td class="figure no">-2,048 MB (inside its reserve)</td>' in html
    assert '<td class="figure">65,536 MB /<br>6,144 MB</td>' in html and "<td>112 / 22</td>" in html
    assert "<td>81,920 MB<br>+32,768 MB for VMs off</td>" in html
    assert "- ⚠ less memory free than the 8,192 MB a host keeps for itself: full" in markdown
    assert "Less memory free than the 8,192 MB a host keeps for itself: full." in html
    assert 'id="plan"' not in html and "## Planned wave" not in markdown and "planned moves" not in html  # no plan given


def test_the_planned_wave_section_each_host_now_in_out_after_and_the_overfilled_host():
    result = pages.pages(MEMORY_FLEET, "Fleet", "x", "now", memory_plan())
    html, markdown = result.html, result.markdown
    section = markdown[markdown.index("## Planned wave"):markdown.index("## Fleet baseline")]
    assert "4 VMs, 3 moves bringing 51,200 MB" in section
    assert "- ✗ the plan would overfill: full (6,144 MB short)\n" in section
    assert ("| full | 6,144 MB | 4,096 MB | 10,240 MB: wave02 | 0 MB | -4,096 MB | -6,144 MB | ✗ **overfilled**: 6,144 MB "
            "short |") in section
    assert ("| src | 100,000 MB | 97,952 MB | 0 MB | 18,432 MB: off01 (holds none), wave01, wave02 | 118,432 MB | 116,384 MB "
            "| nothing comes in |") in section
    assert "| roomy | 45,056 MB | 43,008 MB | 40,960 MB: off01, wave01 | 0 MB | 4,096 MB | 2,048 MB | ✓ fits |" in section
    assert "- ✗ **big01** (blocked, on src): \\[memory\\] full has no room for big01: it needs 63488 MB.\n" in section
    assert "second" not in section  # the first reason only
    assert "- planned wave: **3** moves; ✗ it would overfill full" in markdown
    html_section = html[html.index('<h2 id="plan">'):html.index('<h2 id="baseline">')]
    assert '<td class="no"><span class="sym">&#10007;</span> overfilled: 6,144 MB short</td>' in html_section
    assert "<td>10,240 MB: wave02 from src</td>" in html_section
    assert "<li><span class=\"no\"><span class=\"sym\">&#10007;</span> big01</span> (blocked, on src): [memory] full has no room" in html_section
    assert 'The <a href="#plan">planned wave</a> would overfill: full.' in html
    assert "<b>3</b>planned moves, 1 hosts overfilled" in html
    summary = pages.artifact_summary(result.report)
    assert summary["plan"]["overfilled_hosts"] == ["full"] and summary["plan"]["blocked"] == ["big01"]
    assert summary["plan"]["hosts"]["roomy"] == {"free_mb": 45056, "in_mb": 40960, "out_mb": 0, "after_mb": 4096,
                                                 "after_for_vms_mb": 2048, "overfilled": False, "over_mb": None}


def test_a_plan_where_every_host_has_room_says_so():
    plan = {"wave01": gate("wave01", "src", "roomy", 8192)}
    result = pages.pages(MEMORY_FLEET, "Fleet", "x", "now", plan)
    assert "- ✓ no host the figures are known for would be overfilled\n" in result.markdown
    assert "No host the figures are known for would be overfilled." in result.html
    assert "- planned wave: **1** moves; no host overfilled" in result.markdown


@pytest.mark.parametrize("hostile", [HOSTILE, '<img src=x onerror="alert(1)">|*_`[x]', "a\nb\r<b>&amp;"])
def test_hostile_names_and_reasons_in_the_plan_are_escaped(hostile):
    fleet = json.loads(json.dumps(MEMORY_FLEET))
    fleet["hosts"][hostile] = fleet["hosts"].pop("roomy")
    fleet["vms"][hostile] = fleet["vms"].pop("wave01")
    plan = memory_plan(big01_reason=hostile)
    plan[hostile] = dict(plan.pop("wave01"), destination=hostile, checks={"memory": {hostile: {"needed_mb": 8192}}})
    plan["off01"] = dict(plan["off01"], destination=hostile, checks={"memory": {hostile: {"needed_mb": 32768}}})
    plan["big01"]["reasons"][0]["check"] = hostile
    plan["big01"]["verdict"] = hostile
    plan["stopped"] = {"verdict": "error", "allowed": False, "error": {"task": hostile, "msg": hostile}}
    plan["gone"] = gate("gone", "src", hostile + "-elsewhere", 1024)  # a host not in the report
    result = pages.pages(fleet, "Fleet", "x", "now", plan)
    html, markdown = result.html, result.markdown
    parsed = Tags(html)
    assert parsed.tags <= TEMPLATE_TAGS
    assert "<script" not in html and "<img" not in html and "<b>&amp;" not in html
    assert "<" not in markdown
    section = markdown[markdown.index("## Planned wave"):markdown.index("## Fleet baseline")]
    rows = [line for line in section.split("\n") if line.startswith("| ")]
    assert len(rows) == 1 + 4 and all(re.findall(r"\\.|\|", row).count("|") == 9 for row in rows)  # the heading and 4 hosts, 8 columns each
    blocked = [line for line in section.split("\n") if line.startswith("- ✗ **")]
    assert len(blocked) == 2  # one line each, whatever the text
    text = "".join(parsed.text)
    assert f"{hostile} from src" in text or "\r" in hostile  # a move in, as text
    assert f"[{hostile}] {hostile}" in text or "\r" in hostile  # the stopped gate's step and error, as text


@settings(DETERMINISTIC, max_examples=100)
@given(vm=st.text(min_size=1, max_size=12), host=st.text(min_size=1, max_size=12), reason=st.text(max_size=20))
def test_no_plan_text_becomes_markup(vm, host, reason):
    fleet = json.loads(json.dumps(MEMORY_FLEET))
    reasons = [{"host": host, "check": reason, "message": reason}]
    plan = {vm: gate(vm, "src", host, 1024), "big01": gate("big01", "src", None, None, allowed=False, reasons=reasons)}
    result = pages.pages(fleet, "Fleet", "x", "now", plan)
    assert Tags(result.html).tags <= TEMPLATE_TAGS
    assert "<" not in result.markdown
