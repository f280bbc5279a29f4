# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CIM-XML embedded instances (DSP0201 INSTANCE elements), as carried by string parameters such as MigrationSettingData.

Parsing goes through the hardened parser and converts each PROPERTY by its TYPE; rendering is used for
EmbeddedInstance string out parameters (Reasons) when a host is set to send them as CIM-XML text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hvsim.xmlutil import UnsafeXmlError, attr, safe_fromstring, text

MAX_EMBEDDED = 64 * 1024
_INTEGER_TYPES = {'uint8', 'uint16', 'uint32', 'uint64', 'sint8', 'sint16', 'sint32', 'sint64'}


class CimXmlError(ValueError):
    """Not a usable embedded instance."""


@dataclass
class EmbeddedInstance:
    """Class name plus converted property values (arrays as lists, absent VALUE as None)."""

    class_name: str
    properties: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        """Property by case-insensitive name."""
        for key, value in self.properties.items():
            if key.lower() == name.lower():
                return value
        return default


def _convert(raw: str | None, cim_type: str, where: str) -> Any:
    if raw is None:
        return None
    cim_type = cim_type.lower()
    if cim_type in _INTEGER_TYPES:
        try:
            return int(raw.strip(), 10)
        except ValueError as exc:
            raise CimXmlError(f'{where}: {raw!r} is not a {cim_type}') from exc
    if cim_type == 'boolean':
        lowered = raw.strip().lower()
        if lowered not in ('true', 'false'):
            raise CimXmlError(f'{where}: {raw!r} is not a boolean')
        return lowered == 'true'
    if cim_type in ('real32', 'real64'):
        try:
            return float(raw)
        except ValueError as exc:
            raise CimXmlError(f'{where}: {raw!r} is not a {cim_type}') from exc
    return raw


def parse_instance(document: str) -> EmbeddedInstance:
    """Parse `<INSTANCE CLASSNAME=..><PROPERTY NAME TYPE><VALUE>..` text; raises CimXmlError."""
    try:
        root = safe_fromstring(document.strip(), MAX_EMBEDDED)
    except UnsafeXmlError as exc:
        raise CimXmlError(str(exc)) from exc
    if root.tag != 'INSTANCE' or not root.get('CLASSNAME'):
        raise CimXmlError('expected an INSTANCE element with a CLASSNAME')
    instance = EmbeddedInstance(root.get('CLASSNAME'))
    for prop in root:
        name = prop.get('NAME')
        if not name:
            raise CimXmlError(f'{prop.tag} without a NAME')
        cim_type = prop.get('TYPE', 'string')
        where = f'{instance.class_name}.{name}'
        if prop.tag == 'PROPERTY':
            value = prop.find('VALUE')
            instance.properties[name] = _convert(None if value is None else (value.text or ''), cim_type, where)
        elif prop.tag == 'PROPERTY.ARRAY':
            array = prop.find('VALUE.ARRAY')
            items = [] if array is None else [_convert(item.text or '', cim_type, where) for item in array.findall('VALUE')]
            instance.properties[name] = None if array is None else items
        elif prop.tag == 'PROPERTY.REFERENCE':
            instance.properties[name] = None  # not needed by any simulated method
        else:
            raise CimXmlError(f'unexpected element {prop.tag} in INSTANCE')
    return instance


def _cim_value(value: Any) -> str:
    if isinstance(value, bool):
        return 'TRUE' if value else 'FALSE'
    return text(value)


def render_instance(class_name: str, values: dict[str, Any], types: dict[str, str]) -> str:
    """CIM-XML text for an instance; types map property names to CIM types ('string[]' for arrays)."""
    parts = [f'<INSTANCE CLASSNAME={attr(class_name)}>']
    for name in sorted(values):
        value = values[name]
        cim_type = types.get(name, 'string')
        if cim_type.endswith('[]'):
            base = cim_type[:-2]
            parts.append(f'<PROPERTY.ARRAY NAME={attr(name)} TYPE={attr(base)}>')
            if value is not None:
                parts.append('<VALUE.ARRAY>' + ''.join(f'<VALUE>{_cim_value(item)}</VALUE>' for item in value) + '</VALUE.ARRAY>')
            parts.append('</PROPERTY.ARRAY>')
        else:
            parts.append(f'<PROPERTY NAME={attr(name)} TYPE={attr(cim_type)}>')
            if value is not None:
                parts.append(f'<VALUE>{_cim_value(value)}</VALUE>')
            parts.append('</PROPERTY>')
    parts.append('</INSTANCE>')
    return ''.join(parts)
