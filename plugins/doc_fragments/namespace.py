# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The WMI namespace option and the platform every action of the collection shares."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  namespace:
    description:
      - The WMI namespace, on every host the task talks to. V(root/virtualization/v2) for a host,
        V(root/HyperVCluster/v2) for the cluster-wide view of a failover cluster node.
    type: str
    default: root/virtualization/v2
    choices: [root/virtualization/v2, root/HyperVCluster/v2]
attributes:
  platform:
    support: full
    platforms: windows
    description: The Hyper-V hosts are reached over WS-Management; the action runs on the controller.
"""
