"""Reading ansible-playbook's output in tests."""

from __future__ import annotations

import json


def task_failure(result) -> str:
    """The message of the one failed task of a run that failed (exit code 2)."""
    assert result.returncode == 2, result.stdout
    fatal = [line for line in result.stdout.splitlines() if line.startswith("fatal:")]
    assert len(fatal) == 1, result.stdout
    return json.loads(fatal[0].split("=>", 1)[1])["msg"]
