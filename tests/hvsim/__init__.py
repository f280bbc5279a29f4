# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hvsim: simulated Hyper-V hosts that speak WS-Management, for tests, benchmarks and the demo.

Backend state (`lab`, `jobs`, `compat`, `methods`) is kept apart from the protocol responders
(`soap`, `wsman`, `auth`, `server`), the way moto separates AWS backends from their HTTP faces.
"""

from __future__ import annotations

from hvsim.simulator import DEFAULT_PASSWORD, DEFAULT_USER, Simulator

__all__ = ['DEFAULT_PASSWORD', 'DEFAULT_USER', 'Simulator']
