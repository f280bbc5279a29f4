# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of the collection's actions: check mode, argument validation, then the action's own work."""

from __future__ import annotations

import typing as t

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.host_session import TrustEdges

display = Display()


class HyperVAction(ActionBase):
    """Subclasses set ARGUMENT_SPEC and implement work(args, task_vars) -> the result's fields."""

    TRANSFERS_FILES = False
    ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {}

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True  # every action decides for itself what check mode means
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        try:
            result.update(self.work(args, task_vars or {}))
        finally:  # a failed task reached its hosts too
            for warning in TrustEdges.of(self).warnings():
                display.warning(f"vmgate.hyperv: {warning}")
        return result

    def work(self, args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        raise NotImplementedError
