# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over gathered migration-service facts; each is documented in the .yml file of its name."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.vectors import describe
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate.decision import record_move
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv import migration_service


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# The fields judged, each as compat_facts gives it (or None: not gathered). Another type is refused, never guessed at:
# the string "false" is truthy, and would pass for live migration turned on.
SERVICE_FIELDS = {
    "enabled_state": ("a whole number", _is_count),
    "live_migration_enabled": ("a boolean", lambda value: isinstance(value, bool)),
    "listener_addresses": ("a list", lambda value: isinstance(value, list)),
    "active_vm_migrations": ("a whole number", _is_count),
    "max_vm_migrations": ("a whole number", _is_count),
}


def migration_service_reasons(service, host, role, include_limit=True):
    if not isinstance(service, dict):
        raise AnsibleFilterError(f"expects a host's hyperv_compat.host.migration_service (a dict), got {type(service).__name__}")
    if not isinstance(host, str) or not isinstance(include_limit, bool):
        raise AnsibleFilterError(f"expects host as a string and include_limit as a boolean, got {describe(host)} and "
                                 f"{describe(include_limit)}")
    for field, (kind, is_kind) in SERVICE_FIELDS.items():
        value = service.get(field)
        if value is not None and not is_kind(value):
            raise AnsibleFilterError(f"{host}: migration_service.{field} must be {kind} or null, got {describe(value)}")
    try:
        return migration_service.service_reasons(service, str(host), role, include_limit=include_limit)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"{host}: {exc}") from exc


def migration_outcome(decision, move_result):
    if not isinstance(decision, dict) or "verdict" not in decision or "check_mode" not in decision:
        raise AnsibleFilterError("expects a decision of vmgate.hyperv.gate (migration_gate_decision)")
    if not isinstance(move_result, dict):
        raise AnsibleFilterError(f"expects the registered result of vmgate.hyperv.vm_move, got {type(move_result).__name__}")
    try:
        return record_move(decision, move_result, failed=bool(move_result.get("failed")))
    except (KeyError, TypeError, AttributeError) as exc:  # a decision written by hand, short of what the gate returns
        why = f"it has no {exc}" if isinstance(exc, KeyError) else str(exc)
        raise AnsibleFilterError(f"expects a decision of vmgate.hyperv.gate (migration_gate_decision), as the gate "
                                 f"returns it: {why}") from exc


class FilterModule:
    def filters(self):
        return {"migration_service_reasons": migration_service_reasons, "migration_outcome": migration_outcome}
