# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The compatible_with test; documented in compatible_with.yml."""

from __future__ import annotations

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine import compat
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.engine.plugin_errors import jinja_plugin


def compatible_with(vm_vectors, host_vectors):
    return compat.report(vm_vectors, host_vectors)["compatible"]


class TestModule:
    def tests(self):
        return {"compatible_with": jinja_plugin(compatible_with, kind="test")}
