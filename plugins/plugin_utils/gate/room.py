# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a host has room for a VM, pure: the memory the VM needs against the memory free on the host, less the
host's reserve and what a wave already placed there.

Hyper-V moves the memory a running VM has; a destination without it fails the migration at the end of the transfer.
The host keeps a reserve for itself (its own processes, the cache): the gate never plans it away. A figure the host
did not report leaves room unchecked, with a warning, rather than guessed.
"""

from __future__ import annotations

import typing as t


def needed_mb(vm: t.Mapping[str, t.Any]) -> int | None:
    """What a destination must have free to take the VM now (compat_facts' memory.needed_mb), or None."""
    return _megabytes((vm.get("memory") or {}).get("needed_mb"))


def free_mb(host: t.Mapping[str, t.Any]) -> int | None:
    return _megabytes((host.get("memory") or {}).get("free_mb"))


def _megabytes(value: t.Any) -> int | None:
    """A figure as the facts give it, a whole number of MB, 0 or more; anything else is not known."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def room_after(host: t.Mapping[str, t.Any], needed: int | None, reserve_mb: int, placed_mb: int = 0) -> int | None:
    """The memory left for VMs on the host after this one moved there (negative: it does not fit), or None when
    either figure is unknown."""
    free = free_mb(host)
    if free is None or needed is None:
        return None
    return free - reserve_mb - placed_mb - needed


def no_room(name: str, vm_label: str, host: t.Mapping[str, t.Any], needed: int | None, reserve_mb: int,
            placed_mb: int = 0) -> str | None:
    """Why the host cannot take the VM for memory, with the figures and the remedy; None when it can, or when a
    figure is unknown (room_unknown says that)."""
    left = room_after(host, needed, reserve_mb, placed_mb)
    if left is None or left >= 0:
        return None
    placed = f", less {placed_mb} MB for the VMs this wave is moving there" if placed_mb else ""
    return (f"{name} has no room for {vm_label}: it needs {needed} MB, and {name} has {free_mb(host)} MB free, less its "
            f"reserve of {reserve_mb} MB{placed}, {left + t.cast(int, needed)} MB for VMs. Free memory there (move or stop "
            "a VM), choose another host, or lower memory_reserve_mb if the host truly needs less.")


def room_unknown(name: str, host: t.Mapping[str, t.Any], needed: int | None) -> str | None:
    """A warning when room could not be checked: which figure is missing."""
    if needed is None:
        return f"the VM's memory demand was not read, so {name}'s room for it was not checked."
    if free_mb(host) is None:
        return f"{name} did not report its free memory, so its room for the VM was not checked."
    return None


def figures(host: t.Mapping[str, t.Any], needed: int | None, reserve_mb: int, placed_mb: int = 0) -> dict[str, t.Any]:
    """The decision's record of one host's room: what it had, kept, held for the wave, and has after the move."""
    return {"needed_mb": needed, "free_mb": free_mb(host), "reserve_mb": reserve_mb, "placed_mb": placed_mb,
            "after_mb": room_after(host, needed, reserve_mb, placed_mb)}
