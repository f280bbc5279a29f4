# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The argument spec every action shares: the connection options (documented in the vmgate.hyperv.winrm
fragment) and the WMI namespace (the vmgate.hyperv.namespace fragment)."""

from __future__ import annotations

import typing as t

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import CLUSTER_NAMESPACE, VIRTUALIZATION_NAMESPACE

WINRM_ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "hostname": {"type": "str"},
    "port": {"type": "int"},
    "scheme": {"type": "str", "choices": ["http", "https"]},
    "path": {"type": "str"},
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "transport": {"type": "str", "choices": ["ntlm", "kerberos", "credssp", "basic", "plaintext", "ssl", "certificate"]},
    "validate_certs": {"type": "bool"},
    "ca_trust_path": {"type": "path"},
    "message_encryption": {"type": "str", "choices": ["auto", "always", "never"]},
    "operation_timeout": {"type": "int"},
    "read_timeout": {"type": "int"},
    "allow_basic_over_http": {"type": "bool", "default": False},
}


HOST_ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "namespace": {"type": "str", "default": VIRTUALIZATION_NAMESPACE, "choices": [VIRTUALIZATION_NAMESPACE, CLUSTER_NAMESPACE]},
    **WINRM_ARGUMENT_SPEC,
}


def connection_options(args: dict[str, t.Any]) -> dict[str, t.Any]:
    """The connection options a task set (None where it left them to the host's settings)."""
    return {name: args.get(name) for name in WINRM_ARGUMENT_SPEC}
