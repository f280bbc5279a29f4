"""gate/room.py: whether a host has room for a VM, from the facts' memory figures, with its reserve."""

from __future__ import annotations

import pytest

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate import room

HOST = {"memory": {"total_mb": 65536, "free_mb": 12288, "logical_processors": 32}}
VM = {"memory": {"assigned_mb": 8192, "startup_mb": 4096, "needed_mb": 8192}}


def test_the_figures_after_the_move():
    needed = room.needed_mb(VM)
    assert room.room_after(HOST, needed, 2048) == 2048
    assert room.room_after(HOST, needed, 2048, placed_mb=4096) == -2048
    assert room.figures(HOST, needed, 2048, 1024) == {"needed_mb": 8192, "free_mb": 12288, "reserve_mb": 2048,
                                                      "placed_mb": 1024, "after_mb": 1024}


def test_no_room_names_the_figures_and_the_remedy():
    assert room.no_room("HV02", "web01", HOST, 8192, 2048) is None  # 2048 MB to spare
    assert room.no_room("HV02", "web01", HOST, 8192, 2048, placed_mb=4096) == (
        "HV02 has no room for web01: it needs 8192 MB, and HV02 has 12288 MB free, less its reserve of 2048 MB, less "
        "4096 MB for the VMs this wave is moving there, 6144 MB for VMs. Free memory there (move or stop a VM), choose "
        "another host, or lower memory_reserve_mb if the host truly needs less.")
    assert room.no_room("HV02", "web01", HOST, 10241, 2048).startswith(
        "HV02 has no room for web01: it needs 10241 MB, and HV02 has 12288 MB free, less its reserve of 2048 MB, 10240 MB")


@pytest.mark.parametrize("host, vm, warning", [
    ({"memory": {"free_mb": None}}, VM, "HV02 did not report its free memory, so its room for the VM was not checked."),
    ({}, VM, "HV02 did not report its free memory, so its room for the VM was not checked."),
    (HOST, {"memory": None}, "the VM's memory demand was not read, so HV02's room for it was not checked."),
    (HOST, {"memory": {"needed_mb": True}}, "the VM's memory demand was not read, so HV02's room for it was not checked."),
    (HOST, {"memory": {"needed_mb": -1}}, "the VM's memory demand was not read, so HV02's room for it was not checked."),
])
def test_an_unknown_figure_leaves_room_unchecked_and_says_which(host, vm, warning):
    needed = room.needed_mb(vm)
    assert room.no_room("HV02", "web01", host, needed, 2048) is None
    assert room.room_unknown("HV02", host, needed) == warning
    assert room.room_after(host, needed, 2048) is None


def test_known_figures_need_no_warning():
    assert room.room_unknown("HV02", HOST, 8192) is None
