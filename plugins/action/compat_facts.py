# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""compat_facts: read a Hyper-V host's compatibility facts over WS-Management (see the module docs)."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.base import HyperVAction
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.host_session import HostSession
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.options import HOST_ARGUMENT_SPEC
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv import facts as hyperv_facts

ARGUMENT_SPEC = {
    "vms": {"type": "raw"},
    "include_blob": {"type": "bool", "default": False},
    "gather_subset": {"type": "list", "elements": "str", "default": ["all"]},
    **HOST_ARGUMENT_SPEC,
}


def requested_vms(value):
    """'all', a list of names/ids, or None; a single name is accepted as a list of one."""
    if value is None or value == "all":
        return value
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) and item for item in items):
        raise AnsibleActionFail(f"vms must be 'all' or a list of VM names or ids, got {value!r}")
    return items


class ActionModule(HyperVAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def work(self, args, task_vars):
        vms = requested_vms(args["vms"])
        try:
            subset = hyperv_facts.resolve_subset(args["gather_subset"])
        except ValueError as exc:
            raise AnsibleActionFail(str(exc)) from None
        with HostSession.for_task(self, task_vars, args) as session:
            facts = session.run(
                lambda api: hyperv_facts.gather(api, vms, args["include_blob"], where=session.label, subset=subset)
            )
        return {"changed": False, "ansible_facts": {"hyperv_compat": facts}}
