"""An inventory of every simulated host in group hyperv, over HTTP with NTLM and message encryption."""

from __future__ import annotations

from pathlib import Path

import yaml

from hvsim import inventory
from hvsim.pytest_fixtures import HVSIM_PASSWORD, HVSIM_USER


def write_inventory(sim, path: Path) -> str:
    hosts = {
        name: inventory.host_vars(handle.bind, handle.http_port, "http", "ntlm", HVSIM_USER, HVSIM_PASSWORD, None)
        for name, handle in sim.hosts.items()
    }
    path.write_text(yaml.safe_dump({"all": {"children": {"hyperv": {"hosts": hosts}}}}))
    return str(path)
