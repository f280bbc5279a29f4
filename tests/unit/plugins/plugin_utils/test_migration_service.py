# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""migration_service.service_reasons: what stops a host's part in a live migration, and what is not judged."""

from __future__ import annotations

import pytest

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.migration_service import service_reasons

READY = {"enabled_state": 2, "live_migration_enabled": True, "listener_addresses": ["10.0.0.2"],
         "active_vm_migrations": 1, "max_vm_migrations": 2}
UNREAD = dict(READY, live_migration_enabled=None, max_vm_migrations=None)  # gather_subset without migration_settings


def checks(service, role="destination", **kwargs):
    return [reason["check"] for reason in service_reasons(service, "hv02", role, **kwargs)]


@pytest.mark.parametrize("role", ["source", "destination", "candidate"])
def test_a_ready_service_and_an_unread_one_give_no_reason(role):
    assert checks(READY, role) == [] and checks(UNREAD, role) == []


def test_live_migration_off_is_said_for_the_direction_of_the_host():
    off = dict(READY, live_migration_enabled=False)
    source, = service_reasons(off, "hv01", "source")
    destination, = service_reasons(off, "hv02", "destination")
    assert source == {"host": "hv01", "role": "source", "check": "migration service",
                      "message": "Live migration is turned off on the source hv01, so it sends no live migrations "
                                 "(EnableVirtualSystemMigration is false). Turn it on there (Enable-VMMigration) and run again."}
    assert "hv02, so it accepts no live migrations" in destination["message"]
    assert destination["message"].endswith("or choose another host.")


def test_only_a_receiving_host_needs_a_listener():
    deaf = dict(READY, listener_addresses=[])
    assert checks(deaf, "source") == []
    assert checks(deaf, "destination") == ["migration service"]
    assert "MigrationServiceListenerIPAddressList is empty" in service_reasons(deaf, "hv02", "candidate")[0]["message"]


def test_a_stopped_service_and_a_full_host_are_both_said():
    stopped_and_full = dict(READY, enabled_state=3, active_vm_migrations=2)
    reasons = service_reasons(stopped_and_full, "hv01", "source")
    assert [reason["check"] for reason in reasons] == ["migration service", "migration limit"]
    assert "(EnabledState 3)" in reasons[0]["message"]
    assert reasons[1]["message"].startswith("The source hv01 is at its limit of 2 simultaneous live migrations: 2 running now.")
    assert checks(stopped_and_full, include_limit=False) == ["migration service"]


def test_the_limit_is_judged_only_when_it_was_read():
    assert checks(dict(UNREAD, active_vm_migrations=5)) == []
    assert checks(dict(READY, active_vm_migrations=None, max_vm_migrations=0)) == ["migration limit"]  # fail closed


def test_an_unknown_role_is_an_error_naming_it():
    with pytest.raises(ValueError, match="role must be one of source, destination, candidate, got 'target'"):
        service_reasons(READY, "hv02", "target")
