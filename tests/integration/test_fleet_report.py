"""playbooks/fleet_report.yml run by ansible-playbook: offline from facts files and against hvsim, escaped, and
rendered by a real headless Chromium (screenshot and DOM)."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
import yaml

from hvsim.pytest_fixtures import HVSIM_PASSWORD, hvsim_lab, hvsim_session  # noqa: F401  pylint: disable=unused-import

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "playbooks" / "fleet_report.yml"
SAMPLE_FACTS = ROOT / "playbooks" / "files" / "sample_facts.yml"
CHROMIUM = shutil.which("chromium")
# The cell backgrounds of the stylesheet: compatible (blue) and blocked (vermillion)
OK_BACKGROUND, BLOCKED_BACKGROUND = (0xDC, 0xEC, 0xF8), (0xFD, 0xE3, 0xD2)
HOSTILE = '<script>alert("vm")</script>'
HOSTILE_CLUSTER, HOSTILE_GROUP = '<img src=x onerror="alert(\'cluster\')">', '<script>alert("group")</script>|*'


@pytest.fixture
def fleet_report(run_playbook, tmp_path):
    """fleet_report(*args) -> (CompletedProcess, {'html', 'markdown', 'facts'}: the files' text)."""

    def run(*args: str):
        out = tmp_path / "report"
        result = run_playbook(PLAYBOOK, "-e", f"report_dir={out}", *args)
        assert result.returncode == 0, result.stdout
        files = {"html": "fleet-report.html", "markdown": "fleet-report.md", "facts": "fleet-facts.json"}
        return result, {key: (out / name).read_text(encoding="utf-8") for key, name in files.items()}

    return run


def test_offline_from_the_sample_facts(fleet_report):
    result, report = fleet_report("-e", f"facts_file={SAMPLE_FACTS}")
    assert "3 VMs x 4 hosts: 8 of 12 pairs compatible" in result.stdout
    assert "host groups: hv-gen1-a, hv-gen1-b | hv-gen2-a, hv-gen2-b" in result.stdout
    html, markdown = report["html"], report["markdown"]
    assert "<b>8 / 12</b>VM-host pairs compatible" in html
    # web01 uses AVX-512: blocked on both older hosts, the reasons' first sentences on hover, all of them below
    assert ('<td class="cell no" title="web01 cannot run on hv-gen1-a:&#10;- The VM uses ProcessorFeatures (vector 1) bits '
            'the host lacks: 0xFC000000000 (bits 38, 39, 40, 41, 42, 43).&#10;- The VM uses ProcessorXSave (vector 2) bits the '
            'host lacks: 0xE0 (bits 5, 6, 7)."><a href="#b-2">') in html
    details = html[html.index('<h3 id="b-2">'):]
    assert "web01</span>\n    cannot run on group 1: hv-gen1-a, hv-gen1-b</h3>" in details
    assert "bits 5, 6, 7). The usual remedy is processor compatibility mode" in details
    assert '<td class="cell ok current" title="web01 can run on hv-gen2-a (it runs there)">&#9679; ' in html
    assert "<td>ProcessorXSave</td><td>2</td><td>Subset</td><td><code>0x7</code></td>" in html  # the baseline
    assert "| web01 |  | ✗ 2 | ✗ 2 | ● ✓ | ✓ |" in markdown
    assert "| 1 | hv-gen1-a, hv-gen1-b | legacy01 |" in markdown
    assert "### ✗ web01 cannot run on group 1: hv-gen1-a, hv-gen1-b\n\n- The VM uses ProcessorFeatures" in markdown
    assert json.loads(report["facts"])["vms"]["web01"]["host"] == "hv-gen2-a"


def test_check_mode_writes_nothing_and_bad_facts_are_named(run_playbook, tmp_path):
    result = run_playbook(PLAYBOOK, "--check", "-e", f"report_dir={tmp_path / 'report'}", "-e", f"facts_file={SAMPLE_FACTS}")
    assert result.returncode == 0, result.stdout
    assert "3 VMs x 4 hosts: 8 of 12 pairs compatible" in result.stdout and not (tmp_path / "report").exists()

    (tmp_path / "bad.json").write_text(json.dumps({"hosts": {"hv01": [{"vector_id": 1}]}, "vms": {}}))
    result = run_playbook(PLAYBOOK, "-e", f"report_dir={tmp_path / 'report'}", "-e", f"facts_file={tmp_path / 'bad.json'}")
    assert result.returncode == 2 and "fleet.hosts['hv01'].vectors[0]: missing 'compare_operation'" in result.stdout


def test_host_and_vm_text_is_escaped(fleet_report, tmp_path):
    facts = yaml.safe_load(SAMPLE_FACTS.read_text(encoding="utf-8"))
    facts["sample_hosts"]["hv<b>&amp;"] = facts["sample_hosts"].pop("hv-gen1-b")
    facts["sample_vms"][HOSTILE] = dict(facts["sample_vms"].pop("web01"), state="Running|*_`[x]")
    # a failover cluster of the two newer hosts, one of them paused: the VM's role is stuck, its group named
    facts["sample_hosts"]["hv-gen2-a"]["cluster"] = {"name": HOSTILE_CLUSTER, "node": "N1", "state": "up"}
    facts["sample_hosts"]["hv-gen2-b"]["cluster"] = {"name": HOSTILE_CLUSTER, "node": "N2", "state": "<b>paused</b>"}
    facts["sample_vms"][HOSTILE]["cluster"] = {"cluster": HOSTILE_CLUSTER, "group": HOSTILE_GROUP, "owner_node": "N1",
                                               "possible_owners": None}
    (tmp_path / "hostile.json").write_text(json.dumps(facts))
    _result, report = fleet_report("-e", f"facts_file={tmp_path / 'hostile.json'}", "-e", "report_title=<i>Fleet</i>")
    html, markdown = report["html"], report["markdown"]
    assert "<script" not in html and "<i>" not in html and "hv<b>" not in html
    assert "&lt;script&gt;alert(&#34;vm&#34;)&lt;/script&gt;" in html and "hv&lt;b&gt;&amp;amp;" in html
    assert "<title>&lt;i&gt;Fleet&lt;/i&gt;</title>" in html
    assert "<script" not in markdown and "hv<b>" not in markdown
    assert "| &lt;script&gt;alert(&#34;vm&#34;)&lt;/script&gt; | Running\\|\\*\\_\\`\\[x\\] |" in markdown
    assert "<img" not in html and "<b>paused" not in html and "<img" not in markdown
    assert '<h3 id="cluster-1">Cluster &lt;img src=x onerror=&#34;alert(&#39;cluster&#39;)&#34;&gt;</h3>' in html
    assert "(group &lt;script&gt;alert(&#34;group&#34;)&lt;/script&gt;|*, on hv-gen2-a): <b>stuck</b>" in html
    assert "### Cluster &lt;img src=x onerror=&#34;alert(&#39;cluster&#39;)&#34;&gt;\n" in markdown
    assert "(group &lt;script&gt;alert(&#34;group&#34;)&lt;/script&gt;\\|\\*, on hv-gen2-a): **stuck**" in markdown
    if CHROMIUM:
        dom = chromium(tmp_path, "--dump-dom", (tmp_path / "report" / "fleet-report.html").as_uri()).stdout
        assert "<script" not in dom and "<i>" not in dom
        assert dom.count("&lt;script&gt;alert(\"vm\")&lt;/script&gt;") >= 3  # row, cell titles, details
        assert "<img" not in dom and "Cluster &lt;img src=x onerror=\"alert('cluster')\"&gt;</h3>" in dom
        assert "(group &lt;script&gt;alert(\"group\")&lt;/script&gt;|*, on hv-gen2-a)" in dom


def test_against_hvsim_and_again_offline_from_the_facts_it_saved(hvsim_lab, fleet_report, tmp_path):
    (tmp_path / "hosts.ini").write_text(hvsim_lab.inventory())
    result, report = fleet_report("-i", str(tmp_path / "hosts.ini"))
    facts = json.loads(report["facts"])
    assert sorted(facts["hosts"]) == ["HV-NEW-01", "HV-NEW-02", "HV-OLD-01", "HV-OLD-02"]
    assert facts["vms"]["db01"]["host"] == "HV-NEW-01" and facts["vms"]["db01"]["state"] == "Running"
    assert "host groups: HV-NEW-01, HV-NEW-02 | HV-OLD-01, HV-OLD-02" in result.stdout
    # HV-OLD-02 has live migration off: marked in the matrix, counted, and in the hosts table
    assert "cannot take a live migration now: HV-OLD-02" in result.stdout
    assert "HV-OLD-02<br><span class=\"warn\"" in report["html"] and "| HV-OLD-02 (g2, ⚠ no live migration) |" in report["markdown"]
    # and its memory, as hvsim's demo lab has it: the default 1 TiB, 4 GiB kept by the host, legacy01 holding 2 GiB
    assert ("| HV-OLD-02 | 2 | standalone | ✗ off | 0 | 0 / 2 | 1,048,576 MB / 1,042,432 MB | 1,040,384 MB | 2,048 MB | "
            "64 / 2 | legacy01 (2,048 MB) |") in report["markdown"]
    assert facts["hosts"]["HV-OLD-02"]["memory"]["free_mb"] == 1042432 and facts["vms"]["legacy01"]["needed_mb"] == 2048
    assert "the 4 hosts of inventory group hyperv, read by compat_facts" in report["html"]
    db01_row = next(line for line in report["markdown"].splitlines() if line.startswith("| db01 |"))
    assert db01_row == "| db01 | Running | ● ✓ | ✓ | ✗ 2 | ✗ 2 |"  # AVX-512: features and XSave
    # the two app01 VMs share a name: each keeps its own row, keyed by its id
    assert len([name for name in facts["vms"] if name.startswith("app01 (")]) == 2
    assert HVSIM_PASSWORD not in json.dumps(report)  # the inventory has it; the report and saved facts do not

    saved = tmp_path / "saved.json"
    saved.write_text(report["facts"])
    again, offline = fleet_report("-e", f"facts_file={saved}")
    assert again.returncode == 0
    strip = re.compile(r"^Source: .*$|generated [0-9: -]+UTC", re.MULTILINE)
    assert strip.sub("", offline["markdown"]) == strip.sub("", report["markdown"])


@pytest.mark.skipif(not CHROMIUM, reason="chromium is not installed (./dev setup installs it where apt-get is available)")
def test_chromium_renders_the_report(hvsim_lab, fleet_report, tmp_path):
    (tmp_path / "hosts.ini").write_text(hvsim_lab.inventory())
    fleet_report("-i", str(tmp_path / "hosts.ini"))
    page = (tmp_path / "report" / "fleet-report.html").as_uri()
    shot = tmp_path / "fleet-report.png"
    chromium(tmp_path, "--hide-scrollbars", "--window-size=1280,1500", f"--screenshot={shot}", page)
    width, height, pixels = read_png(shot.read_bytes())
    assert (width, height) == (1280, 1500)
    colours = set(pixels)
    assert len(colours) > 50  # text, anti-aliasing, borders: a page, not a blank
    assert OK_BACKGROUND in colours and BLOCKED_BACKGROUND in colours  # both kinds of cell are on screen
    # enough of the page is ink, not white: the matrix and the text were laid out
    assert sum(1 for pixel in pixels if pixel != (255, 255, 255)) > len(pixels) // 20

    dom = chromium(tmp_path, "--dump-dom", page).stdout
    assert dom.count('class="cell ok') + dom.count('class="cell no') == 4 * len(hvsim_lab.lab.vms)
    assert "<script" not in dom


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium, offline and with a fresh profile, as the report's readers would open it."""
    profile = tmp_path / f"chromium-profile-{len(list(tmp_path.glob('chromium-profile-*')))}"
    profile.mkdir()
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", *args],
        text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result


def read_png(data: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    """Width, height and RGB pixels of an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    offset, chunks, header = 8, [], None
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        body = data[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        offset += 12 + length
    width, height, depth, colour_type, _compression, _filter, interlace = header
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, header
    channels = 3 if colour_type == 2 else 4
    raw, stride = zlib.decompress(b"".join(chunks)), width * channels
    previous, pixels = bytearray(stride), []
    for row in range(height):
        kind = raw[row * (stride + 1)]
        line = bytearray(raw[row * (stride + 1) + 1:(row + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                estimate = left + up - corner
                nearest = min((abs(estimate - left), 0, left), (abs(estimate - up), 1, up), (abs(estimate - corner), 2, corner))
                line[i] = (line[i] + nearest[2]) & 0xFF
        pixels.extend(tuple(line[i:i + 3]) for i in range(0, stride, channels))
        previous = line
    return width, height, pixels
