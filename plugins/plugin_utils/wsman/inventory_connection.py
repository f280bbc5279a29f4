# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Another inventory host's WinRM settings, read from its variables.

An action runs with the connection of one host; a migration also talks to the other end. That
host's connection plugin is not loaded, so its options are read from the variables the winrm or
psrp plugin would read. Credentials it does not set come from the running task's connection,
which is where an AWX machine credential arrives for every host of the job.
"""

from __future__ import annotations

import typing as t

# connection option -> the variables that set it, strongest first (as the plugins declare them)
_WINRM_VARIABLES = {
    "remote_addr": ("ansible_host", "ansible_winrm_host"),
    "port": ("ansible_port", "ansible_winrm_port"),
    "remote_user": ("ansible_user", "ansible_winrm_user"),
    "remote_password": ("ansible_password", "ansible_winrm_pass", "ansible_winrm_password"),
}
_PSRP_VARIABLES = {
    "remote_addr": ("ansible_host", "ansible_psrp_host"),
    "port": ("ansible_port", "ansible_psrp_port"),
    "remote_user": ("ansible_user", "ansible_psrp_user"),
    "remote_password": ("ansible_password", "ansible_psrp_pass", "ansible_psrp_password"),
}


class InventoryConnection:
    """Quacks like a winrm/psrp connection plugin for winrm_settings.resolve()."""

    def __init__(self, name: str, host_vars: t.Mapping[str, t.Any], credentials_from: t.Any = None):
        kind = str(host_vars.get("ansible_connection") or "winrm")
        self.transport = f"ansible.builtin.{kind.rsplit('.', 1)[-1]}"
        self._psrp = self.transport.endswith("psrp")
        self._name = name
        self._vars = host_vars
        self._credentials_from = credentials_from

    def get_option(self, option: str) -> t.Any:
        prefix = "ansible_psrp_" if self._psrp else "ansible_winrm_"
        if option == "_extras":
            return {name: value for name, value in self._vars.items() if name.startswith(prefix)}
        names = (_PSRP_VARIABLES if self._psrp else _WINRM_VARIABLES).get(option, (prefix + option,))
        for name in names:
            if self._vars.get(name) is not None:
                return self._vars[name]
        if option == "remote_addr":
            return self._name
        if option in ("remote_user", "remote_password") and self._credentials_from is not None:
            try:
                return self._credentials_from.get_option(option)
            except Exception:  # pylint: disable=broad-exception-caught  # not a connection with credentials
                return None
        return None
