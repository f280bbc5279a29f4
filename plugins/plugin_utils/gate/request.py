# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a gate is asked, checked before any request: taken literally, or refused with every problem named.

A VM name is never trimmed or split. A host list may be a list or, as a survey or `-e` sends it, a string of
names separated by commas (its items trimmed). A blank string means "not given" (what AWX's launch form sends
for an unanswered question); an explicit empty list, a mapping where a list belongs, or a wrong type is an
error. Messages name the role's variables (migration_gate_*), the face people use.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import json
import math
import typing as t
import unicodedata

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.reserve import DEFAULT_RESERVE_MB, whole_megabytes
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.vectors import describe
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import VM_STATES, unsendable

MODES = ("gate", "move")
MIGRATION_TYPES = ("live", "live_and_storage")
PREFIX = "migration_gate_"
DEFAULT_STATES = ("Running", "Off", "Paused")
STATE_NAMES = frozenset(VM_STATES.values())
# The longest wait or poll asked of a gate, a week: longer cannot be meant, and Python's own waits stop at about 292
# years (threading.TIMEOUT_MAX), past which a wait would fail in the middle of a wave.
MAX_SECONDS = 7 * 24 * 3600


class RequestError(ValueError):
    """The request cannot be gated; `problems` lists each reason, `vm` the VM as asked (or None)."""

    def __init__(self, vm: t.Any, problems: list[str], face: str = "migration_gate"):
        self.vm = vm
        self.problems = problems
        label = (vm if vm.isprintable() else json.dumps(vm)) if isinstance(vm, str) and visible(vm) else "the VM"
        super().__init__("\n  - ".join([f"{face} cannot gate {label}:", *problems]))


@dataclasses.dataclass(frozen=True)
class Request:
    vm: str
    source: str | None
    destination: str | None
    candidates: tuple[str, ...] | None
    search_hosts: tuple[str, ...]
    mode: str = "gate"
    override_reason: str | None = None
    limit_wait: float = 0
    limit_poll: float = 5
    migration_type: str = "live"
    destination_path: str | None = None
    allowed_states: tuple[str, ...] = DEFAULT_STATES
    candidates_by_default: bool = False  # every host of the group (migrate.yml): a clustered VM's are its nodes
    memory_reserve_mb: int = DEFAULT_RESERVE_MB  # what a destination keeps for itself, never planned for VMs

    @property
    def pick(self) -> bool:
        """Choose among candidates (rather than check one destination)."""
        return self.candidates is not None

    @property
    def targets(self) -> tuple[str, ...]:
        """The hosts the VM may go to, as asked (the source is left out later, once it is known)."""
        return self.candidates if self.candidates is not None else (self.destination,)  # type: ignore[return-value]


def is_blank(value: t.Any) -> bool:
    """None, or a string of nothing visible: spaces, and format characters such as zero-width spaces."""
    return value is None or (isinstance(value, str) and not visible(value))


def visible(text: str) -> str:
    """`text` without what does not show: whitespace, control and format characters (zero-width spaces, BOMs)."""
    return "".join(char for char in text if not (char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Zs")))


class _Problems:
    """Collects the problems of one request, so that every one is named at once; options are named with
    `prefix` (the role's variables, or none for migrate.yml's extra vars)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.items: list[str] = []

    def add(self, text: str) -> None:
        if text not in self.items:
            self.items.append(text)

    @staticmethod
    def type_name(value: t.Any) -> str:
        """The kind of a value in plain words; by isinstance, since Ansible passes its own subclasses (its tagged
        lists and dicts on ansible-core 2.19) whose class names mean nothing to the person asking."""
        if isinstance(value, str):
            return "str"
        kinds = ((bool, "a boolean"), (int, "an integer"), (float, "a number"), (collections.abc.Mapping, "a mapping"),
                 (collections.abc.Sequence, "a list"))
        return next((name for kind, name in kinds if isinstance(value, kind)), type(value).__name__)

    def text(self, name: str, value: t.Any) -> str | None:
        """A string option: None when not given (None or blank); the string itself, untouched, otherwise."""
        if is_blank(value):
            return None
        if not isinstance(value, str):
            self.add(f"{self.prefix}{name} must be a string, got {self.type_name(value)} ({describe(value)}); quote it.")
            return None
        return value

    def host_list(self, name: str, value: t.Any) -> tuple[str, ...] | None:
        """A list of host names, or a string of names separated by commas (trimmed); None when not given."""
        if is_blank(value):
            return None
        if isinstance(value, str):
            items = [item.strip() for item in value.split(",") if item.strip()]  # "a, b," has two items
        elif isinstance(value, (list, tuple)):
            items = list(value)
        else:
            self.add(f"{self.prefix}{name} must be a list of inventory hosts (or names separated by commas), "
                     f"got {self.type_name(value)} ({describe(value)}).")
            return None
        if not items:
            self.add(f"{self.prefix}{name} is an empty list: name at least one host, or leave it unset.")
            return None
        bad = [item for item in items if not isinstance(item, str) or is_blank(item)]
        if bad:
            self.add(f"{self.prefix}{name} has items that are not host names: {', '.join(describe(item) for item in bad)}.")
            return None
        return tuple(dict.fromkeys(items))  # in the order given, each once

    def number(self, name: str, value: t.Any, *, minimum: float, inclusive: bool, default: float) -> float:
        if is_blank(value):
            return default
        if isinstance(value, str) and value.isascii() and "_" not in value:  # as -e and templated variables send
            try:  # numbers; float() alone would also read '٣' and '1_0'
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(value, float) and not math.isfinite(value)):
            self.add(f"{self.prefix}{name} must be a number of seconds, got {self.type_name(value)} ({describe(value)}).")
            return default
        if value < minimum or (value == minimum and not inclusive):
            bound = f"{minimum:g} or more" if inclusive else f"more than {minimum:g}"
            self.add(f"{self.prefix}{name} must be {bound} seconds, got {describe(value)}.")
            return default
        if value > MAX_SECONDS:
            self.add(f"{self.prefix}{name} must be at most {MAX_SECONDS} seconds (a week), got {describe(value)}.")
            return default
        return float(value)

    def megabytes(self, name: str, value: t.Any, default: int) -> int:
        """A whole number of MB, 0 or more, or a string of one (as -e and templated variables send it)."""
        if is_blank(value):
            return default
        number = whole_megabytes(value)
        if number is None:
            self.add(f"{self.prefix}{name} must be a whole number of MB, 0 or more (at most 2**64 - 1), got {self.type_name(value)} ({describe(value)}).")
            return default
        return number

    def choice(self, name: str, value: t.Any, choices: tuple[str, ...], default: str) -> str:
        if is_blank(value):
            return default
        if value not in choices:
            self.add(f"{self.prefix}{name} must be one of {', '.join(choices)}, got {describe(value)}.")
            return default
        return value


def parse(raw: t.Mapping[str, t.Any], inventory: t.Collection[str], prefix: str = PREFIX) -> Request:
    """The request from the role's variables (without their migration_gate_ prefix), or RequestError."""
    problems = _Problems(prefix)
    vm = raw.get("vm")
    if vm is None or (isinstance(vm, str) and is_blank(vm)):
        problems.add(f"{prefix}vm is empty: name the VM to gate, by its name or id.")
        vm = None
    elif not isinstance(vm, str):
        problems.add(f"{prefix}vm must be a string (the VM's name or id), got {problems.type_name(vm)} ({describe(vm)}); "
                     "quote it.")
        vm = None
    elif (unusable := unsendable(vm)) is not None:
        problems.add(f"{prefix}vm cannot be the name of a VM: {unusable}.")
    source = problems.text("source", raw.get("source"))
    destination = problems.text("destination", raw.get("destination"))
    candidates = problems.host_list("candidates", raw.get("candidates"))
    search_hosts = raw.get("search_hosts")
    search_hosts = problems.host_list("search_hosts", search_hosts) if search_hosts != [] else ()  # no group hyperv
    search_hosts = search_hosts or ()
    if destination and candidates:
        problems.add(f"Give {prefix}destination (one host) or {prefix}candidates (hosts to choose from), not both.")
    elif not destination and candidates is None and is_blank(raw.get("candidates")):  # not given, rather than invalid
        problems.add(f"Say where the VM should go: {prefix}destination (one host) or {prefix}candidates "
                     "(hosts to choose from).")
    if source and source == destination:
        problems.add(f"{prefix}source and {prefix}destination are the same host, {source}.")
    if source and candidates and not [host for host in candidates if host != source]:
        problems.add(f"{prefix}candidates holds no host but the source, {source}.")
    for host in [*filter(None, (source, destination)), *(candidates or ()), *(() if source else search_hosts)]:
        if host not in inventory:
            problems.add(_not_in_inventory(host, inventory))
    reason = raw.get("override_reason")
    if reason is not None and (not isinstance(reason, str) or not visible(reason)):
        problems.add(f"{prefix}override_reason is empty or blank. An override needs a written reason (who accepts "
                     "the risk, and why); leave it unset to keep the gate." if isinstance(reason, str) else
                     f"{prefix}override_reason must be a string, got {problems.type_name(reason)} ({describe(reason)}).")
        reason = None
    migration_type = problems.choice("migration_type", raw.get("migration_type"), MIGRATION_TYPES, "live")
    destination_path = problems.text("destination_path", raw.get("destination_path"))
    if migration_type == "live_and_storage" and not destination_path:
        problems.add(f"{prefix}migration_type live_and_storage needs {prefix}destination_path, where the VM files go.")
    mode = problems.choice("mode", raw.get("mode"), MODES, "gate")
    limit_wait = problems.number("limit_wait", raw.get("limit_wait"), minimum=0, inclusive=True, default=0)
    limit_poll = problems.number("limit_poll", raw.get("limit_poll"), minimum=0, inclusive=False, default=5)
    reserve = problems.megabytes("memory_reserve_mb", raw.get("memory_reserve_mb"), DEFAULT_RESERVE_MB)
    states = raw.get("allowed_states")
    if is_blank(states):
        states = DEFAULT_STATES
    elif not isinstance(states, (list, tuple)) or not states or not all(isinstance(state, str) for state in states):
        problems.add(f"{prefix}allowed_states must be a non-empty list of VM state names, got {describe(states)}.")
        states = []
    elif not STATE_NAMES.issuperset(states):  # a state no VM reports (a typo, or "running") would block every VM
        unknown = ", ".join(describe(state) for state in states if state not in STATE_NAMES)
        problems.add(f"{prefix}allowed_states has names that are no VM state: {unknown}; the states are "
                     f"{', '.join(sorted(STATE_NAMES))}.")
    if problems.items:
        raise RequestError(raw.get("vm"), problems.items, "migration_gate" if prefix == PREFIX else "migrate.yml")
    return Request(
        vm=t.cast(str, vm), source=source, destination=destination, candidates=candidates, search_hosts=search_hosts,
        mode=mode, override_reason=reason.strip() if reason else None, limit_wait=limit_wait, limit_poll=limit_poll,
        migration_type=migration_type, destination_path=destination_path, allowed_states=tuple(states),
        candidates_by_default=raw.get("candidates_by_default") is True and candidates is not None,
        memory_reserve_mb=reserve,
    )


def _not_in_inventory(host: str, inventory: t.Collection[str]) -> str:
    return (f"{host} is not a host of the inventory: the gate reaches Hyper-V hosts with their inventory "
            "connection variables." + inventory_hint(host, inventory))


def inventory_hint(host: str, inventory: t.Collection[str]) -> str:
    """What the inventory has for a host name it lacks, in parentheses after a sentence, or nothing."""
    trimmed = host.strip()
    if trimmed != host and trimmed in inventory:
        return f" (The inventory has {trimmed!r}; host names are taken literally, spaces included.)"
    spelled = [name for name in inventory if name.lower() == host.lower()]
    if len(spelled) == 1:
        return f" (The inventory spells it {spelled[0]!r}; host names are taken literally, case included.)"
    if "," in host:
        return " (One host: names separated by commas are not split here.)"
    return ""
