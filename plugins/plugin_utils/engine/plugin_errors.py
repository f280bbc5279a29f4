# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn the engine's input errors into the error Ansible expects from a Jinja plugin."""

from __future__ import annotations

import functools
import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.vectors import VectorInputError


def jinja_plugin(func: t.Callable) -> t.Callable:
    """Wrap a filter or test so bad input raises AnsibleFilterError (Ansible adds the plugin name)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except VectorInputError as exc:
            raise AnsibleFilterError(str(exc)) from exc

    return wrapper
