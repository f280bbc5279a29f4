"""Data a host sends that the gate cannot use, through playbooks/migrate.yml against hvsim: the decision says the VM
was found and the host's data on it could not be read, with why; never that the VM was not found, and never to
check its name."""

from __future__ import annotations

from pathlib import Path

import pytest

from hvsim.compat import Vector
from hvsim.pytest_fixtures import hvsim_lab, hvsim_session  # noqa: F401  pylint: disable=unused-import
from integration.ansible_output import task_failure
from integration.conftest import run_playbook  # noqa: F401  pylint: disable=unused-import
from integration.lab_inventory import write_inventory

PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "migrate.yml"


@pytest.mark.parametrize("where", [["destination=HV-NEW-01"], ["candidates=HV-NEW-01,HV-NEW-02"],
                                   ["destination=HV-NEW-01", "source=HV-OLD-01"]], ids=["destination", "candidates", "source"])
def test_a_vm_value_above_64_bits_says_the_hosts_data_could_not_be_read(hvsim_lab, run_playbook, tmp_path, where):
    vm = hvsim_lab.lab.find_vms("web01")[0]
    vm.vectors = [Vector(1, 2, 2**64 + 5), *vm.vectors[1:]]  # past what the lab file allows: a hostile host
    extra = [arg for item in ["vm=web01", "mode=gate", *where] for arg in ("-e", item)]
    message = task_failure(run_playbook(PLAYBOOK, "-i", write_inventory(hvsim_lab, tmp_path / "hosts.yml"), *extra))
    assert message.startswith("BLOCKED: web01 was found on HV-OLD-01, but what the host says of it could not be read")
    assert "CompatibilityInfo: '18446744073709551621' is not a uint64" in message
    assert "not found" not in message and "name the VM as Get-VM shows it" not in message
