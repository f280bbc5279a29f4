# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""winrm_settings.resolve: the host's winrm or psrp connection settings, its ansible_winrm_* extras and
the task's options, merged over Ansible's winrm defaults; unsafe or unusable settings refused; the
password never shown."""

from __future__ import annotations

import pytest

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.settings import (
    SettingsError,
    WinRMSettings,
    resolve,
)

PASSWORD = "Pa55-w0rd!never-shown"
KEY_PEM = "-----BEGIN PRIVATE KEY-----secret-key-----END PRIVATE KEY-----"


class FakeConnection:
    """An Ansible connection plugin as an action plugin sees it: `transport` names the plugin and
    get_option raises KeyError for an option the plugin does not have, as AnsiblePlugin does."""

    def __init__(self, plugin, **options):
        self.transport = plugin
        self._options = options

    def get_option(self, name):
        return self._options[name]


def winrm(**options):
    """The winrm plugin with Ansible's defaults for an inventory host hv01 (override any of them)."""
    defaults = {"remote_addr": "hv01.example.com", "port": 5986, "remote_user": "admin",
                "remote_password": PASSWORD, "transport": None, "scheme": None, "path": "/wsman", "_extras": {}}
    return FakeConnection("ansible.builtin.winrm", **{**defaults, **options})


def psrp(**options):
    defaults = {"remote_addr": "hv01.example.com", "port": None, "remote_user": "admin",
                "remote_password": PASSWORD, "protocol": None, "path": "wsman", "auth": "negotiate",
                "cert_validation": "validate", "ca_cert": None, "message_encryption": "auto",
                "certificate_pem": None, "certificate_key_pem": None, "negotiate_delegate": None,
                "negotiate_hostname_override": None, "read_timeout": 30, "operation_timeout": 20}
    return FakeConnection("ansible.builtin.psrp", **{**defaults, **options})


def local():
    return FakeConnection("ansible.builtin.local")


def task(**options):
    """Task options as winrm_options.connection_options gives them: every name, None where unset."""
    names = ("hostname", "port", "scheme", "path", "username", "password", "transport", "validate_certs",
             "ca_trust_path", "message_encryption", "operation_timeout", "read_timeout")
    return {**dict.fromkeys(names), "allow_basic_over_http": False, **options}


def summary(settings):
    return settings.scheme, settings.port, settings.transport, settings.endpoint


# --- Ansible's defaults ---------------------------------------------------------------------------

@pytest.mark.parametrize("connection, expected", [
    (winrm(), ("https", 5986, "ssl", "https://hv01.example.com:5986/wsman")),
    (winrm(port=5985, remote_user="admin@CORP.EXAMPLE"), ("http", 5985, "kerberos", "http://hv01.example.com:5985/wsman")),
    (winrm(remote_user="admin@CORP.EXAMPLE"), ("https", 5986, "kerberos", "https://hv01.example.com:5986/wsman")),
    (winrm(port=5985, transport=["ntlm"]), ("http", 5985, "ntlm", "http://hv01.example.com:5985/wsman")),
    (winrm(port=5985, transport=["NTLM", "kerberos"]), ("http", 5985, "ntlm", "http://hv01.example.com:5985/wsman")),
    (winrm(port=5985, scheme="https"), ("https", 5985, "ssl", "https://hv01.example.com:5985/wsman")),
    (winrm(port=None, scheme="http", transport=["ntlm"]), ("http", 5985, "ntlm", "http://hv01.example.com:5985/wsman")),
    (winrm(port=8443, path="custom/wsman"), ("https", 8443, "ssl", "https://hv01.example.com:8443/custom/wsman")),
    (psrp(), ("https", 5986, "ntlm", "https://hv01.example.com:5986/wsman")),
    (psrp(protocol="http"), ("http", 5985, "ntlm", "http://hv01.example.com:5985/wsman")),
    (psrp(port=5985), ("http", 5985, "ntlm", "http://hv01.example.com:5985/wsman")),
], ids=["https", "upn-http-kerberos", "upn-https-kerberos", "transport-list", "first-of-transports",
        "scheme-beats-port", "port-from-scheme", "custom-port-and-path", "psrp", "psrp-http", "psrp-port-5985"])
def test_defaults_follow_ansible(connection, expected):
    assert summary(resolve(connection, task())) == expected


def test_field_defaults():
    settings = resolve(local(), task(hostname="hv01.example.com"))
    assert settings == WinRMSettings(host="hv01.example.com", transport="ssl")
    assert (settings.path, settings.server_cert_validation, settings.message_encryption) == ("/wsman", "validate", "auto")
    assert (settings.read_timeout_sec, settings.operation_timeout_sec) == (70, 60)
    assert (settings.username, settings.password, settings.ca_trust_path) == (None, None, None)


def test_credentials_come_from_the_connection():
    # AWX's machine credential: -u and the prompted password reach remote_user / remote_password
    settings = resolve(winrm(remote_user="CORP\\svc-hyperv"), task())
    assert (settings.host, settings.username, settings.password) == ("hv01.example.com", "CORP\\svc-hyperv", PASSWORD)


# --- ansible_winrm_* extras -----------------------------------------------------------------------

EXTRAS = {
    "ansible_winrm_server_cert_validation": "ignore",
    "ansible_winrm_ca_trust_path": "/etc/pki/hyperv-ca.pem",
    "ansible_winrm_message_encryption": "always",
    "ansible_winrm_cert_pem": "/etc/pki/client.pem",
    "ansible_winrm_cert_key_pem": "/etc/pki/client.key",
    "ansible_winrm_kerberos_delegation": "true",
    "ansible_winrm_kerberos_hostname_override": "hv01-spn.example.com",
    "ansible_winrm_read_timeout_sec": "130",
    "ansible_winrm_operation_timeout_sec": 120,
    "ansible_winrm_connection_timeout": 5,  # not a setting of ours
}
FROM_EXTRAS = {
    "server_cert_validation": "ignore", "ca_trust_path": "/etc/pki/hyperv-ca.pem", "message_encryption": "always",
    "cert_pem": "/etc/pki/client.pem", "cert_key_pem": "/etc/pki/client.key", "kerberos_delegation": True,
    "kerberos_hostname_override": "hv01-spn.example.com", "read_timeout_sec": 130, "operation_timeout_sec": 120,
}


def fields(settings, names):
    return {name: getattr(settings, name) for name in names}


@pytest.mark.parametrize("connection, extras", [
    (winrm(_extras=EXTRAS), None),
    (winrm(_extras=EXTRAS), {"ansible_winrm_message_encryption": "never"}),  # the plugin's own extras win
    (winrm(), EXTRAS),  # a winrm plugin without extras: the host's variables
    (local(), EXTRAS),
], ids=["winrm-extras", "winrm-extras-over-variables", "variables", "local-connection"])
def test_winrm_extras(connection, extras):
    settings = resolve(connection, task(hostname="hv01.example.com"), extras)
    assert fields(settings, FROM_EXTRAS) == FROM_EXTRAS


@pytest.mark.parametrize("validation, expected", [(False, "ignore"), (True, "validate"), ("validate", "validate")])
def test_server_cert_validation_from_extras(validation, expected):
    settings = resolve(winrm(_extras={"ansible_winrm_server_cert_validation": validation}), task())
    assert settings.server_cert_validation == expected


def test_scheme_transport_and_path_from_variables_without_a_winrm_connection():
    # The doc fragment: scheme and transport default to ansible_winrm_scheme / ansible_winrm_transport.
    # A winrm connection carries them as its own options; any other connection only has the variables.
    extras = {"ansible_winrm_scheme": "http", "ansible_winrm_transport": "ntlm", "ansible_winrm_path": "/wsman2"}
    settings = resolve(local(), task(hostname="hv01.example.com"), extras)
    assert (settings.scheme, settings.transport, settings.path) == ("http", "ntlm", "/wsman2")


# --- psrp -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("auth, transport", [
    ("negotiate", "ntlm"), ("ntlm", "ntlm"), ("kerberos", "kerberos"), ("credssp", "credssp"), ("basic", "basic"),
    ("Negotiate", "ntlm"), (None, "ssl"),
])
def test_psrp_auth(auth, transport):
    assert resolve(psrp(auth=auth), task()).transport == transport


def test_psrp_mapping():
    connection = psrp(
        remote_addr="hv02.example.com", port=15986, protocol="https", path="/wsman-psrp", auth="certificate",
        cert_validation="ignore", ca_cert="/ca.pem", message_encryption="never", certificate_pem="/c.pem",
        certificate_key_pem=KEY_PEM, negotiate_delegate=True, negotiate_hostname_override="spn.example.com",
        read_timeout=100, operation_timeout=90,
    )
    assert fields(resolve(connection, task()), (
        "host", "port", "scheme", "path", "transport", "server_cert_validation", "ca_trust_path",
        "message_encryption", "cert_pem", "cert_key_pem", "kerberos_delegation", "kerberos_hostname_override",
        "read_timeout_sec", "operation_timeout_sec",
    )) == {
        "host": "hv02.example.com", "port": 15986, "scheme": "https", "path": "/wsman-psrp", "transport": "certificate",
        "server_cert_validation": "ignore", "ca_trust_path": "/ca.pem", "message_encryption": "never",
        "cert_pem": "/c.pem", "cert_key_pem": KEY_PEM, "kerberos_delegation": True,
        "kerberos_hostname_override": "spn.example.com", "read_timeout_sec": 100, "operation_timeout_sec": 90,
    }


def test_psrp_ignores_winrm_variables():
    settings = resolve(psrp(), task(), {"ansible_winrm_server_cert_validation": "ignore"})
    assert settings.server_cert_validation == "validate"


# --- task options ---------------------------------------------------------------------------------

OPTIONS = {
    "hostname": "10.1.2.3", "port": 15985, "scheme": "http", "path": "/other", "username": "CORP\\other",
    "password": "task-password", "transport": "kerberos", "validate_certs": False, "ca_trust_path": "/task-ca.pem",
    "message_encryption": "always", "operation_timeout": 100, "read_timeout": 110,
}


@pytest.mark.parametrize("connection", [
    winrm(port=5986, transport=["ntlm"], scheme="https", _extras=EXTRAS), psrp(auth="credssp"), local(),
], ids=["winrm", "psrp", "local"])
def test_task_options_override_the_connection(connection):
    settings = resolve(connection, task(**OPTIONS), EXTRAS)
    assert fields(settings, ("host", "port", "scheme", "path", "username", "password", "transport",
                             "server_cert_validation", "ca_trust_path", "message_encryption",
                             "operation_timeout_sec", "read_timeout_sec")) == {
        "host": "10.1.2.3", "port": 15985, "scheme": "http", "path": "/other", "username": "CORP\\other",
        "password": "task-password", "transport": "kerberos", "server_cert_validation": "ignore",
        "ca_trust_path": "/task-ca.pem", "message_encryption": "always", "operation_timeout_sec": 100,
        "read_timeout_sec": 110,
    }


def test_unset_task_options_leave_the_connection_settings():
    assert resolve(winrm(port=5985, transport=["ntlm"]), task()).transport == "ntlm"


@pytest.mark.parametrize("validate_certs, expected", [(True, "validate"), (False, "ignore")])
def test_validate_certs(validate_certs, expected):
    connection = winrm(_extras={"ansible_winrm_server_cert_validation": "ignore" if validate_certs else "validate"})
    assert resolve(connection, task(validate_certs=validate_certs)).server_cert_validation == expected


def test_not_a_connection_plugin_at_all():
    assert resolve(None, task(hostname="hv01.example.com")).endpoint == "https://hv01.example.com:5986/wsman"


# --- Basic over HTTP ------------------------------------------------------------------------------

BASIC_OVER_HTTP = {
    "default-on-5985": (winrm(port=5985), task()),
    "basic": (local(), task(hostname="hv01.example.com", port=5985, transport="basic")),
    "plaintext": (local(), task(hostname="hv01.example.com", scheme="http", transport="plaintext")),
    "ssl-without-certificate": (local(), task(hostname="hv01.example.com", scheme="http", transport="ssl")),
    "psrp-basic": (psrp(protocol="http", auth="basic"), task()),
    "winrm-basic-variable": (winrm(port=5985, transport=["basic"]), task()),
}


@pytest.mark.parametrize("connection, options", BASIC_OVER_HTTP.values(), ids=BASIC_OVER_HTTP.keys())
def test_basic_over_http_is_refused_with_the_fix(connection, options):
    with pytest.raises(SettingsError) as info:
        resolve(connection, options)
    message = str(info.value)
    for fragment in ("Basic authentication over plain HTTP", "http://", "in the clear", "https", "5986",
                     "ntlm", "allow_basic_over_http"):
        assert fragment in message
    assert PASSWORD not in message


@pytest.mark.parametrize("connection, options", BASIC_OVER_HTTP.values(), ids=BASIC_OVER_HTTP.keys())
@pytest.mark.parametrize("allow", [True, "true", "yes"])
def test_basic_over_http_when_allowed(connection, options, allow):
    settings = resolve(connection, {**options, "allow_basic_over_http": allow})
    assert settings.scheme == "http" and settings.allow_basic_over_http is True


@pytest.mark.parametrize("options", [
    task(transport="ntlm"), task(transport="kerberos"), task(transport="credssp"),
    task(transport="certificate"), task(transport="ssl", cert_pem="/client.pem"),
], ids=["ntlm", "kerberos", "credssp", "certificate", "ssl-with-client-certificate"])
def test_encrypting_or_certificate_transports_over_http(options):
    assert resolve(winrm(port=5985), options).scheme == "http"


def test_basic_over_https_is_fine():
    assert resolve(winrm(), task(transport="basic")).endpoint == "https://hv01.example.com:5986/wsman"


# --- refused settings -----------------------------------------------------------------------------

def extras(**variables):
    return winrm(_extras={f"ansible_winrm_{name}": value for name, value in variables.items()})


REFUSED = {
    "port-too-high": (winrm(), task(port=65536), "port 65536 is out of range"),
    "port-negative": (winrm(), task(port=-1), "port -1 is out of range"),
    "port-zero": (winrm(), task(port=0), "port 0"),
    "port-not-a-number": (winrm(port="wsman"), task(), "port"),
    "scheme": (winrm(), task(scheme="ftp"), "scheme 'ftp' is not http or https"),
    "transport": (winrm(), task(transport="digest"), "transport 'digest' is not one of ntlm, kerberos"),
    "message-encryption": (extras(message_encryption="sometimes"), task(), "message_encryption 'sometimes'"),
    "cert-validation": (extras(server_cert_validation="no"), task(), "server_cert_validation 'no'"),
    "read-not-longer": (winrm(), task(read_timeout=60, operation_timeout=60), "read_timeout must be longer"),
    "read-shorter": (winrm(), task(read_timeout=30), "read_timeout must be longer"),
    "operation-zero": (winrm(), task(operation_timeout=0, read_timeout=10), "both positive"),
    "operation-too-long": (extras(operation_timeout_sec=70), task(), "read_timeout must be longer"),
    "timeout-not-a-number": (extras(read_timeout_sec="soon"), task(), "read_timeout"),
}


@pytest.mark.parametrize("connection, options, fragment", REFUSED.values(), ids=REFUSED.keys())
def test_refused(connection, options, fragment):
    with pytest.raises(SettingsError) as info:
        resolve(connection, options)
    assert fragment in str(info.value)
    assert PASSWORD not in str(info.value) and PASSWORD not in repr(info.value)


def test_no_host_is_refused_with_the_fix():
    with pytest.raises(SettingsError, match="no host to connect to: set ansible_host or the hostname option"):
        resolve(local(), task(username="admin", password=PASSWORD))


# --- endpoints and secrets ------------------------------------------------------------------------

@pytest.mark.parametrize("address, endpoint", [
    ("fe80::1", "https://[fe80::1]:5986/wsman"),
    ("2001:db8::5", "https://[2001:db8::5]:5986/wsman"),
    ("[2001:db8::5]", "https://[2001:db8::5]:5986/wsman"),
    ("192.0.2.7", "https://192.0.2.7:5986/wsman"),
])
def test_ipv6_endpoints_are_bracketed_once(address, endpoint):
    assert resolve(winrm(remote_addr=address), task()).endpoint == endpoint


def test_secrets_are_not_in_repr():
    settings = resolve(winrm(_extras={"ansible_winrm_cert_key_pem": KEY_PEM}), task())
    assert settings.password == PASSWORD and settings.cert_key_pem == KEY_PEM
    for text in (repr(settings), str(settings), repr([settings])):
        assert PASSWORD not in text and KEY_PEM not in text
    assert "admin" in repr(settings)


def test_protocol_kwargs():
    kwargs = resolve(winrm(port=5985, transport=["ntlm"]), task()).protocol_kwargs()
    assert kwargs["endpoint"] == "http://hv01.example.com:5985/wsman"
    assert (kwargs["transport"], kwargs["username"], kwargs["password"]) == ("ntlm", "admin", PASSWORD)
    assert (kwargs["read_timeout_sec"], kwargs["operation_timeout_sec"]) == (70, 60)
    assert "ca_trust_path" not in kwargs
    assert resolve(winrm(), task(ca_trust_path="/ca.pem")).protocol_kwargs()["ca_trust_path"] == "/ca.pem"
