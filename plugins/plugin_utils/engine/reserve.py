# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""memory_reserve_mb, shared by the gate (gate/request.py, gate/room.py) and the fleet report (engine/fleet.py):
the memory a host keeps for itself, never planned for VMs, and how a value of it is read."""

from __future__ import annotations

import typing as t

DEFAULT_RESERVE_MB = 2048


def whole_megabytes(value: t.Any) -> int | None:
    """A whole number of MB, 0 or more, or a string of one (as -e and templated variables send it); None otherwise."""
    number = value
    if isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            return None
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        return None
    return number
