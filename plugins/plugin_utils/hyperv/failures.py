# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One sentence per failure that names the host, the cause and what to do about it.

These messages are what a person reads at the terminal or in AWX's job output, without the
rest of the run for context, so each one stands on its own. No secret ever enters them.
"""

from __future__ import annotations

import contextlib
import typing as t

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import CLUSTER_NAMESPACE, HyperVError
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.settings import SettingsError, WinRMSettings
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.errors import (
    AuthenticationError,
    CertificateError,
    CredentialEncodingError,
    ResponseError,
    TransportError,
    WSManError,
    WSManFault,
)


class StepFailed(Exception):
    """A failure, the step it interrupted (e.g. 'reading the vectors of VM web01') and, when a task
    talks to two hosts, which one."""

    def __init__(self, step: str, cause: Exception, host: str | None = None):
        super().__init__(f"{step}: {cause}")
        self.step = step
        self.cause = cause
        self.host = host


@contextlib.contextmanager
def step(description: str, host: str | None = None) -> t.Iterator[None]:
    """Label the failures of a block with what it was doing (and on which host)."""
    try:
        yield
    except (WSManError, HyperVError, SettingsError) as exc:
        raise StepFailed(description, exc, host) from exc


ACCOUNT_HINT = "the account must be a member of Hyper-V Administrators and Remote Management Users on the host"


def describe(exc: Exception, *, host: str, step: str, settings: WinRMSettings | None, namespace: str) -> str:
    """The message for `exc`, raised while doing `step` on inventory host `host`."""
    endpoint = settings.endpoint if settings else "its WinRM endpoint"
    user = repr(settings.username) if settings and settings.username else "the configured user"
    if isinstance(exc, SettingsError):
        return f"{host}: cannot connect ({step}): {exc}"
    if isinstance(exc, AuthenticationError):
        return (
            f"{host}: the WinRM service at {endpoint} rejected the credentials of {user} (HTTP 401) while "
            f"{step}. Check the user name and password (in AWX, the machine credential); {ACCOUNT_HINT}."
        )
    if isinstance(exc, CertificateError):
        return (
            f"{host}: the TLS certificate of {endpoint} was rejected while {step}: {_detail(exc)}. Trust the CA "
            "that issued it (ansible_winrm_ca_trust_path or the ca_trust_path option) and connect with the "
            "name it was issued for; turn validation off (validate_certs: false) only in a lab."
        )
    if isinstance(exc, TransportError):
        return (
            f"{host}: cannot reach the WinRM service at {endpoint} while {step}: {_detail(exc)}. Check the "
            "address and port, that a WinRM listener runs there (winrm enumerate winrm/config/listener), and "
            "that the firewall lets the controller in."
        )
    if isinstance(exc, CredentialEncodingError):
        return f"{host}: cannot send the credentials of {user} to {endpoint} while {step}: {_detail(exc)}."
    if isinstance(exc, WSManFault) and exc.namespace_missing:
        missing = f"{host}: {step} at {endpoint} failed: {_what_is_missing(exc, namespace)}"
        if namespace == CLUSTER_NAMESPACE:
            return (
                f"{missing}, so the host is not a node of a Hyper-V failover cluster. Use the default "
                "namespace root/virtualization/v2 for a standalone host."
            )
        return (
            f"{missing}, so the Hyper-V role is not installed there (Install-WindowsFeature Hyper-V "
            "-IncludeManagementTools), or this is not a Hyper-V host."
        )
    if isinstance(exc, WSManFault) and exc.access_denied:
        return f"{host}: access denied to {user} at {endpoint} while {step} ({_detail(exc)}); {ACCOUNT_HINT}."
    if isinstance(exc, WSManFault):
        return f"{host}: {step} at {endpoint} failed with a WS-Management fault: {_detail(exc)}."
    if isinstance(exc, ResponseError):
        return f"{host}: {step}: the reply from {endpoint} could not be used: {_detail(exc)}."
    if isinstance(exc, (HyperVError, WSManError)):
        return f"{host}: {step} at {endpoint} failed: {_detail(exc)}."
    return f"{host}: {step} failed: {type(exc).__name__}: {exc}"


def _what_is_missing(fault: WSManFault, namespace: str) -> str:
    """The namespace only when WMI said the namespace is missing; otherwise the class, in the provider's words."""
    if fault.class_missing:
        return f"the WMI namespace {namespace} has no class the request named ({_detail(fault)})"
    return f"the WMI namespace {namespace} does not exist"


def _detail(exc: Exception) -> str:
    """The error's own message without a repeated endpoint prefix."""
    text = str(exc)
    endpoint = getattr(exc, "endpoint", "")
    if endpoint and text.startswith(f"{endpoint}: "):
        text = text[len(endpoint) + 2:]
    return text.rstrip(".")
