# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hyper-V's own verdicts before a move: the blob check on the destination, the migratable pre-check
on the source. Both are read-only; neither is a guarantee, and neither replaces the vectors."""

from __future__ import annotations

import base64
import binascii
import typing as t

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import HyperVError, HyperVHost, MethodFailed
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman import cim_types
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.soap import CimXml

NOT_COMPATIBLE = 32784
MIGRATION_TYPES = {"live": 32768, "live_and_storage": 32771}  # Msvm_VirtualSystemMigrationSettingData.MigrationType
# CIM_VirtualSystemMigrationService.CheckVirtualSystemIsMigratable* return values (seed 002)
MIGRATABLE_CODES = {0: "OK", 1: "Not Supported", 2: "Failed", 3: "Timeout", 4: "Invalid Parameter",
                    5: "Invalid State", 6: "Incompatible Parameters"}
_WARNING_SEVERITIES = (2, 3)  # Msvm_Error.PerceivedSeverity: Information, Degraded/Warning


def migration_setting_data(migration_type: str, listener_addresses: list[str] | None) -> CimXml:
    properties: dict[str, tuple[str, t.Any]] = {"MigrationType": ("uint16", MIGRATION_TYPES[migration_type])}
    if listener_addresses:
        properties["DestinationIPAddressList"] = ("string", list(listener_addresses))
    return CimXml("Msvm_VirtualSystemMigrationSettingData", properties)


def blob_parameter(blob_b64: str, encoding: str) -> t.Any:
    """The blob in the wire form the source host used (bytes: one base64 element; list: a byte each)."""
    try:
        blob = base64.b64decode(blob_b64, validate=True)
    except (binascii.Error, ValueError):
        raise HyperVError("the VM's compatibility_info is not base64; gather it again with include_blob") from None
    if not blob:
        raise HyperVError("the VM's compatibility_info is empty; gather it again with include_blob")
    return list(blob) if encoding == "array" else blob


def check_blob(api: HyperVHost, blob_b64: str, encoding: str) -> dict[str, t.Any]:
    """CheckSystemCompatibilityInfo on the destination: {return_value, return_name, reasons, warnings}."""
    output = api.call("CheckSystemCompatibilityInfo", {"CompatibilityInfo": blob_parameter(blob_b64, encoding)},
                      read_only=True)
    code = output["ReturnValue"]
    if code not in (0, NOT_COMPATIBLE):
        raise MethodFailed("CheckSystemCompatibilityInfo", code)
    reasons, warnings = [], []
    for error in api.embedded_instances(output.get("Reasons"), "Reasons"):
        message = str(error.properties.get("Message") or "").strip() or "(a reason without a message)"
        severity = str(error.properties.get("PerceivedSeverity") or "")
        is_warning = code == 0 or (severity.isdigit() and int(severity) in _WARNING_SEVERITIES)
        (warnings if is_warning else reasons).append(message)
    if code == NOT_COMPATIBLE and not reasons:  # never let "not compatible" pass for want of a message
        reasons.append("The destination reports the VM not compatible (32784) without giving a reason.")
    return {"return_value": code, "return_name": "Not compatible" if code else "Completed with No Error",
            "reasons": reasons, "warnings": warnings}


def check_migratable(source: HyperVHost, vm: dict[str, t.Any], destination_host: str, migration_type: str,
                     listener_addresses: list[str] | None) -> dict[str, t.Any]:
    """CheckVirtualSystemIsMigratableToHost on the source: {return_value, return_name, is_migratable, reasons}."""
    output = source.call("CheckVirtualSystemIsMigratableToHost", {
        "ComputerSystem": source.system_reference(vm),
        "DestinationHost": destination_host,
        "MigrationSettingData": migration_setting_data(migration_type, listener_addresses),
    }, read_only=True)
    code = output["ReturnValue"]
    name = MIGRATABLE_CODES.get(code, "unknown return value")
    try:  # a boolean as CIM writes it (spaces, case); anything else is the host's error, not a "no"
        is_migratable = code == 0 and cim_types.convert(
            output.get("IsMigratable"), "boolean", "CheckVirtualSystemIsMigratableToHost.IsMigratable") is True
    except cim_types.CimTypeError as exc:
        raise HyperVError(f"{source.client.endpoint}: {exc}") from None
    reasons = []
    if code != 0:
        reasons.append(
            f"The source host's pre-check CheckVirtualSystemIsMigratableToHost returned {code} ({name}): the VM's "
            "state, live migration turned off on either host, or a host at its migration limit can cause it."
        )
    elif not is_migratable:
        reasons.append(f"The source host reports the VM is not migratable to {destination_host}.")
    return {"return_value": code, "return_name": name, "is_migratable": is_migratable, "reasons": reasons}
