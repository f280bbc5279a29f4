# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse compatibility vector lists into validated, hashable profiles.

Vectors reach the engine from facts (snake_case keys), from PowerShell's ConvertTo-Json (the
WMI property names) or from WS-Management (every value is text). Whatever the source, a list
either parses completely or raises VectorInputError naming the field, the value and where it
is: malformed input must never turn into a verdict.
"""

from __future__ import annotations

import math
import re
import typing as t
from collections.abc import Mapping, Sequence

UINT32_MAX = 2**32 - 1
UINT64_MAX = 2**64 - 1

# (our key, WMI property name, largest value allowed)
FIELDS = (
    ("vector_id", "VectorId", UINT32_MAX),
    ("compare_operation", "CompareOperation", UINT32_MAX),
    ("compatibility_info", "CompatibilityInfo", UINT64_MAX),
)

_DECIMAL = re.compile(r"[0-9]+")  # ASCII digits only: int() would accept '٣', ' 3' or '1_0'
_MAX_DIGITS = len(str(UINT64_MAX))


class VectorInputError(ValueError):
    """A vector list that cannot be read; the message names the field, value and position."""


class Vector(t.NamedTuple):
    """One Msvm_CompatibilityVector."""

    vector_id: int
    compare_operation: int
    compatibility_info: int


# A profile is a vector list in canonical form: sorted by id, so equal lists hash equal.
Profile = tuple[Vector, ...]


def describe(value: t.Any) -> str:
    """A value for an error message, cut short: input can be huge, or nested thousands deep."""
    text = _outline(value, _SHOWN_LEVELS)
    return text if len(text) <= 60 else text[:57] + "..."


_SHOWN_LEVELS = 3  # nesting shown in a message; repr() of deeper input would raise RecursionError
_SHOWN_ITEMS = 4
_SHOWN_BITS = 1024  # larger integers are described by their size: str() refuses more than 4300 digits


def _outline(value: t.Any, levels: int) -> str:
    """repr() of the first items of the first levels, with '...' for the rest: bounded work, no recursion limit."""
    if isinstance(value, (str, bytes)):
        return repr(value[:64])
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return repr(value) if value.bit_length() <= _SHOWN_BITS else f"<{'negative ' if value < 0 else ''}{value.bit_length()}-bit integer>"
    if isinstance(value, Mapping):
        if levels == 0:
            return "{...}"
        items = [f"{_outline(key, 0)}: {_outline(item, levels - 1)}" for key, item in _first(value.items())]
        return "{" + ", ".join(items) + (", ..." if len(value) > _SHOWN_ITEMS else "") + "}"
    if isinstance(value, Sequence):
        brackets = "()" if isinstance(value, tuple) else "[]"
        if levels == 0:
            return brackets[0] + "..." + brackets[1]
        items = [_outline(item, levels - 1) for item in _first(value)]
        rest = ", ..." if len(value) > _SHOWN_ITEMS else "," if len(value) == 1 and brackets == "()" else ""
        return brackets[0] + ", ".join(items) + rest + brackets[1]
    return f"<{type(value).__name__}>"


def _first(items: t.Iterable) -> list:
    return [item for _index, item in zip(range(_SHOWN_ITEMS), items)]


def parse_uint(value: t.Any, limit: int, where: str) -> int:
    """Read an unsigned integer given as an int or a decimal string."""
    if isinstance(value, bool):  # bool is an int subclass; True is not a vector value
        raise VectorInputError(f"{where}: {describe(value)} is a boolean, not an unsigned integer")
    if isinstance(value, int):
        number = int(value)
    elif isinstance(value, str):
        if not _DECIMAL.fullmatch(value):
            raise VectorInputError(
                f"{where}: {describe(value)} is not a non-negative decimal integer"
            )
        digits = value.lstrip("0") or "0"
        if len(digits) > _MAX_DIGITS:  # too large anyway; and int() refuses very long strings
            raise VectorInputError(f"{where}: {describe(value)} is larger than the maximum {limit}")
        number = int(digits)
    elif isinstance(value, float):
        kind = "a fractional number" if math.isfinite(value) and not value.is_integer() else "a float"
        raise VectorInputError(
            f"{where}: {describe(value)} is {kind}; give an integer or a decimal string"
        )
    elif value is None:
        raise VectorInputError(f"{where}: value is null; an unsigned integer is required")
    else:
        raise VectorInputError(
            f"{where}: {describe(value)} is a {type(value).__name__}, not an unsigned integer"
        )
    if number < 0:
        raise VectorInputError(f"{where}: {describe(number)} is negative; vector values are unsigned")
    if number > limit:
        raise VectorInputError(f"{where}: {describe(number)} is larger than the maximum {limit}")
    return number


def _field(entry: Mapping, key: str, wmi_name: str, where: str) -> t.Any:
    has_key, has_wmi = key in entry, wmi_name in entry
    if has_key and has_wmi:
        raise VectorInputError(f"{where}: gives both {key!r} and {wmi_name!r}; give one")
    if not (has_key or has_wmi):
        raise VectorInputError(f"{where}: missing {key!r} (or {wmi_name!r})")
    return entry[key] if has_key else entry[wmi_name]


def parse_vector(entry: t.Any, where: str) -> Vector:
    if not isinstance(entry, Mapping):
        raise VectorInputError(
            f"{where}: expected a mapping with vector_id, compare_operation and "
            f"compatibility_info, got {type(entry).__name__} {describe(entry)}"
        )
    values = []
    for key, wmi_name, limit in FIELDS:
        raw = _field(entry, key, wmi_name, where)
        values.append(parse_uint(raw, limit, f"{where}.{key}"))
    return Vector(*values)


def parse_profile(vectors: t.Any, where: str) -> Profile:
    """Validate a vector list and return it as a canonical (id-sorted) profile.

    `where` names the list in error messages, e.g. "vm_vectors" or "hosts['hv01']".
    """
    if vectors is None:
        raise VectorInputError(f"{where}: is null; expected a list of compatibility vectors")
    if isinstance(vectors, (str, bytes, Mapping)) or not isinstance(vectors, Sequence):
        raise VectorInputError(
            f"{where}: expected a list of compatibility vectors, "
            f"got {type(vectors).__name__} {describe(vectors)}"
        )
    seen: dict[int, int] = {}
    parsed = []
    for index, entry in enumerate(vectors):
        vector = parse_vector(entry, f"{where}[{index}]")
        first = seen.setdefault(vector.vector_id, index)
        if first != index:
            raise VectorInputError(
                f"{where}[{index}].vector_id: {vector.vector_id} appears twice "
                f"(first at {where}[{first}]); each id may appear once per list"
            )
        parsed.append(vector)
    parsed.sort()
    return tuple(parsed)


def parse_named_profiles(groups: t.Any, where: str) -> dict[str, Profile]:
    """Parse a mapping of name -> vector list (hosts or VMs)."""
    if not isinstance(groups, Mapping):
        raise VectorInputError(
            f"{where}: expected a mapping of name to vector list, "
            f"got {type(groups).__name__} {describe(groups)}"
        )
    profiles = {}
    for name, vectors in groups.items():
        if not isinstance(name, str):
            raise VectorInputError(f"{where}: key {describe(name)} is not a string name")
        profiles[name] = parse_profile(vectors, f"{where}[{name!r}]")
    return profiles
