# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over gathered migration-service facts; each is documented in the .yml file of its name."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv import migration_service


def migration_service_reasons(service, host, role, include_limit=True):
    if not isinstance(service, dict):
        raise AnsibleFilterError(f"expects a host's hyperv_compat.host.migration_service (a dict), got {type(service).__name__}")
    try:
        return migration_service.service_reasons(service, str(host), role, include_limit=include_limit)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"{host}: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"migration_service_reasons": migration_service_reasons}
