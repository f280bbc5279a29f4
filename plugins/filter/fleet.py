# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the fleet report; each is documented in the .yml file of its name."""

from __future__ import annotations

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine import fleet
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine import fleet_facts
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.plugin_errors import jinja_plugin


class FilterModule:
    def filters(self):
        return {
            "fleet_facts": jinja_plugin(fleet_facts.fleet_facts),
            "fleet_report": jinja_plugin(fleet.fleet_report),
            "compat_groups": jinja_plugin(fleet.compat_groups),
        }
