# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The JSON control endpoint of a host, for a simulator running in another process (loopback only).

  GET    /hvsim/counters            {"operations": {...}, "auth": {...}} of this host
  POST   /hvsim/reset               body {"counters": true, "faults": false, "state": false}; state resets the whole lab
  GET    /hvsim/faults              installed rules
  POST   /hvsim/faults              body {"kind": ..., "op": ..., "nth": 1, "times": null, <params>}; -> {"id": n}
  DELETE /hvsim/faults[/<id>]       remove one rule or all (all also empties filled migration slots)
  GET    /hvsim/state               the lab: hosts, VMs (where they are), jobs
  POST   /hvsim/vms/<name-or-guid>  body {"state": 3 | "off", "host": "HV01"} changes a VM (e.g. stale facts tests)
  POST   /hvsim/nodes/<node>        body {"state": "up" | "down" | "paused"} changes a cluster node (send it to another
                                    host's listener to bring a down node back: a down node answers nothing)
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from hvsim.lab import NODE_STATES, STATES

if TYPE_CHECKING:
    from hvsim.server import HostRuntime

MAX_CONTROL_BODY = 1024 * 1024


def _json(status: int, payload: Any) -> tuple[int, bytes]:
    return status, json.dumps(payload, sort_keys=True).encode('utf-8')


def handle(runtime: 'HostRuntime', method: str, path: str, body: bytes) -> tuple[int, bytes]:
    """Dispatch one control call; returns (HTTP status, JSON bytes)."""
    try:
        data = json.loads(body.decode('utf-8')) if body.strip() else {}
    except (UnicodeDecodeError, ValueError) as exc:
        return _json(400, {'error': f'body is not JSON: {exc}'})
    if len(body) > MAX_CONTROL_BODY or not isinstance(data, dict):
        return _json(400, {'error': 'body must be a JSON object'})
    parts = [part for part in path.split('?', 1)[0].split('/') if part][1:]
    try:
        return _route(runtime, method, parts, data)
    except (KeyError, ValueError, TypeError) as exc:
        return _json(400, {'error': str(exc)})


def _route(runtime: 'HostRuntime', method: str, parts: list[str], data: dict) -> tuple[int, bytes]:
    if parts == ['counters'] and method == 'GET':
        return _json(200, runtime.counters.snapshot())
    if parts == ['reset'] and method == 'POST':
        if data.get('counters', True):
            runtime.counters.reset()
        if data.get('faults', False):
            runtime.clear_faults()
        if data.get('state', False):
            runtime.lab.reset()
            runtime.responder.reset()
        return _json(200, {'ok': True})
    if parts[:1] == ['faults']:
        if method == 'GET' and len(parts) == 1:
            return _json(200, [rule.describe() for rule in runtime.faults.rules()])
        if method == 'POST' and len(parts) == 1:
            params = dict(data)
            kind = params.pop('kind')
            op = params.pop('op', None)
            nth = int(params.pop('nth', 1))
            times = params.pop('times', None)
            if 'body_base64' in params:
                params['body'] = base64.b64decode(params.pop('body_base64'))
            rule_id = runtime.inject(kind, op, nth, None if times is None else int(times), **params)
            return _json(200, {'id': rule_id})
        if method == 'DELETE':
            if len(parts) == 2:
                runtime.faults.clear(int(parts[1]))
            else:
                runtime.clear_faults()
            return _json(200, {'ok': True})
    if parts == ['state'] and method == 'GET':
        return _json(200, runtime.lab.snapshot())
    if parts[:1] == ['vms'] and len(parts) == 2 and method == 'POST':
        with runtime.lab.lock:
            vm = runtime.lab.vm(parts[1])
            if 'state' in data:
                state = data['state']
                vm.state = STATES[state.lower()] if isinstance(state, str) else int(state)
                vm.state_changed_wall = runtime.lab.wall()
            if 'host' in data:
                vm.host = runtime.lab.host(data['host']).name
        return _json(200, {'guid': vm.guid, 'host': vm.host, 'state': vm.state})
    if parts[:1] == ['nodes'] and len(parts) == 2 and method == 'POST':
        return _json(200, _set_node(runtime, parts[1], data))
    return _json(404, {'error': f'no control call {method} /hvsim/{"/".join(parts)}'})


def _set_node(runtime: 'HostRuntime', node: str, data: dict) -> dict:
    """A cluster node's state; open connections to a node set down are not cut here (Simulator.set_node_state does)."""
    state = data.get('state')
    if state not in NODE_STATES:
        raise ValueError(f'state must be one of {", ".join(NODE_STATES)}')
    with runtime.lab.lock:
        host = runtime.lab.host(node)
        if host.cluster_name is None:
            raise KeyError(f'{host.name} is not a cluster node')
        host.cluster_state = state
    return {'node': host.name, 'state': host.cluster_state}
