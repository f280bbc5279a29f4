# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed values for the WMI classes vmgate.hyperv reads.

WS-Management carries every value as text and an array of one looks like a scalar, so the
types come from the classes' MOF, restated here for the properties the collection uses.
Unlisted properties stay as they came.
"""

from __future__ import annotations

import typing as t

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.soap import Instance

_UINT_BITS = {"uint8": 8, "uint16": 16, "uint32": 32, "uint64": 64}

SCHEMAS: dict[str, dict[str, str]] = {
    "Msvm_CompatibilityVector": {
        "VectorId": "uint32", "CompareOperation": "uint32", "CompatibilityInfo": "uint64",
    },
    "Msvm_ComputerSystem": {
        "Caption": "string", "CreationClassName": "string", "ElementName": "string", "Name": "string",
        "EnabledState": "uint16", "HealthState": "uint16", "OperationalStatus": "uint16[]", "Version": "string",
    },
    "Msvm_VirtualSystemMigrationService": {
        "CreationClassName": "string", "Name": "string", "SystemCreationClassName": "string", "SystemName": "string",
        "EnabledState": "uint16", "ActiveVirtualSystemMigrationCount": "uint32",
        "ActiveStorageMigrationCount": "uint32", "MigrationServiceListenerIPAddressList": "string[]",
    },
    "Msvm_VirtualSystemMigrationServiceSettingData": {
        "EnableVirtualSystemMigration": "boolean", "MaximumActiveVirtualSystemMigration": "uint32",
        "MaximumActiveStorageMigration": "uint32",
    },
    "Msvm_MigrationJob": {
        "InstanceID": "string", "JobState": "uint16", "PercentComplete": "uint16", "ErrorCode": "uint16",
        "ErrorDescription": "string", "ErrorSummaryDescription": "string", "ElementName": "string",
        "VirtualSystemName": "string", "DestinationHost": "string",
    },
    "Msvm_VirtualSystemSettingData": {
        "InstanceID": "string", "ElementName": "string", "Version": "string", "VirtualSystemIdentifier": "string",
        "VirtualSystemType": "string",
    },
    "Msvm_Error": {"Message": "string", "MessageID": "string", "ErrorType": "uint16", "PerceivedSeverity": "uint16"},
}
SCHEMAS["Msvm_ConcreteJob"] = SCHEMAS["Msvm_MigrationJob"]


class CimTypeError(ValueError):
    """A value that does not fit the type its class declares."""


def convert(value: t.Any, cim_type: str, where: str) -> t.Any:
    """Convert a wire value (text, list, None) to the Python value of `cim_type`."""
    if cim_type.endswith("[]"):
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        return [convert(item, cim_type[:-2], f"{where}[{index}]") for index, item in enumerate(items)]
    if value is None:
        return None
    if isinstance(value, list):
        raise CimTypeError(f"{where}: several values where the class declares one {cim_type}")
    if cim_type in _UINT_BITS:
        text = str(value).strip()
        if not text.isdigit() or not text.isascii() or len(text) > 20 or int(text) >= 2 ** _UINT_BITS[cim_type]:
            raise CimTypeError(f"{where}: {text[:40]!r} is not a {cim_type}")
        return int(text)
    if cim_type == "boolean":
        text = str(value).strip().lower()
        if text not in ("true", "false", "1", "0"):
            raise CimTypeError(f"{where}: {text[:40]!r} is not a boolean")
        return text in ("true", "1")
    return value if isinstance(value, str) else str(value)


def typed(instance: Instance, where: str) -> dict[str, t.Any]:
    """The instance's properties with declared ones converted; raises CimTypeError.

    `where` names the class the caller asked for, or says where the instance came from. An instance of a class with
    no schema here (a subclass a WQL query selected, or an item of another class) is typed as the class asked for: it
    must not pass with its values untyped.
    """
    schema = SCHEMAS.get(instance.class_name) or SCHEMAS.get(where, {})
    properties = dict(instance.properties)
    for name, cim_type in schema.items():
        if name in properties or cim_type.endswith("[]"):
            properties[name] = convert(properties.get(name), cim_type, f"{where}.{name}")
    return properties
