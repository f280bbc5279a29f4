# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compare a VM's compatibility vectors with a host's and explain every failure.

Semantics are those of Msvm_CompatibilityVector: the VM's value is the left operand, the host's
the right one, and the VM vector's CompareOperation governs. Anything the engine cannot prove
compatible (a vector the host does not report, an unknown operation, a zero divisor, a VM with
no vectors) is incompatible, with a reason. Pure: no I/O, no Ansible.
"""

from __future__ import annotations

import functools
import typing as t
from collections.abc import Mapping

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.vectors import (
    Profile,
    Vector,
    parse_profile,
)


class Operation(t.NamedTuple):
    name: str
    passes: t.Callable[[int, int], bool]  # (vm, host) -> compatible


# Indexed by CompareOperation code (Msvm_CompatibilityVector).
OPERATIONS = (
    Operation("Equal", lambda vm, host: vm == host),
    Operation("Superset", lambda vm, host: vm & host == host),
    Operation("Subset", lambda vm, host: vm & host == vm),
    Operation("Disjoint", lambda vm, host: vm & host == 0),
    Operation("GreaterThan", lambda vm, host: vm > host),
    Operation("GreaterThanOrEqual", lambda vm, host: vm >= host),
    Operation("LessThan", lambda vm, host: vm < host),
    Operation("LessThanOrEqual", lambda vm, host: vm <= host),
    # The modulo operations fail closed on a zero divisor instead of raising.
    Operation("Multiple", lambda vm, host: host != 0 and vm % host == 0),
    Operation("Divisible", lambda vm, host: vm != 0 and host % vm == 0),
)
EQUAL, SUPERSET, SUBSET, DISJOINT = 0, 1, 2, 3
GREATER, GREATER_EQUAL, LESS, LESS_EQUAL, MULTIPLE, DIVISIBLE = 4, 5, 6, 7, 8, 9
MASK_OPERATIONS = frozenset((SUPERSET, SUBSET, DISJOINT))

# Known VectorId values (Microsoft's migration sample); hosts may report others.
VECTOR_NAMES = {1: "ProcessorFeatures", 2: "ProcessorXSave", 3: "CacheLineFlushSize"}
PROCESSOR_VECTORS = frozenset((1, 2))

PROCESSOR_REMEDY = (
    " The usual remedy is processor compatibility mode: with the VM off, run "
    "Set-VMProcessor -VMName <vm> -CompatibilityForMigrationEnabled $true; "
    "otherwise choose a host with the same or a newer processor."
)

HostValues = Mapping[int, int]  # VectorId -> the host's CompatibilityInfo


def host_values(profile: Profile) -> dict[int, int]:
    """The lookup table check() compares against (a host's operations do not matter)."""
    return {vector.vector_id: vector.compatibility_info for vector in profile}


def operation_name(code: int) -> str:
    return OPERATIONS[code].name if code < len(OPERATIONS) else f"Unknown({code})"


def check(vm: Profile, host: HostValues) -> list[dict[str, t.Any]]:
    """Return one reason per VM vector that fails against the host; [] means compatible."""
    if not vm:
        return [NO_VM_VECTORS_REASON.copy()]
    reasons = []
    for vector in vm:
        host_value = host.get(vector.vector_id)
        code = vector.compare_operation
        if host_value is None or code >= len(OPERATIONS) or not OPERATIONS[code].passes(
            vector.compatibility_info, host_value
        ):
            reasons.append(dict(_explain_cached(vector, host_value)))
    return reasons


def is_compatible(vm: Profile, host: HostValues) -> bool:
    return not check(vm, host)


NO_VM_VECTORS_REASON = {
    "vector_id": None,
    "name": None,
    "operation": None,
    "vm_value": None,
    "host_value": None,
    "kind": "no_vm_vectors",
    "offending_bits": None,
    "message": (
        "The VM reports no compatibility vectors, so nothing shows it can run on this host; "
        "it is treated as incompatible. Gather the VM's facts again."
    ),
}


def _label(vector_id: int) -> str:
    name = VECTOR_NAMES.get(vector_id)
    return f"{name} (vector {vector_id})" if name else f"vector {vector_id}"


def format_bits(mask: int, limit: int = 12) -> str:
    """'0x300000 (bits 20, 21)': the mask in hex and the bit numbers a person looks up."""
    count = mask.bit_count()
    shown, rest = [], mask
    while rest and len(shown) < limit:
        lowest = rest & -rest
        shown.append(str(lowest.bit_length() - 1))
        rest ^= lowest
    more = f" and {count - limit} more" if count > limit else ""
    return f"0x{mask:X} (bit{'s' if count > 1 else ''} {', '.join(shown)}{more})"


@functools.lru_cache(maxsize=4096)
def _explain_cached(vector: Vector, host_value: int | None) -> dict[str, t.Any]:
    """explain(), remembered: a fleet repeats the same failures (one template, one host batch)."""
    return explain(vector, host_value)


def explain(vector: Vector, host_value: int | None) -> dict[str, t.Any]:
    """Build the reason for one failing vector: the facts and one actionable sentence."""
    vector_id, code, vm_value = vector
    reason = {
        "vector_id": vector_id,
        "name": VECTOR_NAMES.get(vector_id),
        "operation": operation_name(code),
        "vm_value": vm_value,
        "host_value": host_value,
        "kind": "mismatch",
        "offending_bits": None,
        "message": "",
    }
    label = _label(vector_id)
    if host_value is None:
        reason["kind"] = "missing_host_vector"
        reason["message"] = (
            f"The host does not report {label}, which the VM carries, so the VM cannot be shown "
            "compatible there. Gather the host's facts again, or move the VM to a host that "
            "runs the same Hyper-V version."
        )
        return reason
    if code >= len(OPERATIONS):
        reason["kind"] = "unknown_operation"
        reason["message"] = (
            f"The VM's {label} uses comparison operation {code}, which is not one of the ten "
            "Hyper-V defines (0-9); it cannot be evaluated and is treated as incompatible. "
            "Check the facts, or update vmgate.hyperv if Hyper-V added an operation."
        )
        return reason
    if code in MASK_OPERATIONS:
        bits, message = _explain_mask(code, label, vm_value, host_value)
        reason["offending_bits"] = f"0x{bits:X}"
    else:
        message = _explain_number(code, label, vm_value, host_value)
        if (code == MULTIPLE and host_value == 0) or (code == DIVISIBLE and vm_value == 0):
            reason["kind"] = "zero_divisor"
    if code == SUBSET and vector_id in PROCESSOR_VECTORS:
        # The VM uses processor features the host lacks: compatibility mode hides them.
        message += PROCESSOR_REMEDY
    reason["message"] = message
    return reason


def _explain_mask(code: int, label: str, vm: int, host: int) -> tuple[int, str]:
    if code == SUBSET:
        bits = vm & ~host
        return bits, f"The VM uses {label} bits the host lacks: {format_bits(bits)}."
    if code == SUPERSET:
        bits = host & ~vm
        return bits, (
            f"The host has {label} bits the VM lacks: {format_bits(bits)}; the VM's value must "
            "contain every bit of the host's. Choose a host whose bits are a subset of the VM's."
        )
    bits = vm & host
    return bits, (
        f"The VM and the host share {label} bits {format_bits(bits)}, which must not overlap. "
        "Choose a host without these bits."
    )


# For each ordering operation: what the VM must be, and what a fitting host must be.
_ORDERING = {
    GREATER: ("greater than", "less than"),
    GREATER_EQUAL: ("greater than or equal to", "at most"),
    LESS: ("less than", "greater than"),
    LESS_EQUAL: ("less than or equal to", "at least"),
}


def _explain_number(code: int, label: str, vm: int, host: int) -> str:
    if code == EQUAL:
        return (
            f"The VM's {label} is {vm} but the host's is {host}; they must be equal. "
            f"Choose a host whose {label} is {vm}."
        )
    if code in _ORDERING:
        vm_must, host_must = _ORDERING[code]
        return (
            f"The VM's {label} ({vm}) must be {vm_must} the host's ({host}). "
            f"Choose a host whose {label} is {host_must} {vm}."
        )
    if code == MULTIPLE and host == 0:
        return (
            f"The host reports {label} 0, and no value is a multiple of 0, so the VM cannot be "
            "shown compatible; treated as incompatible. Gather the host's facts again."
        )
    if code == MULTIPLE:
        return (
            f"The VM's {label} ({vm}) must be a multiple of the host's ({host}). "
            f"Choose a host whose {label} divides {vm}."
        )
    if vm == 0:
        return (
            f"The VM reports {label} 0, which divides nothing, so it cannot be shown "
            "compatible; treated as incompatible. Gather the VM's facts again."
        )
    return (
        f"The VM's {label} ({vm}) must divide the host's ({host}). "
        f"Choose a host whose {label} is a multiple of {vm}."
    )


def report(vm_vectors: t.Any, host_vectors: t.Any) -> dict[str, t.Any]:
    """Parse both lists and compare them: {compatible, reasons}."""
    vm = parse_profile(vm_vectors, "vm_vectors")
    host = host_values(parse_profile(host_vectors, "host_vectors"))
    reasons = check(vm, host)
    return {"compatible": not reasons, "reasons": reasons}
