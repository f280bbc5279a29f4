"""The fault suite's table: one row per scenario (tests record it with record_property), printed after the run.

Rows travel from xdist workers in the test reports' user_properties, so `./dev test` prints the table too.
"""

from __future__ import annotations

ROWS: dict[str, dict] = {}


def pytest_runtest_logreport(report):
    if report.when != "call":
        return
    for key, value in report.user_properties:
        if key == "fault_row":
            outcome = "xfail" if hasattr(report, "wasxfail") else report.outcome
            ROWS[report.nodeid] = dict(value, survived=outcome)


def pytest_terminal_summary(terminalreporter):
    if not ROWS:
        return
    rows = sorted(ROWS.values(), key=lambda row: row["fault"])
    survived = sum(row["survived"] == "passed" for row in rows)
    write = terminalreporter.write_line
    terminalreporter.section("fault table: playbooks/migrate.yml, web01 from HV-OLD-01 to HV-NEW-01")
    header = ("fault", "play reported", "Migrate requests", "VM after", "check", "message (first line)")
    widths = (max(len(row["fault"]) for row in rows), 15, 16, 12, 7)
    write(" | ".join(title.ljust(width) for title, width in zip(header, widths + (0,))).rstrip())
    for row in rows:
        check = {"passed": "ok", "failed": "FAILED", "xfail": "bug"}.get(row["survived"], row["survived"])
        cells = (row["fault"], row["reported"], str(row["migrations"]), str(row["vm_after"]), check, row["message"])
        write(" | ".join(cell.ljust(width) for cell, width in zip(cells, widths + (0,))).rstrip())
    write(f"faults survived: {survived} of {len(rows)} (survived: cause named, VM neither lost nor moved twice, "
          "report matches the hosts)")
