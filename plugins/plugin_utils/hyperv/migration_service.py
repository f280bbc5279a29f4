# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a host's migration service can take part in a live migration now, said for the person.

One place for these words, used by the migration_gate role (through the migration_service_reasons
filter) and by compat_check when it explains a refusal of Hyper-V's pre-check.
"""

from __future__ import annotations

import typing as t

ROLES = ("source", "destination", "candidate")
RUNNING = 2  # CIM_EnabledLogicalElement.EnabledState: Enabled


def service_reasons(service: t.Mapping[str, t.Any], host: str, role: str, include_limit: bool = True) -> list[dict[str, str]]:
    """The reasons, as {host, role, check, message}, why `service` (hyperv_compat.host.migration_service of `host`)
    stops a live migration in which the host plays `role`. A field that was not read (None) is not judged:
    Hyper-V's own pre-check is the authority for it."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    sending = role == "source"
    where = f"the source {host}" if sending else host
    found: list[tuple[str, str]] = []
    state = service.get("enabled_state")
    if state is not None and int(state) != RUNNING:
        found.append(("migration service", f"The migration service on {where} is not enabled (EnabledState {state}). "
                                           "Check the Hyper-V Virtual Machine Management service there, then run again."))
    if service.get("live_migration_enabled") is False:
        found.append(("migration service", f"Live migration is turned off on {where}, so it "
                                           f"{'sends' if sending else 'accepts'} no live migrations "
                                           "(EnableVirtualSystemMigration is false). Turn it on there (Enable-VMMigration) "
                                           f"and run again{'' if sending else ', or choose another host'}."))
    elif not sending and not service.get("listener_addresses"):
        found.append(("migration service", f"{host} has no migration network: its migration service listens on no address "
                                           "(MigrationServiceListenerIPAddressList is empty). Add one there "
                                           "(Add-VMMigrationNetwork) and run again."))
    active, limit = service.get("active_vm_migrations"), service.get("max_vm_migrations")
    if include_limit and limit is not None and int(active or 0) >= int(limit):
        found.append(("migration limit", f"{where[:1].upper()}{where[1:]} is at its limit of {limit} simultaneous live "
                                         f"migrations: {int(active or 0)} running now. Wait for one to finish, then run again."))
    return [{"host": host, "role": role, "check": check, "message": message} for check, message in found]
