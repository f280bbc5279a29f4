# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""compat_facts: read a Hyper-V host's compatibility facts over WS-Management (see the module docs)."""

from __future__ import annotations

import contextlib

from ansible.errors import AnsibleActionFail

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.base import HyperVAction
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.host_session import HostSession
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.options import HOST_ARGUMENT_SPEC
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv import facts as hyperv_facts

ARGUMENT_SPEC = {
    "vms": {"type": "raw"},
    "include_blob": {"type": "bool", "default": False},
    "gather_subset": {"type": "list", "elements": "str", "default": ["all"]},
    "connections": {"type": "int", "default": 8},
    **HOST_ARGUMENT_SPEC,
}
# Connections to one host at a time, each a WinRM connection of its own carrying one request at a time. WinRM's
# defaults allow far more: MaxConnections 300 (requests the service processes at once) and
# MaxConcurrentOperationsPerUser 1500 ([MS-WSMV] 2.2.4.36 ServiceType). The default, 8, brings a 1,000-VM host
# at 10 ms a request under 0.3x the serial time (benchmarks/compat_facts.py). 4 would need requests that cost
# nothing but their latency: 22 in series, then 1,001 / 4 = 250 rounds, is already 0.27x.
MAX_CONNECTIONS = 16


def requested_vms(value):
    """'all', a list of names/ids, or None; a single name is accepted as a list of one."""
    if value is None or value == "all":
        return value
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) and item for item in items):
        raise AnsibleActionFail(f"vms must be 'all' or a list of VM names or ids, got {value!r}")
    return items


def connection_count(value: int) -> int:
    """The connections option, within 1 to MAX_CONNECTIONS."""
    if not 1 <= value <= MAX_CONNECTIONS:
        raise AnsibleActionFail(
            f"connections must be from 1 to {MAX_CONNECTIONS} (WinRM connections to the host at a time), got {value}"
        )
    return value


class ActionModule(HyperVAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def work(self, args, task_vars):
        vms = requested_vms(args["vms"])
        connections = connection_count(args["connections"])
        try:
            subset = hyperv_facts.resolve_subset(args["gather_subset"])
        except ValueError as exc:
            raise AnsibleActionFail(str(exc)) from None
        with HostSession.for_task(self, task_vars, args) as session, contextlib.ExitStack() as more:
            # Sessions of their own, from the settings resolved above (no templating in the threads). A client
            # connects on its first request: those left over when there are fewer VMs never connect.
            more_clients = [more.enter_context(session.sibling()).client for _connection in range(connections - 1)]
            facts = session.run(
                lambda api: hyperv_facts.gather(api, vms, args["include_blob"], where=session.label, subset=subset,
                                                more_clients=more_clients)
            )
        return {"changed": False, "ansible_facts": {"hyperv_compat": facts}}
