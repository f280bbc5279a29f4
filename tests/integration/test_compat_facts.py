"""compat_facts run by ansible-playbook against hvsim over real sockets: every success and error path."""

from __future__ import annotations

import base64
import copy
import json
import socket
from pathlib import Path

import pytest
import yaml

from hvsim import blob, inventory
from integration.ansible_output import task_failure
from hvsim.pytest_fixtures import (  # noqa: F401  pylint: disable=unused-import
    DEMO_LAB,
    HVSIM_PASSWORD,
    HVSIM_USER,
    hvsim_factory,
    hvsim_lab,
    hvsim_session,
)

WEB01 = "6C9A2A5F-7F1B-4D4B-9C1E-0F0E1D2C3B4A"
DB01 = "1F3B5D7A-2C4E-4A6B-8D0F-1A2B3C4D5E01"
NEW_GEN_VECTORS = [
    {"vector_id": 1, "compare_operation": 2, "compatibility_info": 0xFFFFFFFFFFF},
    {"vector_id": 2, "compare_operation": 2, "compatibility_info": 231},
    {"vector_id": 3, "compare_operation": 0, "compatibility_info": 64},
]


def write_inventory(path: Path, sim, host: str, *, scheme="http", transport="ntlm", password=HVSIM_PASSWORD,
                    port=None, ca=True, **extra) -> Path:
    """An inventory with one simulated host, as an administrator would write it."""
    handle = sim.hosts[host]
    variables = inventory.host_vars(
        handle.bind, port or (handle.https_port if scheme == "https" else handle.http_port), scheme, transport,
        HVSIM_USER, password, handle.ca_file if ca else None,
    )
    if not ca:
        variables.pop("ansible_winrm_server_cert_validation", None)  # Ansible's default: validate
    variables.update(extra)
    path.write_text(yaml.safe_dump({"all": {"children": {"hyperv": {"hosts": {host: variables}}}}}))
    return path


@pytest.fixture
def gather(run_playbook, tmp_path):
    """Run compat_facts with `args` against one simulated host; returns (result, facts or None)."""

    def run(sim, host: str, args: dict, *playbook_args: str, **inventory_options):
        inventory_file = write_inventory(tmp_path / "inventory.yml", sim, host, **inventory_options)
        facts_file = tmp_path / "facts.json"
        playbook = tmp_path / "gather.yml"
        playbook.write_text(yaml.safe_dump([{
            "name": "Gather", "hosts": "hyperv", "gather_facts": False,
            "tasks": [
                {"name": "Gather compatibility facts", "vmgate.hyperv.compat_facts": args},
                {"name": "Keep them", "delegate_to": "localhost", "check_mode": False,
                 "ansible.builtin.copy": {"content": "{{ hyperv_compat | to_json }}", "dest": str(facts_file),
                                          "mode": "0600"}},
            ],
        }]))
        facts_file.unlink(missing_ok=True)
        result = run_playbook(playbook, "-i", str(inventory_file), *playbook_args)
        return result, (json.loads(facts_file.read_text()) if facts_file.exists() else None)

    return run


def enumerations(counters: dict) -> int:
    return sum(count for operation, count in counters.items() if operation.startswith(("Enumerate:", "Pull")))


def test_ntlm_with_message_encryption_over_http(hvsim_lab, gather):
    result, facts = gather(hvsim_lab, "HV-NEW-01", {"vms": ["db01", "batch01"], "include_blob": True}, "-vvv")
    assert result.returncode == 0, result.stdout
    assert HVSIM_PASSWORD not in result.stdout

    host = facts["host"]
    assert host["name"] == "HV-NEW-01" and host["namespace"] == "root/virtualization/v2"
    assert host["vectors"] == NEW_GEN_VECTORS
    assert host["migration_service"] == {
        "enabled_state": 2, "live_migration_enabled": True, "listener_addresses": ["10.10.2.21"],
        "active_vm_migrations": 0, "active_storage_migrations": 0, "max_vm_migrations": 2, "max_storage_migrations": 2,
        "selectors": {"CreationClassName": "Msvm_VirtualSystemMigrationService", "Name": "migrationwmi",
                      "SystemCreationClassName": "Msvm_ComputerSystem", "SystemName": "HV-NEW-01"},
    }
    db01, batch01 = facts["vms"]
    assert (db01["id"], db01["name"], db01["state"], db01["state_name"]) == (DB01, "db01", 2, "Running")
    assert db01["configuration_version"] == "10.0" and db01["vectors"] == NEW_GEN_VECTORS
    assert (batch01["state"], batch01["state_name"]) == (3, "Off")
    assert db01["compatibility_info_encoding"] == "base64"  # HV-NEW-01 sends uint8[] as one base64 element (a lab option)
    assert db01["compatibility_info"] and db01["compatibility_info"] != batch01["compatibility_info"]

    # The documented cost: 4 enumerations, one more for the failover cluster (this host is no cluster node), five for
    # memory (two for the host, three for the VMs, one of which runs), one vector Invoke per system (host + 2 VMs),
    # one blob Invoke per VM.
    counters = hvsim_lab.counters("HV-NEW-01")
    assert enumerations(counters) == 10 and counters["Enumerate:MSCluster_Resource"] == 1, counters
    assert host["cluster_node"] is False and host["cluster"] is None
    assert db01["cluster"] is None and batch01["cluster"] is None
    assert counters["Invoke:GetSystemCompatibilityVectors"] == 3
    assert counters["Invoke:GetSystemCompatibilityInfo"] == 2
    assert hvsim_lab.auth_counters("HV-NEW-01"), "NTLM authenticated"


def test_basic_over_https_validates_the_certificate(hvsim_lab, gather):
    result, facts = gather(hvsim_lab, "HV-OLD-01", {"vms": ["web01"]}, scheme="https", transport="basic")
    assert result.returncode == 0, result.stdout
    assert [vm["id"] for vm in facts["vms"]] == [WEB01]
    assert facts["host"]["endpoint"].startswith("https://")
    assert "include_blob" not in facts["vms"][0] and "compatibility_info" not in facts["vms"][0]


def test_host_only_costs_five_enumerations_and_one_invoke(hvsim_lab, gather):
    result, facts = gather(hvsim_lab, "HV-OLD-02", {})
    assert result.returncode == 0, result.stdout
    assert facts["vms"] == [] and facts["host"]["migration_service"]["live_migration_enabled"] is False
    assert hvsim_lab.counters("HV-OLD-02") == {
        "Enumerate:Msvm_VirtualSystemMigrationService": 1,
        "Enumerate:Msvm_VirtualSystemMigrationServiceSettingData": 1,
        "Enumerate:MSCluster_Resource": 1,  # the failover cluster: this host is no node
        "Enumerate:Win32_OperatingSystem": 1, "Enumerate:Win32_ComputerSystem": 1,  # its memory and processors
        "Invoke:GetSystemCompatibilityVectors": 1,
    }


@pytest.mark.parametrize("subset, parts", [
    (["min"], []),
    (["!host_vectors", "!configuration_versions", "!cluster", "!memory"], ["migration_settings"]),
    (["min", "cluster"], ["cluster"]),
    (["min", "host_vectors"], ["host_vectors"]),
])
def test_gather_subset_reads_only_the_parts_asked_for(hvsim_lab, gather, subset, parts):
    hvsim_lab.reset_counters()
    result, facts = gather(hvsim_lab, "HV-OLD-01", {"vms": ["web01"], "include_blob": True, "gather_subset": subset})
    assert result.returncode == 0, result.stdout
    assert facts["gather_subset"] == parts
    counters = hvsim_lab.counters("HV-OLD-01")
    always = {"Enumerate:Msvm_ComputerSystem": 1, "Enumerate:Msvm_VirtualSystemMigrationService": 1,
              "Invoke:GetSystemCompatibilityInfo": 1}
    assert {operation: counters.get(operation) for operation in always} == always
    assert ("Enumerate:Msvm_VirtualSystemMigrationServiceSettingData" in counters) == ("migration_settings" in parts)
    assert ("Enumerate:Msvm_VirtualSystemSettingData" in counters) == ("configuration_versions" in parts)
    assert counters["Invoke:GetSystemCompatibilityVectors"] == 1 + ("host_vectors" in parts)  # the VM's, and the host's
    assert ("Enumerate:MSCluster_Resource" in counters) == ("cluster" in parts)
    assert facts["host"]["cluster_node"] is (False if "cluster" in parts else None)
    service = facts["host"]["migration_service"]
    if "migration_settings" in parts:
        assert service["live_migration_enabled"] is True and service["max_vm_migrations"] == 2
    else:  # unknown, not "off"
        assert service["live_migration_enabled"] is None and service["max_vm_migrations"] is None
    assert (facts["host"]["vectors"] is None) == ("host_vectors" not in parts)
    web01 = facts["vms"][0]
    assert web01["vectors"] and web01["compatibility_info"] and web01["state_name"] == "Running"
    assert (web01["configuration_version"] is None) == ("configuration_versions" not in parts)


def test_an_unknown_gather_subset_is_refused_before_any_request(hvsim_lab, gather):
    hvsim_lab.reset_counters()
    result, facts = gather(hvsim_lab, "HV-OLD-01", {"gather_subset": ["host_vectors", "!vms"]})
    assert result.returncode != 0 and facts is None
    assert "gather_subset: '!vms' is not one of all, min, host_vectors, migration_settings, configuration_versions, cluster" \
        in task_failure(result)
    assert hvsim_lab.request_count("HV-OLD-01") == 0


def test_all_vms_ids_and_check_mode(hvsim_lab, gather):
    result, facts = gather(hvsim_lab, "HV-OLD-01", {"vms": "all"}, "--check")
    assert result.returncode == 0, result.stdout
    assert sorted(vm["name"] for vm in facts["vms"]) == ["app01", "web01"]
    result, facts = gather(hvsim_lab, "HV-OLD-01", {"vms": ["{" + WEB01.lower() + "}"]})
    assert result.returncode == 0, result.stdout
    assert [vm["name"] for vm in facts["vms"]] == ["web01"]


def test_basic_over_plain_http_is_refused_before_any_request(hvsim_lab, gather):
    result, _facts = gather(hvsim_lab, "HV-OLD-01", {}, transport="basic")
    message = task_failure(result)
    assert message.startswith("HV-OLD-01: ") and "Basic authentication over plain HTTP" in message
    assert "allow_basic_over_http" in message
    assert hvsim_lab.counters("HV-OLD-01") == {} and hvsim_lab.auth_counters("HV-OLD-01") == {}


def test_wrong_password(hvsim_lab, gather):
    message = task_failure(gather(hvsim_lab, "HV-OLD-01", {}, password="not-the-password")[0])
    assert "rejected the credentials" in message and "Hyper-V Administrators" in message
    assert "not-the-password" not in message and HVSIM_PASSWORD not in message


def test_certificate_rejected_without_the_ca(hvsim_lab, gather):
    message = task_failure(gather(hvsim_lab, "HV-OLD-01", {}, scheme="https", transport="basic", ca=False)[0])
    assert "TLS certificate" in message and "ca_trust_path" in message
    assert hvsim_lab.counters("HV-OLD-01") == {}


def test_unreachable_host(hvsim_lab, gather):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    message = task_failure(gather(hvsim_lab, "HV-OLD-01", {}, port=closed_port)[0])
    assert f"cannot reach the WinRM service at http://127.0.0.1:{closed_port}/wsman" in message
    assert "firewall" in message


def test_vm_not_found_and_wql_injection_stays_data(hvsim_lab, gather):
    message = task_failure(gather(hvsim_lab, "HV-OLD-01", {"vms": ["nosuchvm"]})[0])
    assert "no VM named or with id 'nosuchvm' on HV-OLD-01" in message
    # An injection attempt that would match every VM if it reached WQL unescaped:
    message = task_failure(gather(hvsim_lab, "HV-OLD-01", {"vms": ["x' OR Caption = 'Virtual Machine"]})[0])
    assert "no VM named or with id" in message


def lab_with(changes) -> dict:
    lab = copy.deepcopy(yaml.safe_load(Path(DEMO_LAB).read_text()))
    changes(lab)
    return lab


def test_duplicate_names_are_an_error_listing_ids_and_injected_names_match_literally(hvsim_factory, gather):
    def changes(lab):
        for vm in lab["vms"]:
            if vm["name"] == "app01":
                vm["host"] = "HV-OLD-01"
        lab["vms"].append({**lab["vms"][0], "name": "x' OR ElementName LIKE '%",
                           "guid": "0E0E0E0E-1111-2222-3333-444455556666"})

    sim = hvsim_factory(lab_with(changes))
    message = task_failure(gather(sim, "HV-OLD-01", {"vms": ["app01"]})[0])
    assert "2 VMs on HV-OLD-01 are named 'app01'" in message
    assert "1F3B5D7A-2C4E-4A6B-8D0F-1A2B3C4D5E05" in message and "1F3B5D7A-2C4E-4A6B-8D0F-1A2B3C4D5E06" in message
    result, facts = gather(sim, "HV-OLD-01", {"vms": ["1F3B5D7A-2C4E-4A6B-8D0F-1A2B3C4D5E06"]})
    assert result.returncode == 0 and facts["vms"][0]["state_name"] == "Saved"
    result, facts = gather(sim, "HV-OLD-01", {"vms": ["x' OR ElementName LIKE '%"]})
    assert result.returncode == 0, result.stdout
    assert [vm["id"] for vm in facts["vms"]] == ["0E0E0E0E-1111-2222-3333-444455556666"]


def test_hyperv_role_missing(hvsim_factory, gather):
    sim = hvsim_factory(lab_with(lambda lab: lab["hosts"][0].update(hyperv_role=False)))
    message = task_failure(gather(sim, "HV-OLD-01", {})[0])
    assert "root/virtualization/v2 does not exist" in message and "Install-WindowsFeature Hyper-V" in message


def test_cluster_namespace(hvsim_lab, gather):
    result, facts = gather(hvsim_lab, "HV-NEW-02", {"vms": ["analytics01"], "namespace": "root/HyperVCluster/v2"})
    assert result.returncode == 0, result.stdout
    assert facts["host"]["namespace"] == "root/HyperVCluster/v2"
    assert facts["vms"][0]["configuration_version"] == "12.0"
    message = task_failure(gather(hvsim_lab, "HV-OLD-01", {"namespace": "root/HyperVCluster/v2"})[0])
    assert "not a node of a Hyper-V failover cluster" in message


def test_access_denied(hvsim_lab, gather):
    hvsim_lab.inject("HV-OLD-01", "wmi_fault", op="Invoke:GetSystemCompatibilityVectors", code=2147749891,
                     message="Access denied")
    message = task_failure(gather(hvsim_lab, "HV-OLD-01", {})[0])
    assert "access denied to 'LAB\\\\hvadmin'" in message or "access denied to 'LAB\\hvadmin'" in message
    assert "reading the host's compatibility vectors" in message and "Hyper-V Administrators" in message


@pytest.mark.parametrize("kind", ["timeout", "drop"])
def test_transient_read_failures_are_retried(hvsim_lab, gather, kind):
    hvsim_lab.inject("HV-OLD-01", kind, op="Enumerate:Msvm_VirtualSystemMigrationService", times=1)
    result, facts = gather(hvsim_lab, "HV-OLD-01", {"vms": ["web01"]})
    assert result.returncode == 0, result.stdout
    assert facts["vms"][0]["id"] == WEB01
    assert hvsim_lab.counters("HV-OLD-01")["Enumerate:Msvm_VirtualSystemMigrationService"] == 2


def test_persistent_timeouts_fail_after_bounded_retries(hvsim_lab, gather):
    hvsim_lab.inject("HV-OLD-01", "timeout", op="Enumerate:Msvm_VirtualSystemMigrationService")
    message = task_failure(gather(hvsim_lab, "HV-OLD-01", {})[0])
    assert "reading the migration service" in message and "TimedOut" in message
    assert hvsim_lab.counters("HV-OLD-01")["Enumerate:Msvm_VirtualSystemMigrationService"] == 3


# Reading the VMs over several connections at once (issue 11)

BULK = [f"bulk{index:02}" for index in range(12)]


def bulk_lab(lab):
    """Twelve more VMs on HV-NEW-01, each with vectors of its own so that a VM's facts cannot pass for another's."""
    for index, name in enumerate(BULK):
        lab["vms"].append({
            "name": name, "guid": f"0B0B0B0B-0000-4000-8000-{index:012X}", "host": "HV-NEW-01",
            "state": "running" if index % 3 else "off", "version": "10.0",
            "vectors": [{"id": 1, "op": 2, "value": 0xFFF + index}, {"id": 2, "op": 2, "value": 231},
                        {"id": 3, "op": 0, "value": 64 + index}],
        })


def without_time(facts):
    """The facts without when they were read: gathered_at, and the time hvsim writes into each blob."""
    def vm_entry(vm):
        payload = blob.decode(base64.b64decode(vm["compatibility_info"]))
        return {**vm, "compatibility_info": {key: value for key, value in payload.items() if key != "captured"}}

    return {**{key: value for key, value in facts.items() if key != "gathered_at"},
            "vms": [vm_entry(vm) for vm in facts["vms"]]}


def test_several_connections_read_the_same_facts_in_the_same_order_with_the_same_requests(hvsim_factory, gather):
    sim = hvsim_factory(lab_with(bulk_lab))
    asked = BULK[5:] + ["db01"] + BULK[:5][::-1]  # not the host's order: the facts keep the order asked
    runs = {}
    for connections in (1, 4):
        sim.reset_counters()
        result, facts = gather(sim, "HV-NEW-01", {"vms": asked, "include_blob": True, "connections": connections})
        assert result.returncode == 0, result.stdout
        runs[connections] = (facts, sim.counters("HV-NEW-01"), sim.auth_counters("HV-NEW-01"))
    (serial, serial_requests, serial_auth), (spread, spread_requests, spread_auth) = runs[1], runs[4]
    assert [vm["name"] for vm in spread["vms"]] == asked
    assert without_time(spread) == without_time(serial)
    assert spread_requests == serial_requests
    assert serial_requests["Invoke:GetSystemCompatibilityVectors"] == 1 + len(asked)
    assert serial_requests["Invoke:GetSystemCompatibilityInfo"] == len(asked)
    # four connections, each authenticated once (NTLM with encryption), against one
    assert spread_auth["handshake"] == 4 * serial_auth["handshake"], (serial_auth, spread_auth)
    # every VM of the host (their versions asked for at once): the same facts for the same VMs
    result, every = gather(sim, "HV-NEW-01", {"vms": "all", "include_blob": True, "connections": 4})
    assert result.returncode == 0, result.stdout
    by_id = {vm["id"]: vm for vm in without_time(every)["vms"]}
    assert [by_id[vm["id"]] for vm in without_time(serial)["vms"]] == without_time(serial)["vms"]
    assert all(vm["configuration_version"] == "10.0" for vm in every["vms"])


def test_no_more_connections_than_vms(hvsim_lab, gather):
    handshakes = {}
    for connections in (1, 16):
        hvsim_lab.reset_counters()
        result, facts = gather(hvsim_lab, "HV-NEW-01", {"vms": ["db01", "batch01"], "connections": connections})
        assert result.returncode == 0, result.stdout
        assert [vm["name"] for vm in facts["vms"]] == ["db01", "batch01"]
        handshakes[connections] = hvsim_lab.auth_counters("HV-NEW-01")["handshake"]
    assert handshakes[16] == 2 * handshakes[1], handshakes  # two VMs: two connections of the 16 allowed


@pytest.mark.parametrize("connections", [1, 4])
def test_a_vm_whose_read_fails_fails_the_task_naming_it(hvsim_factory, gather, connections):
    sim = hvsim_factory(lab_with(bulk_lab))
    gone = sim.guid("bulk07")

    def move_away():  # after the VMs were found, before their vectors are read: bulk07 is no longer here
        with sim.lab.lock:
            sim.lab.vm(gone).host = "HV-NEW-02"

    sim.inject("HV-NEW-01", "call", op="Enumerate:Msvm_VirtualSystemMigrationService", times=1, action=move_away)
    result, facts = gather(sim, "HV-NEW-01", {"vms": "all", "include_blob": True, "connections": connections})
    assert result.returncode != 0 and facts is None
    message = task_failure(result)
    assert message == (
        f"HV-NEW-01: reading the compatibility vectors of VM 'bulk07' ({gone}) at {sim.hosts['HV-NEW-01'].endpoint} "
        "failed: GetSystemCompatibilityVectors returned 32773 (Invalid parameter)."
    ), message


@pytest.mark.parametrize("connections", [0, -1, 17])
def test_connections_out_of_bounds_are_refused_before_any_request(hvsim_lab, gather, connections):
    hvsim_lab.reset_counters()
    result, facts = gather(hvsim_lab, "HV-OLD-01", {"vms": ["web01"], "connections": connections})
    assert result.returncode != 0 and facts is None
    assert task_failure(result) == (
        f"connections must be from 1 to 16 (WinRM connections to the host at a time), got {connections}"
    )
    assert hvsim_lab.request_count("HV-OLD-01") == 0 and hvsim_lab.auth_counters("HV-OLD-01") == {}
