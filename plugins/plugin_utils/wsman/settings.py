# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How to reach a host's WinRM service, resolved the way Ansible's own connection would.

Sources, strongest first: the task's options (documented in the vmgate.hyperv.winrm doc
fragment), the host's winrm or psrp connection options (which is where AWX's machine
credential arrives: `-u` and the prompted password land in remote_user/remote_password, not in
task vars), its `ansible_winrm_*` / `ansible_psrp_*` variables, and Ansible's defaults.
"""

from __future__ import annotations

import dataclasses
import typing as t

TRANSPORTS = ("ntlm", "kerberos", "credssp", "basic", "plaintext", "ssl", "certificate")
BASIC_TRANSPORTS = ("basic", "plaintext", "ssl")  # 'ssl' without a client certificate is Basic over TLS

# psrp's auth names -> pywinrm transports
_PSRP_AUTH = {"negotiate": "ntlm", "ntlm": "ntlm", "kerberos": "kerberos", "credssp": "credssp",
              "basic": "basic", "certificate": "certificate"}

# Task options -> WinRMSettings fields (the rest of the option names are the field names)
_OPTION_FIELDS = {
    "hostname": "host",
    "validate_certs": "server_cert_validation",
    "read_timeout": "read_timeout_sec",
    "operation_timeout": "operation_timeout_sec",
}


# ansible_winrm_<name> variables understood (the winrm connection maps scheme, transport and path
# to its own options; the others reach pywinrm as Protocol arguments)
_WINRM_VARIABLES = ("scheme", "transport", "path", "server_cert_validation", "ca_trust_path", "message_encryption",
                    "cert_pem", "cert_key_pem", "kerberos_delegation", "kerberos_hostname_override",
                    "read_timeout_sec", "operation_timeout_sec")


class SettingsError(ValueError):
    """Connection settings that cannot or must not be used."""


@dataclasses.dataclass(frozen=True)
class WinRMSettings:
    host: str
    port: int = 5986
    scheme: str = "https"
    path: str = "/wsman"
    transport: str = "ntlm"
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    server_cert_validation: str = "validate"
    ca_trust_path: str | None = None
    cert_pem: str | None = None
    cert_key_pem: str | None = dataclasses.field(default=None, repr=False)
    message_encryption: str = "auto"
    kerberos_delegation: bool = False
    kerberos_hostname_override: str | None = None
    read_timeout_sec: int = 70
    operation_timeout_sec: int = 60
    allow_basic_over_http: bool = False

    @property
    def endpoint(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}/{self.path.lstrip('/')}"

    def check(self) -> WinRMSettings:
        """Refuse settings that would be unsafe or cannot work; return self."""
        if not self.host:
            raise SettingsError("no host to connect to: set ansible_host or the hostname option")
        if self.scheme not in ("http", "https"):
            raise SettingsError(f"scheme {self.scheme!r} is not http or https")
        if self.transport not in TRANSPORTS:
            raise SettingsError(f"transport {self.transport!r} is not one of {', '.join(TRANSPORTS)}")
        if self.server_cert_validation not in ("validate", "ignore"):
            raise SettingsError(f"server_cert_validation {self.server_cert_validation!r} is not validate or ignore")
        if self.message_encryption not in ("auto", "always", "never"):
            raise SettingsError(f"message_encryption {self.message_encryption!r} is not auto, always or never")
        if not 0 < self.port < 65536:
            raise SettingsError(f"port {self.port} is out of range")
        if self.operation_timeout_sec < 1 or self.read_timeout_sec <= self.operation_timeout_sec:
            raise SettingsError("read_timeout must be longer than operation_timeout, and both positive")
        basic = self.transport in BASIC_TRANSPORTS and not self.cert_pem
        if basic and self.scheme == "http" and not self.allow_basic_over_http:
            raise SettingsError(
                f"Basic authentication over plain HTTP ({self.endpoint}) would send the password in the "
                "clear and is refused. Use HTTPS (ansible_winrm_scheme=https, port 5986), or a transport "
                "that encrypts messages (ntlm, kerberos, credssp), or set allow_basic_over_http=true "
                "for a lab."
            )
        return self

    @property
    def certificate_unchecked(self) -> bool:
        """HTTPS whose certificate is not validated: any machine on the path can pose as the host."""
        return self.scheme == "https" and self.server_cert_validation == "ignore"

    @property
    def clear_text(self) -> str | None:
        """What crosses the network unencrypted with these settings: "basic" (the password and every request, over
        HTTP with allow_basic_over_http), "requests" (NTLM, Kerberos or CredSSP over HTTP with message_encryption
        never), or None."""
        if self.scheme != "http":
            return None
        if self.transport in BASIC_TRANSPORTS and not self.cert_pem:
            return "basic"
        if self.message_encryption == "never":
            return "requests"
        return None

    def protocol_kwargs(self) -> dict[str, t.Any]:
        """Arguments for winrm.protocol.Protocol."""
        kwargs: dict[str, t.Any] = {
            "endpoint": self.endpoint,
            "transport": self.transport,
            "username": self.username,
            "password": self.password,
            "server_cert_validation": self.server_cert_validation,
            "message_encryption": self.message_encryption,
            "read_timeout_sec": self.read_timeout_sec,
            "operation_timeout_sec": self.operation_timeout_sec,
            "kerberos_delegation": self.kerberos_delegation,
            "kerberos_hostname_override": self.kerberos_hostname_override,
            "cert_pem": self.cert_pem,
            "cert_key_pem": self.cert_key_pem,
        }
        if self.ca_trust_path:
            kwargs["ca_trust_path"] = self.ca_trust_path
        return kwargs


def _bool(value: t.Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on", "validate")


def _connection_option(connection: t.Any, name: str) -> t.Any:
    try:
        return connection.get_option(name)
    except (KeyError, AttributeError):
        return None
    except Exception:  # pylint: disable=broad-exception-caught  # AnsibleError: option unknown to this plugin
        return None


def _from_winrm(connection: t.Any, extras: dict[str, t.Any]) -> dict[str, t.Any]:
    found: dict[str, t.Any] = {}
    transport = _connection_option(connection, "transport")
    if isinstance(transport, (list, tuple)):
        transport = transport[0] if transport else None
    found["transport"] = transport
    found["scheme"] = _connection_option(connection, "scheme")
    found["path"] = _connection_option(connection, "path")
    for name, value in extras.items():
        key = name.removeprefix("ansible_winrm_")
        if key in _WINRM_VARIABLES:
            found[key] = value
    return found


def _from_psrp(connection: t.Any) -> dict[str, t.Any]:
    auth = _connection_option(connection, "auth")
    cert_validation = _connection_option(connection, "cert_validation")
    return {
        "scheme": _connection_option(connection, "protocol"),
        "path": _connection_option(connection, "path"),
        "transport": _PSRP_AUTH.get(str(auth).lower()) if auth else None,
        "server_cert_validation": None if cert_validation is None else ("ignore" if cert_validation == "ignore" else "validate"),
        "ca_trust_path": _connection_option(connection, "ca_cert"),
        "message_encryption": _connection_option(connection, "message_encryption"),
        "cert_pem": _connection_option(connection, "certificate_pem"),
        "cert_key_pem": _connection_option(connection, "certificate_key_pem"),
        "kerberos_delegation": _connection_option(connection, "negotiate_delegate"),
        "kerberos_hostname_override": _connection_option(connection, "negotiate_hostname_override"),
        "read_timeout_sec": _connection_option(connection, "read_timeout"),
        "operation_timeout_sec": _connection_option(connection, "operation_timeout"),
    }


def resolve(connection: t.Any, options: dict[str, t.Any], extras: dict[str, t.Any] | None = None) -> WinRMSettings:
    """Merge task options over the host's connection settings over Ansible's defaults.

    `connection` is the action plugin's connection (winrm, psrp or any other); `extras` are the
    host's ansible_winrm_* variables when the connection plugin does not carry them itself.
    """
    transport_name = getattr(connection, "transport", "") or ""
    found: dict[str, t.Any] = {
        "host": _connection_option(connection, "remote_addr"),
        "port": _connection_option(connection, "port"),
        "username": _connection_option(connection, "remote_user"),
        "password": _connection_option(connection, "remote_password"),
    }
    if transport_name.endswith("psrp"):
        found.update({k: v for k, v in _from_psrp(connection).items() if v is not None})
    else:
        winrm_extras = _connection_option(connection, "_extras") if transport_name.endswith("winrm") else None
        found.update({k: v for k, v in _from_winrm(connection, winrm_extras or extras or {}).items() if v is not None})
    for option, value in options.items():
        if value is not None:
            found[_OPTION_FIELDS.get(option, option)] = value
    return _finish(found)


def _finish(found: dict[str, t.Any]) -> WinRMSettings:
    """Apply Ansible's winrm defaults to what was found and type it; SettingsError for bad values."""
    if found.get("server_cert_validation") is not None and not isinstance(found["server_cert_validation"], str):
        found["server_cert_validation"] = "validate" if found["server_cert_validation"] else "ignore"
    port = _number(found, "port")
    scheme = found.get("scheme") or ("http" if port == 5985 else "https")
    if port is None:
        port = 5985 if scheme == "http" else 5986
    username = found.get("username")
    transport = found.get("transport")
    if not transport:  # Ansible's choice: Kerberos for user@REALM, else Basic (over TLS for https)
        transport = "kerberos" if username and "@" in username else ("ssl" if scheme == "https" else "plaintext")
    fields = {field.name for field in dataclasses.fields(WinRMSettings)}
    values = {key: value for key, value in found.items() if key in fields and value is not None}
    values.update(host=str(found.get("host") or "").strip().strip("[]"), port=port, scheme=scheme,
                  transport=str(transport).lower())
    for flag in ("kerberos_delegation", "allow_basic_over_http"):
        if flag in values:
            values[flag] = _bool(values[flag])
    for number in ("read_timeout_sec", "operation_timeout_sec"):
        if number in values:
            values[number] = _number(values, number)
    return WinRMSettings(**values).check()


def _number(values: dict[str, t.Any], name: str) -> int | None:
    value = values.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name} {value!r} is not a whole number") from None
