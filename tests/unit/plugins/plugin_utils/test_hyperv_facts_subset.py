# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hyperv_facts.resolve_subset: Ansible's gather_subset rules over compat_facts' optional parts."""

from __future__ import annotations

import pytest

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.facts import SUBSETS, resolve_subset


@pytest.mark.parametrize("requested, parts", [
    (["all"], set(SUBSETS)),
    ([], set(SUBSETS)),
    (["min"], set()),
    (["host_vectors"], {"host_vectors"}),
    (["min", "host_vectors", "configuration_versions"], {"host_vectors", "configuration_versions"}),
    (["!host_vectors"], {"migration_settings", "configuration_versions", "cluster", "memory"}),
    (["!host_vectors", "!migration_settings", "!cluster", "!memory"], {"configuration_versions"}),
    (["all", "!configuration_versions"], {"host_vectors", "migration_settings", "cluster", "memory"}),
    (["!all"], set()),
    (["host_vectors", "!host_vectors"], set()),
    ([" host_vectors "], {"host_vectors"}),
])
def test_resolve_subset(requested, parts):
    assert resolve_subset(requested) == parts


@pytest.mark.parametrize("bad", ["vms", "!vectors", "", "ALL"])
def test_an_unknown_part_names_itself_and_the_choices(bad):
    with pytest.raises(ValueError, match=f"gather_subset: '{bad}' is not one of all, min, host_vectors"):
        resolve_subset(["min", bad])
