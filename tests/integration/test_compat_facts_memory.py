# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""compat_facts' memory part, run by ansible-playbook against hvsim's memory lab (labs/memory.yml) over real sockets:
the figures, their cost per host, and null figures without the part."""

from __future__ import annotations

from pathlib import Path

import pytest

from hvsim.methods import MigrationService
from hvsim.pytest_fixtures import hvsim_factory  # noqa: F401  pylint: disable=unused-import
from integration.test_compat_facts import gather  # noqa: F401  pylint: disable=unused-import

MEMORY_LAB = Path(__file__).resolve().parents[1] / "hvsim" / "labs" / "memory.yml"
NULL_VM_MEMORY = {"assigned_mb": None, "startup_mb": None, "minimum_mb": None, "maximum_mb": None, "dynamic": None,
                  "needed_mb": None}


@pytest.fixture
def memory_lab(hvsim_factory):  # noqa: F811  pylint: disable=redefined-outer-name
    return hvsim_factory(MEMORY_LAB)


def by_name(facts: dict) -> dict[str, dict]:
    return {vm["name"]: vm for vm in facts["vms"]}


def memory_requests(counters: dict) -> dict[str, int]:
    classes = ("Win32_OperatingSystem", "Win32_ComputerSystem", "Msvm_MemorySettingData", "Msvm_ProcessorSettingData",
               "Msvm_Memory")
    return {operation: count for operation, count in counters.items() if operation.split(":", 1)[-1] in classes}


def test_every_vm_s_memory_and_the_host_s_in_five_requests(memory_lab, gather):  # noqa: F811  pylint: disable=redefined-outer-name
    result, facts = gather(memory_lab, "HV-MEM-SRC", {"vms": "all"})
    assert result.returncode == 0, result.stdout
    assert "memory" in facts["gather_subset"]
    assert facts["host"]["memory"] == {"total_mb": 196608, "free_mb": 59392, "logical_processors": 112}
    vms = by_name(facts)
    assert vms["wave01"]["memory"] == {"assigned_mb": 8192, "startup_mb": 8192, "minimum_mb": 8192, "maximum_mb": 8192,
                                       "dynamic": False, "needed_mb": 8192}
    assert vms["wave07"]["memory"] == {"assigned_mb": 10240, "startup_mb": 4096, "minimum_mb": 2048, "maximum_mb": 16384,
                                       "dynamic": True, "needed_mb": 10240}  # a running VM needs what it holds
    assert vms["off01"]["memory"] == {"assigned_mb": None, "startup_mb": 32768, "minimum_mb": 32768, "maximum_mb": 32768,
                                      "dynamic": False, "needed_mb": 32768}  # an off one, its startup memory
    assert vms["big01"]["memory"]["needed_mb"] == 63488
    assert (vms["wave07"]["virtual_processors"], vms["big01"]["virtual_processors"], vms["wave01"]["virtual_processors"]) == (4, 16, 2)
    # Per host, not per VM: 10 VMs, 5 requests
    assert memory_requests(memory_lab.counters("HV-MEM-SRC")) == {
        "Enumerate:Win32_OperatingSystem": 1, "Enumerate:Win32_ComputerSystem": 1, "Enumerate:Msvm_MemorySettingData": 1,
        "Enumerate:Msvm_ProcessorSettingData": 1, "Enumerate:Msvm_Memory": 1}


def test_checkpoints_and_named_vms_on_a_nearly_full_host(memory_lab, gather):  # noqa: F811  pylint: disable=redefined-outer-name
    result, facts = gather(memory_lab, "HV-MEM-01", {"vms": ["res01b"], "gather_subset": ["min", "memory"]})
    assert result.returncode == 0, result.stdout
    assert facts["gather_subset"] == ["memory"]
    assert facts["host"]["memory"] == {"total_mb": 65536, "free_mb": 6144, "logical_processors": 56}
    (res01b,) = facts["vms"]
    # res01b has two checkpoints taken with half its memory and processors: only its own settings count
    assert res01b["memory"] == {"assigned_mb": 22528, "startup_mb": 16384, "minimum_mb": 8192, "maximum_mb": 32768,
                                "dynamic": True, "needed_mb": 22528}
    assert res01b["virtual_processors"] == 4


def test_the_free_memory_follows_a_completed_migration(memory_lab, gather):  # noqa: F811  pylint: disable=redefined-outer-name
    wave01 = memory_lab.lab.vms[memory_lab.guid("wave01")]
    memory_lab.lab.host("HV-MEM-SRC").migration.duration_s = 0  # done at the next look
    MigrationService(memory_lab.lab, "HV-MEM-SRC").start_job(wave01, memory_lab.lab.host("HV-MEM-04"), "HV-MEM-04", 32768)
    assert memory_lab.where("wave01") == "HV-MEM-04"
    result, facts = gather(memory_lab, "HV-MEM-04", {"vms": "all", "gather_subset": ["min", "memory"]})
    assert result.returncode == 0, result.stdout
    assert facts["host"]["memory"]["free_mb"] == 61440 - 8192
    assert [vm["name"] for vm in facts["vms"]] == ["wave01"] and facts["vms"][0]["memory"]["assigned_mb"] == 8192


def test_without_the_memory_part_the_figures_are_null_and_nothing_is_read(memory_lab, gather):  # noqa: F811  pylint: disable=redefined-outer-name
    result, facts = gather(memory_lab, "HV-MEM-SRC", {"vms": ["wave07", "off01"], "gather_subset": ["!memory"]})
    assert result.returncode == 0, result.stdout
    assert "memory" not in facts["gather_subset"]
    assert facts["host"]["memory"] == {"total_mb": None, "free_mb": None, "logical_processors": None}
    assert all(vm["memory"] == NULL_VM_MEMORY and vm["virtual_processors"] is None for vm in facts["vms"])
    assert memory_requests(memory_lab.counters("HV-MEM-SRC")) == {}


def test_a_host_that_refuses_root_cimv2_fails_the_task_naming_the_step(memory_lab, gather):  # noqa: F811  pylint: disable=redefined-outer-name
    memory_lab.inject("HV-MEM-02", "wmi_fault", op="Enumerate:Win32_OperatingSystem", code=2147749891, message="Access denied ")
    result, facts = gather(memory_lab, "HV-MEM-02", {"vms": "all"})
    assert result.returncode != 0 and facts is None
    assert "reading the host's memory and logical processors (Win32_OperatingSystem, Win32_ComputerSystem in root/cimv2)" \
        in result.stdout
    result, facts = gather(memory_lab, "HV-MEM-02", {"vms": "all", "gather_subset": ["!memory"]})
    assert result.returncode == 0, result.stdout  # the remedy the module documents
