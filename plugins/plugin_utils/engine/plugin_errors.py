# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn the engine's input errors into the error Ansible expects from a Jinja plugin."""

from __future__ import annotations

import functools
import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.vectors import VectorInputError

try:  # ansible-core 2.19+: an exception anywhere in a task's failure chain may give the task result's msg
    from ansible.errors import AnsibleActionFail as _ContributesMessage
except ImportError:  # pragma: no cover  # every supported ansible-core has it; without it the mixin only adds nothing
    _ContributesMessage = Exception  # type: ignore[assignment,misc]


class VectorPluginError(AnsibleFilterError, _ContributesMessage):
    """Bad input to a filter or test: "The filter plugin 'vmgate.hyperv.x' failed: <where>: <what>".

    On ansible-core 2.19 a filter that fails while a task's arguments are templated is wrapped as "Task failed:
    Finalization of task args for 'ansible.builtin.set_fact' failed: Error while resolving value for 'x': The filter
    plugin ... failed: ...", and the id or value at fault comes last, after Ansible's words. This error gives the task
    result its own msg (AnsibleActionFail's result contribution, which 2.19 takes from any exception of the chain),
    so the failed task says what is wrong first; the full chain, with where in the playbook, stays in the error shown.
    ansible-core 2.16 shows the message alone already.
    """

    def __init__(self, message: str, plugin: str):
        AnsibleFilterError.__init__(self, message)  # pylint: disable=non-parent-init-called
        self._result = {}
        self.plugin_message = f"The {plugin} failed: {message}"

    @property
    def result_contribution(self) -> t.Mapping[str, object]:
        return {"failed": True, "msg": self.plugin_message}

    @property
    def omit_exception_key(self) -> bool:
        return True

    @property
    def result(self) -> dict[str, object]:
        return dict(self.result_contribution)


def jinja_plugin(func: t.Callable, name: str | None = None, kind: str = "filter") -> t.Callable:
    """Wrap a filter or test so bad input raises VectorPluginError (an AnsibleFilterError).

    `name` is the plugin's short name when it differs from the function's (compat.report is compat_report).
    """
    plugin = f"{kind} plugin 'vmgate.hyperv.{name or func.__name__}'"

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except VectorInputError as exc:
            raise VectorPluginError(str(exc), plugin) from exc

    return wrapper
