# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One move, with the sessions of its two hosts: vm_move's work, shared with the wave."""

from __future__ import annotations

import dataclasses
import typing as t

from ansible.errors import AnsibleActionFail

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.actions.host_session import HostSession
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import HyperVError
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.failures import StepFailed
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.move import MoveFailed, MoveRequest, Mover
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.errors import WSManError


def move(source: HostSession, destination: HostSession, request: MoveRequest, check_mode: bool,
         say: t.Callable[[str], None]) -> dict[str, t.Any]:
    """vm_move's result fields; AnsibleActionFail with the message of the host and step that failed."""
    mover = Mover(source.api, destination.api, source.label, destination.label, say=say)
    try:
        report = mover.move(request, check_mode)
    except MoveFailed as exc:
        raise AnsibleActionFail(f"{source.label}: {exc}") from None
    except StepFailed as exc:
        (destination if exc.host == destination.label else source).fail(exc)
    except (HyperVError, WSManError) as exc:
        source.fail(exc)
    return dataclasses.asdict(report)
