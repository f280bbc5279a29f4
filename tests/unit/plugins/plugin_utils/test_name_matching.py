"""Every place that matches a requested VM against what hosts or a cluster report uses one rule (hyperv/api.py:
same_name, is_guid): case aside, but no lookalike taken for a letter, and an id only when written as a GUID in ASCII."""

from __future__ import annotations

import pytest

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate.cluster import owner_of
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate.decision import matches
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import HyperVError
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.facts import select_vms

VM_ID = "6A1B5E1C-0000-4000-8000-0000000000FF"
KELVIN_K8S = "\u212a8s"  # a Kelvin sign, which str.lower() turns into "k"
ANSWERS = [("k8s", True), ("K8S", True), ("{6a1b5e1c-0000-4000-8000-0000000000ff}", True), (VM_ID.lower(), True),
           (KELVIN_K8S, False), (VM_ID[:-2] + "\ufb00", False),  # "ﬀ".upper() is "FF"
           (" k8s", False), ("k8s ", False), ("{" + VM_ID, False)]


@pytest.mark.parametrize("asked, answers", ANSWERS)
def test_the_gate_matches_a_vm_by_the_rule(asked, answers):
    assert matches(asked, {"id": VM_ID, "name": "k8s"}) is answers


@pytest.mark.parametrize("asked, answers", ANSWERS)
def test_facts_select_a_vm_by_the_rule(asked, answers):
    vm = {"Name": VM_ID, "ElementName": "k8s"}
    if answers:
        assert select_vms([asked], [vm], "HV01") == [vm]
    else:
        with pytest.raises(HyperVError, match="no VM named or with id"):
            select_vms([asked], [vm], "HV01")


@pytest.mark.parametrize("asked, answers", ANSWERS)
def test_a_clusters_owner_hint_follows_the_rule(asked, answers):
    view = {"vms": {VM_ID: {"owner_node": "HVC-N1", "group": "k8s"}}}
    assert owner_of(view, asked) == ("HVC-N1" if answers else None)
