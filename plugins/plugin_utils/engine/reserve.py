# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the gate (gate/request.py, gate/room.py), the facts (hyperv/memory.py) and the fleet report (engine/fleet.py)
count alike about memory: memory_reserve_mb, the memory a host keeps for itself and never planned for VMs, how a value
of it is read, and which VM states hold host memory."""

from __future__ import annotations

import re
import typing as t

DEFAULT_RESERVE_MB = 2048
MAX_MB = 2**64 - 1  # Hyper-V's memory figures are uint64: a larger reserve is no figure a host can have
_DIGITS = re.compile(r"[0-9]+")

# VM states (as compat_facts names them) in which a VM holds no host memory: Off, Enabled but offline, and Saved (its
# memory is in a file). Every other state (running, paused, the transitions between) holds it: an unknown one fails
# closed.
MEMORY_FREE_STATES = frozenset(("Off", "Saved", "Enabled but offline"))


def holds_memory(state: t.Any) -> bool:
    """Whether a VM in this state (its name) holds host memory now; an unknown state does."""
    return state not in MEMORY_FREE_STATES


def whole_megabytes(value: t.Any) -> int | None:
    """A whole number of MB, 0 to MAX_MB, or a string of one in ASCII digits (as -e and templated variables send it);
    None otherwise."""
    number = value
    if isinstance(value, str):
        digits = value.strip()
        if not _DIGITS.fullmatch(digits) or len(digits.lstrip("0")) > len(str(MAX_MB)):  # int() alone reads '٣', '1_0'
            return None
        number = int(digits)
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= MAX_MB:
        return None
    return number
