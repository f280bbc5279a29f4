# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An Ansible inventory (group `hyperv`) pointing the winrm connection at the simulated hosts."""

from __future__ import annotations

import yaml

GROUP = 'hyperv'


def host_vars(bind: str, port: int, scheme: str, transport: str, user: str, password: str,
              ca_file: str | None, validate: bool = True) -> dict:
    """The winrm connection variables of one host."""
    variables = {
        'ansible_host': bind,
        'ansible_port': port,
        'ansible_connection': 'winrm',
        'ansible_winrm_scheme': scheme,
        'ansible_winrm_transport': transport,
        'ansible_user': user,
        'ansible_password': password,
    }
    if scheme == 'https':
        if validate and ca_file:
            variables['ansible_winrm_ca_trust_path'] = ca_file
            variables['ansible_winrm_server_cert_validation'] = 'validate'
        else:
            variables['ansible_winrm_server_cert_validation'] = 'ignore'
    return variables


def _ini_value(value) -> str:
    # Single quotes keep backslashes (DOMAIN\user) through the INI plugin's shlex split.
    text = str(value)
    if text.replace('.', '').replace('-', '').replace('_', '').replace('/', '').isalnum():
        return text
    return "'" + text.replace("'", "'\"'\"'") + "'"


def render(hosts: dict[str, dict], fmt: str = 'ini') -> str:
    """Inventory text; hosts maps inventory names to host_vars() dicts."""
    if fmt == 'yaml':
        return yaml.safe_dump({'all': {'children': {GROUP: {'hosts': hosts}}}}, sort_keys=False, default_flow_style=False)
    if fmt != 'ini':
        raise ValueError(f'unknown inventory format {fmt!r}; use ini or yaml')
    lines = [f'[{GROUP}]']
    for name, variables in hosts.items():
        lines.append(' '.join([name] + [f'{key}={_ini_value(value)}' for key, value in variables.items()]))
    return '\n'.join(lines) + '\n'
