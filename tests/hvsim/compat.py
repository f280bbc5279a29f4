# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a simulated destination decides compatibility: vectors (seed 004), configuration versions, lab rules.

Pure functions over plain values, used by CheckSystemCompatibilityInfo, the two CheckVirtualSystemIsMigratable*
methods and the migration job alike, so every path reaches the same verdict for the same facts.
"""

from __future__ import annotations

from dataclasses import dataclass

OPERATIONS = {
    0: 'Equal', 1: 'Superset', 2: 'Subset', 3: 'Disjoint', 4: 'GreaterThan',
    5: 'GreaterThanOrEqual', 6: 'LessThan', 7: 'LessThanOrEqual', 8: 'Multiple', 9: 'Divisible',
}
VECTOR_NAMES = {1: 'ProcessorFeatures', 2: 'ProcessorXSave', 3: 'CacheLineFlushSize'}
PROCESSOR_VECTORS = (1, 2)
UINT64_MAX = (1 << 64) - 1


@dataclass(frozen=True)
class Vector:
    """One Msvm_CompatibilityVector: VectorId, CompareOperation, CompatibilityInfo."""

    vector_id: int
    operation: int
    value: int

    def as_list(self) -> list[int]:
        """Compact form for the opaque blob."""
        return [self.vector_id, self.operation, self.value]


def compatible(operation: int, vm: int, host: int) -> bool:
    """The seed's pseudocode, VM on the left; a zero divisor and an unknown operation mean incompatible."""
    checks = {
        0: lambda: vm == host,
        1: lambda: (vm & host) == host,
        2: lambda: (vm & host) == vm,
        3: lambda: (vm & host) == 0,
        4: lambda: vm > host,
        5: lambda: vm >= host,
        6: lambda: vm < host,
        7: lambda: vm <= host,
        8: lambda: host != 0 and vm % host == 0,
        9: lambda: vm != 0 and host % vm == 0,
    }
    check = checks.get(operation)
    return bool(check and check())


def vector_name(vector_id: int) -> str:
    """Readable name of a vector id."""
    return VECTOR_NAMES.get(vector_id, f'vector {vector_id}')


def vector_mismatches(vm_vectors: list[Vector], host_vectors: list[Vector]) -> list[str]:
    """One line per VM vector the host cannot satisfy (a host without that vector id fails it)."""
    by_id = {vector.vector_id: vector for vector in host_vectors}
    problems = []
    for vector in vm_vectors:
        host = by_id.get(vector.vector_id)
        name = vector_name(vector.vector_id)
        operation = OPERATIONS.get(vector.operation, f'operation {vector.operation}')
        if host is None:
            problems.append(f'{name}: the host reports no vector {vector.vector_id}')
        elif not compatible(vector.operation, vector.value, host.value):
            problems.append(f'{name} ({operation}): VM 0x{vector.value:X} vs host 0x{host.value:X}')
    return problems


def parse_version(version: str) -> tuple[int, ...]:
    """'10.0' -> (10, 0); raises ValueError on anything else."""
    parts = tuple(int(part) for part in str(version).strip().split('.'))
    if not parts or len(parts) > 4:
        raise ValueError(f'not a configuration version: {version!r}')
    return parts


@dataclass(frozen=True)
class VersionSupport:
    """The configuration versions a host runs: a closed range, e.g. 8.0-10.0 (Windows Server 2022)."""

    low: tuple[int, ...]
    high: tuple[int, ...]

    @classmethod
    def parse(cls, spec) -> 'VersionSupport':
        """'8.0-10.0', or a list of versions (its lowest and highest bound the range)."""
        if isinstance(spec, (list, tuple)):
            versions = sorted(parse_version(str(item)) for item in spec)
            if not versions:
                raise ValueError('supported_versions is empty')
            return cls(versions[0], versions[-1])
        low, sep, high = str(spec).partition('-')
        return cls(parse_version(low), parse_version(high if sep else low))

    def supports(self, version: str) -> bool:
        """True when version lies inside the range; an unparsable version is never supported."""
        try:
            parsed = parse_version(version)
        except ValueError:
            return False
        return self.low <= parsed <= self.high

    def __str__(self) -> str:
        return '.'.join(map(str, self.low)) + '-' + '.'.join(map(str, self.high))


@dataclass
class Verdict:
    """What a destination says about a system: errors block, warnings do not."""

    errors: list[str]
    warnings: list[str]

    @property
    def ok(self) -> bool:
        """No blocking problem."""
        return not self.errors


@dataclass(frozen=True)
class Rule:
    """A lab rule on a destination: reject (or warn about) VMs whose name or GUID matches; '*' matches all."""

    vm: str
    message: str

    def applies(self, vm_name: str | None, vm_guid: str | None) -> bool:
        """Case-insensitive match on name or GUID."""
        wanted = self.vm.lower()
        return wanted == '*' or wanted in ((vm_name or '').lower(), (vm_guid or '').lower())


PROCESSOR_HINT = (
    'To allow for migration of this virtual machine to physical computers with different processors, '
    'modify the virtual machine settings to limit the processor features used by the virtual machine '
    '(processor compatibility mode).'
)


def assess(payload: dict, host_name: str, host_vectors: list[Vector], versions: VersionSupport,
           rejects: list[Rule], warns: list[Rule]) -> Verdict:
    """Judge a compatibility payload (see blob.py) against a destination host.

    The messages imitate Hyper-V's own wording and always name the VM, the host and what to do.
    """
    vm_name = payload.get('vm_name') or payload.get('source')
    vm_guid = payload.get('vm_guid')
    what = f"virtual machine '{vm_name}'" if payload.get('kind') == 'vm' else f"host '{payload.get('source')}'"
    errors = []
    version = payload.get('version')
    if payload.get('kind') == 'vm' and version and not versions.supports(version):
        errors.append(
            f"The {what} cannot be migrated to '{host_name}': its configuration version {version} is not supported "
            f"by that host (supported: {versions}). Move it to a host that supports version {version}."
        )
    vectors = [Vector(*item) for item in payload.get('vectors', [])]
    mismatches = vector_mismatches(vectors, host_vectors)
    if mismatches:
        processor = any(item.startswith(tuple(VECTOR_NAMES[i] for i in PROCESSOR_VECTORS)) for item in mismatches)
        message = (
            f"The {what} is using processor-specific features not supported on physical computer '{host_name}'. "
            + ('; '.join(mismatches) + '. ')
            + (PROCESSOR_HINT if processor else '')
        )
        errors.append(message.strip())
    for rule in rejects:
        if rule.applies(vm_name, vm_guid):
            errors.append(rule.message)
    warnings = [rule.message for rule in warns if rule.applies(vm_name, vm_guid)]
    return Verdict(errors, warnings)
