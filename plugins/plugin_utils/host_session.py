# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every vmgate.hyperv action does around its work: connect to the inventory host's WinRM
service with the host's own settings, and turn any failure into one message for the person."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleActionFail

from ansible_collections.vmgate.hyperv.plugins.plugin_utils import failures, winrm_settings
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv_api import HyperVError, HyperVHost
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.winrm_options import connection_options
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman_client import WSManClient
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman_errors import WSManError


class HostSession:
    """`with HostSession(action, task_vars, args) as session: session.run(lambda api: ...)`."""

    def __init__(self, action: t.Any, task_vars: dict[str, t.Any], args: dict[str, t.Any]):
        self.label = str(task_vars.get("inventory_hostname") or "the host")
        self.namespace = args.get("namespace") or "root/virtualization/v2"
        self.settings: winrm_settings.WinRMSettings | None = None
        self.client: WSManClient | None = None
        try:
            self.settings = winrm_settings.resolve(action._connection, connection_options(args),  # pylint: disable=protected-access
                                                   extras=_winrm_vars(action, task_vars))
            self.client = WSManClient(self.settings)
        except (winrm_settings.SettingsError, WSManError) as exc:
            raise AnsibleActionFail(self.message(exc, "preparing the connection")) from None

    def __enter__(self) -> HostSession:
        return self

    def __exit__(self, *_exc_info: t.Any) -> None:
        if self.client is not None:
            self.client.close()

    def message(self, exc: Exception, step: str) -> str:
        return failures.describe(exc, host=self.label, step=step, settings=self.settings, namespace=self.namespace)

    def run(self, work: t.Callable[[HyperVHost], t.Any]) -> t.Any:
        """Run `work` with the host's API; every failure becomes AnsibleActionFail with its message."""
        api = HyperVHost(self.client, self.namespace)
        try:
            return work(api)
        except failures.StepFailed as exc:
            raise AnsibleActionFail(self.message(exc.cause, exc.step)) from None
        except (HyperVError, WSManError) as exc:
            raise AnsibleActionFail(self.message(exc, "talking to Hyper-V")) from None


def _winrm_vars(action: t.Any, task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
    """ansible_winrm_* variables, for hosts whose connection plugin is not winrm itself."""
    return {
        name: action._templar.template(value)  # pylint: disable=protected-access
        for name, value in task_vars.items()
        if name.startswith("ansible_winrm_")
    }
