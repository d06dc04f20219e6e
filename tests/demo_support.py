"""Helpers for tests that talk HTTP to the demo backend without the UI."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

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


def use_environment(
    monkeypatch: pytest.MonkeyPatch, demo: DemoServer, *, base_url: str | None = None
) -> None:
    """Point ``MEDPLUM_BASE_URL``, ``MEDPLUM_CLIENT_ID`` and ``MEDPLUM_CLIENT_SECRET`` at ``demo``: a
    secret from the environment is only sent to a server named there too."""
    monkeypatch.setenv("MEDPLUM_BASE_URL", base_url or demo.base_url)
    monkeypatch.setenv("MEDPLUM_CLIENT_ID", demo.client_id)
    monkeypatch.setenv("MEDPLUM_CLIENT_SECRET", demo.client_secret)


def faults_cleared(demo: DemoServer) -> Iterator[None]:
    """For an autouse fixture: no fault queued by one test reaches the next."""
    demo.faults.clear()
    yield
    demo.faults.clear()
