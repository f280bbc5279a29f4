# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every vmgate.hyperv action does around its work: connect to the inventory host's WinRM
service with the host's own settings, and turn any failure into one message for the person."""

from __future__ import annotations

import threading
import typing as t

from ansible.errors import AnsibleActionFail

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv import failures
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman import settings as winrm_settings
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import (
    VIRTUALIZATION_NAMESPACE as DEFAULT_NAMESPACE,
    HyperVError,
    HyperVHost,
)
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.options import connection_options
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.client import WSManClient
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.errors import WSManError
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.inventory_connection import InventoryConnection


class HostSession:
    """`with HostSession.for_task(action, task_vars, args) as session: session.run(lambda api: ...)`."""

    def __init__(self, label: str, namespace: str, resolve: t.Callable[[], winrm_settings.WinRMSettings],
                 action: t.Any = None):
        self.label = label
        self.namespace = namespace
        self.settings: winrm_settings.WinRMSettings | None = None
        self.client: WSManClient | None = None
        self._lock = threading.RLock()  # one request at a time per host: NTLM binds its context to the connection
        try:
            self.settings = resolve()
            if action is not None:
                TrustEdges.of(action).add(label, self.settings)
            self.client = WSManClient(self.settings)
        except (winrm_settings.SettingsError, WSManError) as exc:
            raise AnsibleActionFail(self.message(exc, "preparing the connection")) from None

    @classmethod
    def for_task(cls, action: t.Any, task_vars: dict[str, t.Any], args: dict[str, t.Any]) -> HostSession:
        """The host the task runs on (or is delegated to), with the task's connection options."""
        label = str(action._task.delegate_to or task_vars.get("inventory_hostname") or "the host")  # pylint: disable=protected-access
        return cls(label, args.get("namespace") or DEFAULT_NAMESPACE, lambda: winrm_settings.resolve(
            action._connection, connection_options(args), extras=_winrm_vars(action, task_vars)), action)  # pylint: disable=protected-access

    @classmethod
    def for_inventory_host(cls, action: t.Any, task_vars: dict[str, t.Any], name: str,
                           namespace: str = DEFAULT_NAMESPACE) -> HostSession:
        """Another inventory host, with its own inventory variables and the task's credentials as fallback."""
        hostvars = task_vars.get("hostvars") or {}
        if name not in hostvars:
            raise AnsibleActionFail(f"{name}: not a host of the inventory; give the inventory name of the Hyper-V host")
        host_vars = {
            key: action._templar.template(value)  # pylint: disable=protected-access
            for key, value in hostvars[name].items()
            if key.startswith("ansible_")
        }
        connection = InventoryConnection(name, host_vars, credentials_from=_TaskCredentials(action))
        return cls(name, namespace, lambda: winrm_settings.resolve(connection, {}), action)

    def sibling(self) -> HostSession:
        """A session of its own to the same host with the same settings (for a thread that works long there)."""
        settings = self.settings
        return HostSession(self.label, self.namespace, lambda: settings)

    def __enter__(self) -> HostSession:
        return self

    def __exit__(self, *_exc_info: t.Any) -> None:
        if self.client is not None:
            self.client.close()

    @property
    def api(self) -> HyperVHost:
        return HyperVHost(self.client, self.namespace)

    def message(self, exc: Exception, step: str) -> str:
        return failures.describe(exc, host=self.label, step=step, settings=self.settings, namespace=self.namespace)

    def fail(self, exc: Exception) -> t.NoReturn:
        """Raise AnsibleActionFail with the message for a failure of this host."""
        if isinstance(exc, failures.StepFailed):
            raise AnsibleActionFail(self.message(exc.cause, exc.step)) from None
        raise AnsibleActionFail(self.message(exc, "talking to Hyper-V")) from None

    def run(self, work: t.Callable[[HyperVHost], t.Any]) -> t.Any:
        """Run `work` with the host's API; every failure becomes AnsibleActionFail with its message."""
        with self._lock:
            try:
                return work(self.api)
            except (failures.StepFailed, HyperVError, WSManError) as exc:
                self.fail(exc)


class TrustEdges:
    """The hosts one task reaches without the protection it could have: certificate validation turned off, or
    requests in clear text. Each session records its host; the action warns once, at its end, naming them all."""

    _ATTRIBUTE = "_vmgate_trust_edges"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.unchecked: dict[str, None] = {}  # ordered sets of host labels
        self.clear: dict[str, dict[str, str]] = {"basic": {}, "requests": {}}  # label -> transport

    @classmethod
    def of(cls, action: t.Any) -> TrustEdges:
        """The record of this action's task run (one per action object: Ansible makes one per task and host)."""
        edges = getattr(action, cls._ATTRIBUTE, None)
        if edges is None:
            edges = cls()
            setattr(action, cls._ATTRIBUTE, edges)
        return edges

    def add(self, label: str, settings: winrm_settings.WinRMSettings) -> None:
        with self._lock:
            if settings.certificate_unchecked:
                self.unchecked[label] = None
            if settings.clear_text:
                self.clear[settings.clear_text][label] = settings.transport

    def warnings(self) -> list[str]:
        """The warnings, one per kind, each naming every host (never a user name or a password)."""
        with self._lock:
            found = []
            if self.unchecked:
                found.append(
                    f"TLS certificate validation is turned off for {_names(self.unchecked)} (validate_certs: false, "
                    "ansible_winrm_server_cert_validation=ignore or ansible_psrp_cert_validation=ignore): the "
                    "controller cannot tell these hosts from an impostor on the network, which would receive the "
                    "credentials and could answer for Hyper-V. Validate it: give the controller the issuing CA "
                    "with ansible_winrm_ca_trust_path (psrp: ansible_psrp_ca_cert).")
            if self.clear["requests"]:
                hosts = self.clear["requests"]
                found.append(
                    f"WinRM message encryption is turned off over plain HTTP for {_names(hosts)} "
                    f"({', '.join(sorted(set(hosts.values())))} with message_encryption: never): every request and "
                    "reply, the VMs' names, their data and the migrations asked, travels in clear text on the network. "
                    "Use HTTPS (port 5986), or leave ansible_winrm_message_encryption (psrp: "
                    "ansible_psrp_message_encryption) at auto.")
            if self.clear["basic"]:
                found.append(
                    f"Basic authentication over plain HTTP for {_names(self.clear['basic'])} (allow_basic_over_http): "
                    "the password, only base64-encoded, and every request and reply travel in clear text on the "
                    "network. Use HTTPS (port 5986).")
            return found


def _names(labels: t.Iterable[str]) -> str:
    """Host names in a sentence, each on one line whatever it holds."""
    names = sorted({" ".join(str(label).split()) for label in labels})
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


class _TaskCredentials:
    """The credentials the running task has: its connection's options, else the play's (-u, --ask-pass), which is
    where an AWX machine credential arrives when the task runs on a host with a local connection."""

    _PLAY_CONTEXT = {"remote_user": "remote_user", "remote_password": "password"}

    def __init__(self, action: t.Any):
        self._connection = action._connection  # pylint: disable=protected-access
        self._play_context = action._play_context  # pylint: disable=protected-access

    def get_option(self, option: str) -> t.Any:
        try:
            value = self._connection.get_option(option)
        except Exception:  # pylint: disable=broad-exception-caught  # a connection without that option (local)
            value = None
        return value if value else getattr(self._play_context, self._PLAY_CONTEXT.get(option, ""), None) or None


def _winrm_vars(action: t.Any, task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
    """ansible_winrm_* variables, for hosts whose connection plugin is not winrm itself."""
    return {
        name: action._templar.template(value)  # pylint: disable=protected-access
        for name, value in task_vars.items()
        if name.startswith("ansible_winrm_")
    }
