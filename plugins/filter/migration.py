# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over gathered migration-service facts; each is documented in the .yml file of its name."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.gate.decision import record_move
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv import migration_service


def migration_service_reasons(service, host, role, include_limit=True):
    if not isinstance(service, dict):
        raise AnsibleFilterError(f"expects a host's hyperv_compat.host.migration_service (a dict), got {type(service).__name__}")
    try:
        return migration_service.service_reasons(service, str(host), role, include_limit=include_limit)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"{host}: {exc}") from exc


def migration_outcome(decision, move_result):
    if not isinstance(decision, dict) or "verdict" not in decision or "check_mode" not in decision:
        raise AnsibleFilterError("expects a decision of vmgate.hyperv.gate (migration_gate_decision)")
    if not isinstance(move_result, dict):
        raise AnsibleFilterError(f"expects the registered result of vmgate.hyperv.vm_move, got {type(move_result).__name__}")
    return record_move(decision, move_result, failed=bool(move_result.get("failed")))


class FilterModule:
    def filters(self):
        return {"migration_service_reasons": migration_service_reasons, "migration_outcome": migration_outcome}
