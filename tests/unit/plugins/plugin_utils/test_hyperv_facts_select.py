# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hyperv_facts.select_vms: each requested name or id resolves to exactly one VM, in the order asked."""

from __future__ import annotations

import pytest

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import HyperVError
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.facts import select_vms

WEB_A = "6C9A2A5F-7F1B-4D4B-9C1E-0F0E1D2C3B4A"
WEB_B = "11111111-2222-3333-4444-555555555555"
DB = "9F0E1D2C-3B4A-4D4B-9C1E-6C9A2A5F7F1B"
IMPOSTOR = "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE"  # named like WEB_A's id
GUID_NAMED = "0A0B0C0D-0000-4000-8000-000000000001"  # named with an id no VM has
UNUSED_ID = "DEADBEEF-0000-4000-8000-00000000FFFF"
WHERE = "hv01.example.com"


def vm(vm_id, name):
    return {"Name": vm_id, "ElementName": name, "Caption": "Virtual Machine", "EnabledState": 2}


CANDIDATES = [
    vm(WEB_A, "web01"), vm(WEB_B, "web01"), vm(DB, "DB01"), vm(IMPOSTOR, WEB_A.lower()), vm(GUID_NAMED, UNUSED_ID),
]


def braced(guid):
    return "{" + guid + "}"


def select(requested):
    return [selected["Name"] for selected in select_vms(requested, CANDIDATES, WHERE)]


@pytest.mark.parametrize("requested, ids", [
    ([], []),
    (["DB01"], [DB]),
    (["db01"], [DB]),  # WMI compares names without case
    ([WEB_A], [WEB_A]),
    ([WEB_A.lower()], [WEB_A]),
    ([braced(WEB_B)], [WEB_B]),
    ([braced(WEB_B).lower()], [WEB_B]),
    ([IMPOSTOR], [IMPOSTOR]),
    ([UNUSED_ID], [GUID_NAMED]),  # looks like an id, but only a name matches
    ([WEB_B, "db01", WEB_A], [WEB_B, DB, WEB_A]),
    ([WEB_B, braced(WEB_B.lower()), WEB_B], [WEB_B]),
    (["DB01", DB, "db01"], [DB]),
], ids=["none", "name", "name-any-case", "id", "id-lowercase", "id-braced", "id-braced-lowercase",
        "impostor-by-its-id", "guid-shaped-name", "order-kept", "id-spellings-once", "name-and-id-once"])
def test_select(requested, ids):
    assert select(requested) == ids


@pytest.mark.parametrize("requested", [WEB_A, WEB_A.lower(), braced(WEB_A)])
def test_an_id_beats_a_vm_named_like_it(requested):
    assert select([requested]) == [WEB_A]


@pytest.mark.parametrize("requested", ["web01", "WEB01"])
def test_a_duplicate_name_is_an_error_that_lists_the_ids(requested):
    with pytest.raises(HyperVError) as info:
        select(["db01", requested])
    message = str(info.value)
    assert f"2 VMs on {WHERE} are named {requested!r}" in message
    assert WEB_A in message and WEB_B in message and DB not in message
    assert "by its id" in message


def test_a_duplicate_name_is_resolved_by_id():
    assert select([WEB_A, WEB_B]) == [WEB_A, WEB_B]


@pytest.mark.parametrize("requested", ["web02", " web01", "web01 ", "{web01}", "", "DEADBEEF-0000-4000-8000-00000000AAAA"])
def test_unknown_vm(requested):
    with pytest.raises(HyperVError) as info:
        select(["db01", requested])
    message = str(info.value)
    assert f"no VM named or with id {requested!r} on {WHERE}" in message
    assert "Get-VM" in message


def test_candidates_without_properties_do_not_match():
    assert select_vms(["db01"], [{}, {"Name": None}, vm(DB, "db01")], WHERE) == [vm(DB, "db01")]
