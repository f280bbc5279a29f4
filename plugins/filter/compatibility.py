# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the compatibility engine; each is documented in the .yml file of its name."""

from __future__ import annotations

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine import baseline
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine import compat
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine import ranking
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.plugin_errors import jinja_plugin


def vm_compatible(vm_vectors, host_vectors):
    return compat.report(vm_vectors, host_vectors)["compatible"]


class FilterModule:
    def filters(self):
        return {
            "vm_compatible": jinja_plugin(vm_compatible),
            "compat_report": jinja_plugin(compat.report, "compat_report"),
            "rank_hosts": jinja_plugin(ranking.rank_hosts),
            "compat_matrix": jinja_plugin(ranking.compat_matrix),
            "compat_baseline": jinja_plugin(baseline.compat_baseline),
        }
