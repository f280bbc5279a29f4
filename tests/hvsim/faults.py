# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Misbehaviour on request: rules per host, matched per operation, changeable at runtime from tests.

A rule matches operation keys (fnmatch patterns such as 'Invoke:MigrateVirtualSystemToHost', 'Enumerate:*'
or '*'), starts firing on the nth matching request and fires `times` times (None: until cleared).

Kinds and their parameters:
  latency        ms, honour_timeout=True   delay the reply; past the request's OperationTimeout it becomes w:TimedOut
  auth_fail      -                         every request gets 401, even on authenticated connections
  wmi_fault      code, message, wsman_code WMI provider failure (w:InternalError + MSFT_WmiError)
  timeout        delay_ms=0, phase         w:TimedOut fault
  drop           phase                     close the connection without any response
  raw            body, status=200, content_type, encrypt=True   send these bytes instead of the real reply
  http_status    status=503, body=b''      a bare HTTP error
  migration_fail percent=50, message       the next migration job started here fails at that percentage
                                           (op Invoke:MoveToNewNodeParams / Invoke:MoveToNewNode: the move that call queues)
  call           action                    run action() when the request arrives, before it is performed (in-process
                                           only): a test changes the lab between two requests of the code under test
phase: 'before' (the operation is not performed) or 'after' (it is performed, then the reply is lost/replaced).
The destination-at-its-limit condition is state, not a reply: see Simulator.inject(kind='migration_limit').
"""

from __future__ import annotations

import fnmatch
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

KINDS = ('latency', 'auth_fail', 'wmi_fault', 'timeout', 'drop', 'raw', 'http_status', 'migration_fail', 'call')
PHASES = ('before', 'after')
_IDS = itertools.count(1)


@dataclass
class FaultRule:
    """One misbehaviour."""

    kind: str
    op: str = '*'
    nth: int = 1
    times: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    rule_id: int = field(default_factory=lambda: next(_IDS))
    seen: int = 0  # matching requests so far
    fired: int = 0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f'unknown fault kind {self.kind!r}; kinds: {", ".join(KINDS)}')
        if self.nth < 1 or (self.times is not None and self.times < 1):
            raise ValueError('nth and times must be >= 1')
        phase = self.params.get('phase', 'before')
        if phase not in PHASES:
            raise ValueError(f'phase must be one of {PHASES}')

    @property
    def phase(self) -> str:
        """When the rule applies relative to performing the operation."""
        return self.params.get('phase', 'before')

    def matches(self, op: str) -> bool:
        """Case-insensitive fnmatch on the operation key."""
        return fnmatch.fnmatchcase(op.lower(), self.op.lower())

    @property
    def exhausted(self) -> bool:
        """Fired as often as asked."""
        return self.times is not None and self.fired >= self.times

    def describe(self) -> dict:
        """JSON-friendly form."""
        return {'id': self.rule_id, 'kind': self.kind, 'op': self.op, 'nth': self.nth, 'times': self.times,
                'params': {k: (f'<{len(v)} bytes>' if isinstance(v, bytes) else repr(v) if callable(v) else v)
                           for k, v in self.params.items()},
                'seen': self.seen, 'fired': self.fired}


class FaultBook:
    """The rules of one host."""

    def __init__(self):
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> FaultRule:
        """Install a rule."""
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self, rule_id: int | None = None) -> None:
        """Remove one rule, or all."""
        with self._lock:
            self._rules = [rule for rule in self._rules if rule_id is not None and rule.rule_id != rule_id]

    def rules(self) -> list[FaultRule]:
        """A copy of the current rules."""
        with self._lock:
            return list(self._rules)

    def take(self, op: str, kinds: tuple[str, ...], phase: str | None = None) -> list[FaultRule]:
        """Rules of these kinds that fire for this request (each matching rule counts the request once)."""
        firing = []
        with self._lock:
            for rule in self._rules:
                # auth_fail acts before the operation is known, so it ignores op.
                if rule.kind not in kinds or (phase is not None and rule.phase != phase) or not (rule.kind == 'auth_fail' or rule.matches(op)):
                    continue
                rule.seen += 1
                if rule.seen >= rule.nth and not rule.exhausted:
                    rule.fired += 1
                    firing.append(rule)
        return firing


class Counters:
    """Requests served per operation key, and auth handshake traffic apart."""

    def __init__(self):
        self._lock = threading.Lock()
        self.operations: dict[str, int] = {}
        self.auth: dict[str, int] = {}

    def count(self, op: str) -> None:
        """One more request for op."""
        with self._lock:
            self.operations[op] = self.operations.get(op, 0) + 1

    def count_auth(self, kind: str) -> None:
        """One more auth-layer exchange (challenge, handshake, rejected)."""
        with self._lock:
            self.auth[kind] = self.auth.get(kind, 0) + 1

    def snapshot(self) -> dict[str, dict[str, int]]:
        """Copies of both tables."""
        with self._lock:
            return {'operations': dict(self.operations), 'auth': dict(self.auth)}

    def reset(self) -> None:
        """Zero everything."""
        with self._lock:
            self.operations.clear()
            self.auth.clear()
