"""Runs the original registry (worker_registry.py, unchanged) on a scenario
read from stdin and prints its snapshots as JSON.

Its few imports are stubbed: the bus modules (only a topic helper is used),
the logger, and the pydantic WorkerStatus model (a plain record here).
The clock is `time.time`, replaced by the scenario's own.

Scenario: {"steps": [{"at": secs, "topic": str, "payload": {...}} |
                     {"at": secs, "snapshot": true}]}
Output: [[{name, status, last_heartbeat_ts, seconds_since, extra}, ...], ...]
"""
import json
import os
import sys
import time
import types


def stub(name, **attrs):
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    sys.modules[name] = module
    return module


class WorkerStatus:
    def __init__(self, **fields):
        self.fields = fields


stub("decnet")
stub("decnet.bus", topics=types.SimpleNamespace(system=lambda leaf: "system." + leaf))
stub("decnet.bus.base", BaseBus=object)
def log(*args):
    print(*args, file=sys.stderr)


stub("decnet.logging", get_logger=lambda name: types.SimpleNamespace(debug=log, warning=log))
stub("decnet.web")
stub("decnet.web.db")
stub("decnet.web.db.models", WorkerStatus=WorkerStatus)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

now = [0.0]
time.time = lambda: now[0]

import worker_registry  # noqa: E402  (after the stubs, on purpose)

registry = worker_registry.WorkerRegistry()
snapshots = []
for step in json.load(sys.stdin)["steps"]:
    now[0] = step["at"]
    if step.get("snapshot"):
        snapshots.append([row.fields for row in registry.snapshot()])
    else:
        event = types.SimpleNamespace(topic=step["topic"], payload=step["payload"])
        registry._on_event(event)
json.dump(snapshots, sys.stdout)
