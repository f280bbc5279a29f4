"""Hostile probes of the trust edges (issue 13): settings that turn protection off, whatever form they come in, are
each named in one warning per task; the warnings carry no secret and stay one line whatever the host names hold;
a duplicate vector id fails a Jinja plugin with a message that names it."""

from __future__ import annotations

import threading
import types

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.vmgate.hyperv.plugins.filter.compatibility import FilterModule
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.host_session import TrustEdges
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman import settings as winrm_settings
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.inventory_connection import InventoryConnection
from ansible_collections.vmgate.hyperv.plugins.test.compatible_with import TestModule as CompatibleWithTests

USER = "LAB\\svc-hyperv"
PASSWORD = "pässwörd-密码 hunter2"


def settings_of(name: str, **host_vars) -> winrm_settings.WinRMSettings:
    host_vars = {"ansible_user": USER, "ansible_password": PASSWORD, "ansible_winrm_transport": "ntlm", **host_vars}
    return winrm_settings.resolve(InventoryConnection(name, host_vars), {})


def warnings_for(*hosts: tuple[str, winrm_settings.WinRMSettings]) -> list[str]:
    edges = TrustEdges.of(types.SimpleNamespace())
    for label, settings in hosts:
        edges.add(label, settings)
    return edges.warnings()


@pytest.mark.parametrize("host_vars", [
    {"ansible_winrm_server_cert_validation": "ignore"},
    {"ansible_winrm_server_cert_validation": False},  # YAML false, as pywinrm would never read it
    {"ansible_winrm_server_cert_validation": "ignore", "ansible_winrm_transport": "certificate",
     "ansible_winrm_cert_pem": "/x.pem", "ansible_winrm_cert_key_pem": "/x.key"},
    {"ansible_connection": "psrp", "ansible_psrp_cert_validation": "ignore"},
    {"ansible_connection": "ansible.builtin.psrp", "ansible_psrp_cert_validation": "ignore", "ansible_psrp_auth": "kerberos",
     "ansible_user": "svc@CORP.EXAMPLE.COM"},
    {"ansible_winrm_server_cert_validation": "ignore", "ansible_port": 443},  # https on another port
], ids=["winrm", "yaml-false", "client-certificate", "psrp", "psrp-fqcn-kerberos", "port-443"])
def test_every_form_of_turning_validation_off_is_named(host_vars):
    settings = settings_of("hv01", **host_vars)
    assert settings.certificate_unchecked
    found = warnings_for(("hv01", settings))
    assert len(found) == 1 and found[0].startswith("TLS certificate validation is turned off for hv01 ("), found


def test_validation_through_the_task_option():
    settings = winrm_settings.resolve(InventoryConnection("hv01", {}), {"validate_certs": False})
    assert settings.certificate_unchecked and warnings_for(("hv01", settings))


@pytest.mark.parametrize("host_vars, transport", [
    ({"ansible_port": 5985, "ansible_winrm_message_encryption": "never"}, "ntlm"),
    ({"ansible_winrm_scheme": "http", "ansible_winrm_transport": "kerberos", "ansible_winrm_message_encryption": "never",
      "ansible_user": "svc@CORP.EXAMPLE.COM"}, "kerberos"),
    ({"ansible_winrm_scheme": "http", "ansible_winrm_transport": "credssp", "ansible_winrm_message_encryption": "never"},
     "credssp"),
    ({"ansible_connection": "psrp", "ansible_psrp_protocol": "http", "ansible_psrp_auth": "negotiate",
      "ansible_psrp_message_encryption": "never"}, "ntlm"),
    ({"ansible_connection": "psrp", "ansible_port": 5985, "ansible_psrp_auth": "kerberos",
      "ansible_psrp_message_encryption": "never"}, "kerberos"),
], ids=["ntlm-port-5985", "kerberos", "credssp", "psrp-negotiate", "psrp-kerberos"])
def test_message_encryption_off_over_http_is_clear_text(host_vars, transport):
    settings = settings_of("hv01", **host_vars)
    assert settings.clear_text == "requests"
    [found] = warnings_for(("hv01", settings))
    assert found.startswith(f"WinRM message encryption is turned off over plain HTTP for hv01 ({transport} with "
                            "message_encryption: never)"), found
    assert "password" not in found  # NTLM and Kerberos never send it, even without message encryption


@pytest.mark.parametrize("host_vars", [
    {"ansible_winrm_scheme": "https", "ansible_winrm_message_encryption": "never", "ansible_winrm_ca_trust_path": "/ca.pem"},
    {"ansible_port": 5985},
    {"ansible_port": 5985, "ansible_winrm_message_encryption": "always"},
    {"ansible_connection": "psrp", "ansible_psrp_protocol": "http", "ansible_psrp_auth": "ntlm"},
], ids=["never-over-https", "ntlm-auto", "ntlm-always", "psrp-auto"])
def test_protected_settings_say_nothing(host_vars):
    settings = settings_of("hv01", **host_vars)
    assert not settings.certificate_unchecked and settings.clear_text is None
    assert not warnings_for(("hv01", settings))


@pytest.mark.parametrize("transport", ["basic", "plaintext", "ssl"])
def test_basic_over_http_allowed_for_a_lab_says_the_password_travels_in_clear_text(transport):
    with pytest.raises(winrm_settings.SettingsError, match="Basic authentication over plain HTTP"):
        settings_of("hv01", ansible_port=5985, ansible_winrm_transport=transport)
    settings = winrm_settings.resolve(InventoryConnection("hv01", {"ansible_user": USER, "ansible_password": PASSWORD,
                                                                   "ansible_port": 5985, "ansible_winrm_transport": transport}),
                                      {"allow_basic_over_http": True})
    [found] = warnings_for(("hv01", settings))
    assert found.startswith("Basic authentication over plain HTTP for hv01") and "the password" in found


def test_one_warning_per_kind_names_every_host_once_and_no_secret():
    unchecked = {"ansible_winrm_server_cert_validation": "ignore"}
    clear = {"ansible_port": 5985, "ansible_winrm_message_encryption": "never"}
    hosts = [("hv03", settings_of("hv03", **unchecked)), ("hv01", settings_of("hv01", **unchecked)),
             ("hv02", settings_of("hv02", **clear)), ("hv01", settings_of("hv01", **unchecked)),
             ("hv04", settings_of("hv04"))]
    found = warnings_for(*hosts)
    assert [line.split(" (")[0] for line in found] == [
        "TLS certificate validation is turned off for hv01 and hv03",
        "WinRM message encryption is turned off over plain HTTP for hv02"]
    for line in found:
        assert PASSWORD not in line and "hunter2" not in line and "svc-hyperv" not in line and "hv04" not in line


def test_a_host_name_cannot_break_the_warning_into_lines():
    name = "hv01\n[WARNING]: all is well\r\n\tok"
    [found] = warnings_for((name, settings_of(name, ansible_host="10.0.0.1", ansible_winrm_server_cert_validation="ignore")))
    assert "\n" not in found and "\r" not in found and "\t" not in found
    assert "for hv01 [WARNING]: all is well ok (" in found


def test_sessions_opened_from_threads_are_all_counted():
    edges = TrustEdges.of(types.SimpleNamespace())
    settings = settings_of("x", ansible_winrm_server_cert_validation="ignore")
    threads = [threading.Thread(target=edges.add, args=(f"hv{index:03}", settings)) for index in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    [found] = edges.warnings()
    assert all(f"hv{index:03}" in found for index in range(64))


def test_the_record_belongs_to_one_action():
    first, second = types.SimpleNamespace(), types.SimpleNamespace()
    TrustEdges.of(first).add("hv01", settings_of("hv01", ansible_winrm_server_cert_validation="ignore"))
    assert TrustEdges.of(first) is TrustEdges.of(first) and TrustEdges.of(second).warnings() == []


VECTOR = {"vector_id": 7, "compare_operation": 2, "compatibility_info": 1}


@pytest.mark.parametrize("plugin, kind, name", [
    (FilterModule().filters()["compat_report"], "filter", "compat_report"),
    (FilterModule().filters()["vm_compatible"], "filter", "vm_compatible"),
    (CompatibleWithTests().tests()["compatible_with"], "test", "compatible_with"),
])
def test_a_duplicate_vector_id_is_the_task_results_message(plugin, kind, name):
    host = [VECTOR] + [dict(VECTOR, vector_id=index) for index in range(100, 50_099)] + [VECTOR]
    with pytest.raises(AnsibleFilterError) as raised:
        plugin([VECTOR], host)
    duplicate = "host_vectors[50000].vector_id: 7 appears twice (first at host_vectors[0])"
    assert str(raised.value).startswith(duplicate)
    # what ansible-core 2.19 makes the failed task's msg, instead of "Finalization of task args ... failed: ..."
    contribution = getattr(raised.value, "result_contribution", None)
    if contribution is not None:
        assert contribution["msg"].startswith(f"The {kind} plugin 'vmgate.hyperv.{name}' failed: {duplicate}")
        assert contribution["failed"] is True and len(contribution["msg"]) < 300
