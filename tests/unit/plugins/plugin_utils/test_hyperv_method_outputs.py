"""What HyperVHost and the checks make of method outputs a host may send: a blob missing from a success, and
IsMigratable written as CIM allows (spaces, case) or not at all."""

from __future__ import annotations

import pytest

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import HyperVError, HyperVHost
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.checks import check_migratable
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.soap import Instance

SERVICE = {"CreationClassName": "Msvm_VirtualSystemMigrationService", "Name": "vsms",
           "SystemCreationClassName": "Msvm_ComputerSystem", "SystemName": "HV01"}
VM = {"Name": "6A1B5E1C-0000-4000-8000-000000000001", "CreationClassName": "Msvm_ComputerSystem"}


class OneReply:
    """A client that answers every method call with the same out parameters (as the client parsed them)."""

    endpoint = "http://hv01:5985/wsman"

    def __init__(self, output):
        self.output = output

    def enumerate(self, namespace, wql):
        return [Instance("Msvm_VirtualSystemMigrationService", dict(SERVICE))]

    def invoke(self, namespace, class_name, method, selectors, parameters, *, read_only):
        return dict(self.output)


@pytest.mark.parametrize("blob", [None, []], ids=["absent", "empty"])
def test_a_success_without_a_blob_is_the_hosts_error(blob):
    api = HyperVHost(OneReply({"ReturnValue": "0", "CompatibilityInfo": blob}))
    with pytest.raises(HyperVError, match="GetSystemCompatibilityInfo returned success .0. but no CompatibilityInfo"):
        api.compatibility_blob(VM)


def test_a_blob_is_passed_on_in_the_hosts_form():
    api = HyperVHost(OneReply({"ReturnValue": "0", "CompatibilityInfo": ["1", "2", "255"]}))
    assert api.compatibility_blob(VM) == ("AQL/", "array")


@pytest.mark.parametrize("written, migratable", [(" true ", True), ("TRUE", True), ("1", True), ("false", False),
                                                 (None, False)])
def test_is_migratable_as_cim_writes_a_boolean(written, migratable):
    verdict = check_migratable(HyperVHost(OneReply({"ReturnValue": "0", "IsMigratable": written})), VM,
                               "HV02", "live", None)
    assert verdict["is_migratable"] is migratable
    assert bool(verdict["reasons"]) is not migratable  # a "no" always comes with its reason


def test_is_migratable_that_is_no_boolean_is_the_hosts_error_not_a_no():
    with pytest.raises(HyperVError, match=r"IsMigratable: 'yes' is not a boolean"):
        check_migratable(HyperVHost(OneReply({"ReturnValue": "0", "IsMigratable": "yes"})), VM, "HV02", "live", None)
