# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""gather_systems over more connections: the same facts in the same order, the same requests, failures named alike."""

from __future__ import annotations

import threading

import pytest

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv import facts as hyperv_facts
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import HyperVError, HyperVHost
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.failures import StepFailed
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.soap import Instance

SERVICE = {"CreationClassName": "Msvm_VirtualSystemMigrationService", "Name": "migrationwmi",
           "SystemCreationClassName": "Msvm_ComputerSystem", "SystemName": "HV01"}
VMS = [{"Name": f"00000000-0000-4000-8000-{index:012X}", "ElementName": f"vm{index:02}", "EnabledState": 2,
        "CreationClassName": "Msvm_ComputerSystem"} for index in range(23)]


class Client:
    """One connection: the requests it carried, from which threads."""

    endpoint = "http://hv01:5985/wsman"

    def __init__(self, name):
        self.name = name
        self.requests = []
        self.threads = set()


class FakeHost:
    """HyperVHost's reads, answered from VMS; a VM named in `failing` fails its vector read."""

    namespace = "root/virtualization/v2"

    def __init__(self, client, failing=()):
        self.client = client
        self.failing = failing

    def _request(self, what):
        self.client.requests.append(what)
        self.client.threads.add(threading.get_ident())

    def configuration_versions(self, vm_ids, every_vm=False):  # pylint: disable=unused-argument
        self._request("Enumerate:Msvm_VirtualSystemSettingData")
        return {vm_id: "10.0" for vm_id in vm_ids}

    def host_reference(self):
        return {"CreationClassName": "Msvm_ComputerSystem", "Name": "HV01"}

    def migration_service(self):
        self._request("Enumerate:Msvm_VirtualSystemMigrationService")
        return dict(SERVICE)

    def migration_settings(self):
        self._request("Enumerate:Msvm_VirtualSystemMigrationServiceSettingData")
        return {"EnableVirtualSystemMigration": True}

    def vectors(self, system):
        self._request(f"Vectors:{system['Name']}")
        if system.get("ElementName") in self.failing:
            raise HyperVError(f"GetSystemCompatibilityVectors returned 32768 (Failed) for {system['ElementName']}")
        return [{"vector_id": 1, "compare_operation": 2, "compatibility_info": len(str(system["Name"]))}]

    def compatibility_blob(self, system):
        self._request(f"Blob:{system['Name']}")
        return system["ElementName"], "base64"

    def alongside(self, client):
        return FakeHost(client, self.failing)


def gather(connections, include_blob=True, failing=(), vms=VMS):
    clients = [Client(f"c{number}") for number in range(connections)]
    subset = frozenset(hyperv_facts.SUBSETS) - {"cluster", "memory"}  # both are read once per host, not per VM
    facts = hyperv_facts.gather_systems(FakeHost(clients[0], failing), vms, include_blob, subset,
                                        more_clients=clients[1:])
    facts.pop("gathered_at")
    return facts, clients


@pytest.mark.parametrize("connections", [2, 4, 16])
def test_more_connections_give_the_same_facts_in_the_same_order_with_the_same_requests(connections):
    serial, [alone] = gather(1)
    spread, clients = gather(connections)
    assert spread == serial
    assert [vm["name"] for vm in spread["vms"]] == [vm["ElementName"] for vm in VMS]
    assert sorted(request for client in clients for request in client.requests) == sorted(alone.requests)
    # the host's reads go over the first connection; the VMs' over every one, each connection in one thread
    assert [request for request in clients[0].requests if not request.startswith(("Vectors:0", "Blob:"))] == \
        [request for request in alone.requests if not request.startswith(("Vectors:0", "Blob:"))]
    assert all(len(client.threads) <= 1 for client in clients)
    assert len([client for client in clients if client.requests]) >= 2


def test_no_more_connections_used_than_vms():
    _facts, clients = gather(8, vms=VMS[:3])
    assert all(not client.requests for client in clients[3:])


def test_the_host_alone_uses_one_connection():
    facts, clients = gather(8, vms=[])
    assert facts["vms"] == [] and all(not client.requests for client in clients[1:])


@pytest.mark.parametrize("connections", [1, 4])
def test_a_vm_whose_read_fails_is_named_as_over_one_connection(connections):
    with pytest.raises(StepFailed) as raised:
        gather(connections, failing=("vm07", "vm15"))
    assert raised.value.step == f"reading the compatibility vectors of VM 'vm07' ({VMS[7]['Name']})"
    assert "32768 (Failed) for vm07" in str(raised.value.cause)


class RecordingClient:
    """A WSManClient's enumerate and invoke for HyperVHost, recording them."""

    endpoint = "http://hv01:5985/wsman"

    def __init__(self):
        self.requests = []

    def enumerate(self, namespace, wql):
        self.requests.append("enumerate")
        return [Instance("Msvm_VirtualSystemMigrationService", dict(SERVICE))]

    def invoke(self, namespace, class_name, method, selectors, parameters, *, read_only):
        self.requests.append(("invoke", method, tuple(sorted(selectors.items())), read_only))
        return {"ReturnValue": "0"}


def test_alongside_knows_the_service_so_its_calls_cost_no_enumeration():
    first, second = RecordingClient(), RecordingClient()
    api = HyperVHost(first, "root/HyperVCluster/v2")
    api.migration_service()
    other = api.alongside(second)
    assert other.client is second and other.namespace == "root/HyperVCluster/v2"
    other.call("GetSystemCompatibilityVectors", {}, read_only=True)
    assert first.requests == ["enumerate"]
    assert second.requests == [("invoke", "GetSystemCompatibilityVectors", tuple(sorted(SERVICE.items())), True)]


class SettingsClient(RecordingClient):
    """Realized settings of three VMs, whatever the query."""

    def enumerate(self, namespace, wql):
        self.requests.append(wql)
        return [Instance("Msvm_VirtualSystemSettingData", {"VirtualSystemIdentifier": vm_id, "Version": version})
                for vm_id, version in (("aa-1", "9.0"), ("BB-2", "10.0"), ("cc-3", "12.0"))]


def test_versions_of_every_vm_are_asked_for_without_naming_each():
    client = SettingsClient()
    assert HyperVHost(client).configuration_versions(["AA-1", "bb-2"], every_vm=True) == {"AA-1": "9.0", "bb-2": "10.0"}
    assert client.requests == ["SELECT * FROM Msvm_VirtualSystemSettingData WHERE "
                               "VirtualSystemType = 'Microsoft:Hyper-V:System:Realized'"]


def test_versions_of_some_vms_name_each():
    client = SettingsClient()
    assert HyperVHost(client).configuration_versions(["aa-1", "dd-4"]) == {"aa-1": "9.0", "dd-4": None}
    assert client.requests == ["SELECT * FROM Msvm_VirtualSystemSettingData WHERE "
                               "VirtualSystemType = 'Microsoft:Hyper-V:System:Realized' AND "
                               "(VirtualSystemIdentifier = 'aa-1' OR VirtualSystemIdentifier = 'dd-4')"]
