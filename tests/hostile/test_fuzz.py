"""The engine and the response parser fuzzed with hypothesis for a bounded number of examples (fuzz_targets.py says
what is generated and what must hold). `./dev fuzz SECONDS` runs the same targets for longer."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.errors import WSManFault
from hostile.fuzz_targets import CLIENT_CALLS, REPLIES, TARGETS, Canned

BOUNDED = settings(max_examples=300, deadline=5000, derandomize=True, database=None, print_blob=False,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("target", TARGETS, ids=[target.name for target in TARGETS])
def test_fuzz(target):
    target.runner(BOUNDED)()


def test_the_undamaged_replies_are_read():
    """The templates themselves are read: what the client refuses in the fuzz is the damage."""
    def call(name: str, reply: str):
        return CLIENT_CALLS[name](Canned([reply.encode()]))

    assert [vm["ElementName"] for vm in call("virtual_machines", REPLIES["enumerate"])] == ["web01"]
    assert call("vectors", REPLIES["vectors"]) == [{"vector_id": 1, "compare_operation": 2, "compatibility_info": 255}]
    with pytest.raises(WSManFault, match="Generic failure"):
        call("enumerate", REPLIES["fault"])
