"""HyperVHost calls methods with recorded service keys, and reads the service again when they are stale."""

from __future__ import annotations

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import HyperVHost
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.errors import WSManFault
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.soap import Instance

LIVE = {"CreationClassName": "Msvm_VirtualSystemMigrationService", "Name": "migrationwmi",
        "SystemCreationClassName": "Msvm_ComputerSystem", "SystemName": "HV01"}


class FakeClient:
    """Records requests; selectors other than LIVE's are refused as WinRM refuses them."""

    endpoint = "http://hv01:5985/wsman"

    def __init__(self):
        self.requests = []

    def enumerate(self, namespace, wql):
        self.requests.append(("enumerate", wql))
        return [Instance("Msvm_VirtualSystemMigrationService", dict(LIVE))]

    def invoke(self, namespace, class_name, method, selectors, parameters, *, read_only):
        self.requests.append(("invoke", method))
        if selectors != LIVE:
            raise WSManFault("no instance", subcode="InvalidSelectors")
        return {"ReturnValue": "0"}


def test_without_recorded_keys_the_service_is_read_once():
    client = FakeClient()
    api = HyperVHost(client)
    api.call("GetSystemCompatibilityVectors", {}, read_only=True)
    api.call("GetSystemCompatibilityVectors", {}, read_only=True)
    assert [request[0] for request in client.requests] == ["enumerate", "invoke", "invoke"]


def test_recorded_keys_spare_the_enumeration():
    client = FakeClient()
    api = HyperVHost(client)
    api.use_known_service(LIVE)
    assert api.call("CheckSystemCompatibilityInfo", {}, read_only=True)["ReturnValue"] == 0
    assert client.requests == [("invoke", "CheckSystemCompatibilityInfo")]


def test_stale_keys_cost_one_retry():
    client = FakeClient()
    api = HyperVHost(client)
    api.use_known_service({**LIVE, "SystemName": "HV01-OLD-NAME"})
    assert api.call("CheckSystemCompatibilityInfo", {}, read_only=True)["ReturnValue"] == 0
    assert [request[0] for request in client.requests] == ["invoke", "enumerate", "invoke"]


def test_incomplete_keys_are_not_used():
    client = FakeClient()
    api = HyperVHost(client)
    api.use_known_service({**LIVE, "SystemName": ""})
    api.call("CheckSystemCompatibilityInfo", {}, read_only=True)
    assert [request[0] for request in client.requests] == ["enumerate", "invoke"]
