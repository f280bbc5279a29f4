# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""failures: each message stands alone (host, step, endpoint, cause, remedy) and never shows the password."""

from __future__ import annotations

import pytest

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import HyperVError, MethodFailed
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.failures import StepFailed, describe, step
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.settings import SettingsError, WinRMSettings
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.errors import (
    AuthenticationError,
    CertificateError,
    ResponseError,
    TransportError,
    WSManError,
    WSManFault,
)

PASSWORD = "Pa55-w0rd!never-shown"
HOST = "hyperv-node-a"  # the inventory name, distinct from the address connected to
SETTINGS = WinRMSettings(host="hv01.example.com", username="CORP\\svc-hyperv", password=PASSWORD)
ENDPOINT = SETTINGS.endpoint
STEP = "reading the compatibility vectors of VM 'web01' (6C9A2A5F-7F1B-4D4B-9C1E-0F0E1D2C3B4A)"
V2 = "root/virtualization/v2"
CLUSTER = "root/HyperVCluster/v2"
ACCOUNT = ["svc-hyperv", "Hyper-V Administrators", "Remote Management Users"]


def at_endpoint(error_class, detail, **codes):
    """An error as the client raises it: its message prefixed with the endpoint."""
    return error_class(f"{ENDPOINT}: {detail}", endpoint=ENDPOINT, **codes)


def namespace_fault():
    return WSManFault("Invalid namespace [w:InternalError, WMI error 2147749902 (0x8004100E)]", endpoint=ENDPOINT,
                      subcode="InternalError", wsman_code=2150858752, wmi_code=2147749902)


# error, namespace, what the message must contain
CASES = {
    "settings": (SettingsError("transport 'digest' is not one of ntlm, kerberos"), V2,
                 [HOST, "cannot connect", "transport 'digest'"]),
    "authentication": (at_endpoint(AuthenticationError, "HTTP 401"), V2,
                       [HOST, STEP, ENDPOINT, "rejected the credentials", "401", "machine credential", *ACCOUNT]),
    "certificate": (at_endpoint(CertificateError, "certificate verify failed: self-signed certificate"), V2,
                    [HOST, STEP, ENDPOINT, "self-signed certificate", "ca_trust_path", "ansible_winrm_ca_trust_path",
                     "validate_certs"]),
    "transport": (at_endpoint(TransportError, "connection refused"), V2,
                  [HOST, STEP, ENDPOINT, "connection refused", "port", "listener", "firewall"]),
    "namespace-missing": (namespace_fault(), V2,
                          [HOST, V2, "Hyper-V role is not installed", "Install-WindowsFeature Hyper-V"]),
    "class-missing": (WSManFault("Invalid class", endpoint=ENDPOINT, wmi_code=2147749904), V2,
                      [HOST, V2, "Install-WindowsFeature"]),
    "stale-selectors": (WSManFault("The service cannot find the resource identified by the resource URI and selectors. "
                                   "[a:DestinationUnreachable, WSManFault 2150858752]", endpoint=ENDPOINT,
                                   subcode="DestinationUnreachable", wsman_code=2150858752), V2,
                        [HOST, STEP, "WS-Management fault", "DestinationUnreachable", "2150858752"]),
    "cluster-namespace-missing": (namespace_fault(), CLUSTER,
                                  [HOST, CLUSTER, "failover cluster", "root/virtualization/v2"]),
    "access-denied": (WSManFault("Access is denied. [w:AccessDenied, WSManFault 5]", endpoint=ENDPOINT,
                                 subcode="AccessDenied", wsman_code=5), V2,
                      [HOST, STEP, "access denied", "Access is denied", *ACCOUNT]),
    "wmi-access-denied": (WSManFault("Access denied", endpoint=ENDPOINT, wmi_code=2147749891), V2,
                          [HOST, STEP, *ACCOUNT]),
    "other-fault": (WSManFault("The selectors match no instance. [w:InvalidSelectors, WSManFault 2150858843]",
                               endpoint=ENDPOINT, subcode="InvalidSelectors", wsman_code=2150858843), V2,
                    [HOST, STEP, "WS-Management fault", "w:InvalidSelectors", "2150858843"]),
    "response": (at_endpoint(ResponseError, "the response is not well-formed XML (syntax error, line 1)"), V2,
                 [HOST, STEP, ENDPOINT, "could not be used", "not well-formed XML"]),
    "method-failed": (MethodFailed("GetSystemCompatibilityVectors", 32775), V2,
                      [HOST, STEP, "GetSystemCompatibilityVectors returned 32775", "Invalid state for this operation"]),
    "hyperv": (HyperVError("no VM named 'web02' on hv01.example.com"), V2, [HOST, STEP, "no VM named 'web02'"]),
    "wsman": (WSManError("the host closed the enumeration"), V2, [HOST, STEP, "closed the enumeration"]),
    "unexpected": (RuntimeError("surprise"), V2, [HOST, STEP, "RuntimeError", "surprise"]),
}

# the errors step() labels with what was being done
LABELLED = {name: case for name, case in CASES.items() if isinstance(case[0], (WSManError, HyperVError, SettingsError))}


@pytest.mark.parametrize("error, namespace, fragments", CASES.values(), ids=CASES.keys())
def test_describe(error, namespace, fragments):
    message = describe(error, host=HOST, step=STEP, settings=SETTINGS, namespace=namespace)
    for fragment in fragments:
        assert fragment in message
    assert message.startswith(f"{HOST}: ")
    assert PASSWORD not in message
    assert ENDPOINT + ": " not in message  # the endpoint prefix of the cause is not repeated
    assert ".." not in message


@pytest.mark.parametrize("error, namespace", [case[:2] for case in CASES.values()], ids=CASES.keys())
def test_describe_without_settings(error, namespace):
    message = describe(error, host=HOST, step=STEP, settings=None, namespace=namespace)
    assert message.startswith(f"{HOST}: ")
    assert "None" not in message


def test_without_settings_the_endpoint_and_user_are_named_generically():
    message = describe(AuthenticationError("HTTP 401"), host=HOST, step=STEP, settings=None, namespace=V2)
    assert "its WinRM endpoint" in message and "the configured user" in message


@pytest.mark.parametrize("error, namespace, fragments", LABELLED.values(), ids=LABELLED.keys())
def test_step_labels_the_failure(error, namespace, fragments):
    with pytest.raises(StepFailed) as info:
        with step(STEP):
            raise error
    failed = info.value
    assert (failed.step, failed.cause, failed.__cause__) == (STEP, error, error)
    assert str(failed) == f"{STEP}: {error}"
    message = describe(failed.cause, host=HOST, step=failed.step, settings=SETTINGS, namespace=namespace)
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize("error", [RuntimeError("surprise"), KeyError("Name")])
def test_step_lets_other_errors_through(error):
    with pytest.raises(type(error)) as info:
        with step(STEP):
            raise error
    assert info.value is error


def test_step_passes_results_through():
    with step(STEP):
        value = 42
    assert value == 42
