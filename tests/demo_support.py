"""Helpers for tests that talk HTTP to the demo backend without the UI."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botmon_tui.demo import DemoServer
from botmon_tui.medplum.auth import ConnectionSettings, Secret


def settings_for(demo: DemoServer, **changes: Any) -> ConnectionSettings:
    """Client-credentials settings for ``demo`` (5 s timeout), with ``changes`` applied."""
    values: dict[str, Any] = {
        "base_url": demo.base_url,
        "client_id": demo.client_id,
        "client_secret": Secret(demo.client_secret),
        "timeout": 5.0,
    }
    values.update(changes)
    return ConnectionSettings(**values)


def faults_cleared(demo: DemoServer) -> Iterator[None]:
    """For an autouse fixture: no fault queued by one test reaches the next."""
    demo.faults.clear()
    yield
    demo.faults.clear()
