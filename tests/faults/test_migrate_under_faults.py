"""playbooks/migrate.yml under every fault of the table in scenarios.py, run by ansible-playbook against hvsim.

For each fault: the run ends with a message that names the cause; the VM is neither lost nor migrated twice; and
where the hosts say the VM is afterwards is what the play reported. conftest.py prints the table of outcomes.
"""

from __future__ import annotations

import pytest

from hvsim.pytest_fixtures import HVSIM_PASSWORD, hvsim_lab, hvsim_session  # noqa: F401  pylint: disable=unused-import

from faults.harness import DESTINATION, MIGRATE, SOURCE, observe, run_migrate
from faults.scenarios import SCENARIOS, WMI_FAULTS, Scenario

# When the play does not say where the VM is, the message must say it does not know, in one of these ways.
UNKNOWN_WHEREABOUTS = ("on neither", "Check where", "check where")


PARAMS = [
    pytest.param(scenario, id=scenario.name,
                 marks=[pytest.mark.xfail(strict=True, reason=scenario.xfail)] if scenario.xfail else [])
    for scenario in SCENARIOS
]


@pytest.mark.parametrize("scenario", PARAMS)
def test_migrate_under_fault(hvsim_lab, tmp_path, record_property, scenario: Scenario):
    run_options = scenario.prepare(hvsim_lab, tmp_path)
    seen = observe(hvsim_lab, run_migrate(hvsim_lab, tmp_path, *scenario.args, **run_options))
    record_property("fault_row", {
        "fault": scenario.fault, "reported": seen.reported, "migrations": seen.migrations,
        "vm_after": seen.host_after if seen.copies == 1 else f"{seen.copies} copies",
        "message": headline(seen.message),
    })

    # The cause, as a person reads it; never a secret.
    for words in scenario.cause:
        assert words in seen.message, seen.stdout
    assert all(seen.message.count(words) == 1 for words in scenario.cause if words.startswith("Injected")), seen.message
    assert HVSIM_PASSWORD not in seen.stdout and "Wrong-Passw0rd!" not in seen.stdout
    assert seen.returncode == (0 if scenario.outcome in ("moved", "nothing to move") else 2), seen.stdout

    # Nothing lost, nothing moved twice.
    assert seen.copies == (0 if scenario.host_after is None else 1)
    assert seen.host_after == scenario.host_after
    assert seen.migrations == scenario.migrations and seen.completed_jobs <= 1

    # What the play reported is what the hosts say.
    assert seen.reported == scenario.outcome, seen.message
    assert seen.completed_jobs == (1 if seen.host_after == DESTINATION and scenario.migrations else 0)
    if seen.reported_host is not None:
        assert seen.reported_host == seen.host_after, seen.message
    elif not any(words in seen.message for words in UNKNOWN_WHEREABOUTS):
        # Silent about where the VM is: then whether it moved must be true.
        assert seen.decision.get("moved", False) == (seen.host_after == DESTINATION), seen.message


def headline(message: str) -> str:
    """The line of a message that says what happened: the move's outcome when there was a move, else the first."""
    lines = message.splitlines() or [""]
    outcome = [line for line in lines if line.startswith(("MOVED:", "MOVE FAILED:", "NOTHING TO MOVE:"))]
    return (outcome or lines)[0][:120]


def test_every_operation_of_a_clean_run_has_a_row(hvsim_lab, tmp_path):
    """The WMI-fault rows cover every (host, operation) a clean run uses, and no other: read from hvsim's counters."""
    seen = observe(hvsim_lab, run_migrate(hvsim_lab, tmp_path))
    assert seen.reported == "moved" and seen.host_after == DESTINATION, seen.stdout
    used = {(host, op) for host in hvsim_lab.hosts for op in hvsim_lab.counters(host)}
    assert used == {row[:2] for row in WMI_FAULTS}
    assert hvsim_lab.counters(SOURCE)[MIGRATE] == 1
