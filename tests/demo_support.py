"""Helpers for tests that talk HTTP to the demo backend: the fixed "now", quiet demo backends
(and a fixture factory for them), connection settings.

(Kept out of conftest.py so that test modules can import them; conftest.py holds the fixtures
every test shares.)
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Literal

import pytest

from botmon_tui.demo import DemoConfig, DemoServer
from botmon_tui.medplum.auth import ConnectionSettings, Secret

#: "Now" for every test: the demo's clock and the app's, so that ages, windows and snapshots are exact.
FIXED_NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
#: The demo project the UI tests and the snapshots show.
SEED = 7


class WallClock:
    """A wall clock moved by hand (``clock.at = ...``): hand it to a session or the app."""

    def __init__(self, at: datetime = FIXED_NOW) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def quiet_demo(seed: int = SEED, *, tls: ssl.SSLContext | None = None, **config: Any) -> DemoServer:
    """A demo backend at ``FIXED_NOW`` that makes no runs of its own (``live=False``), not started:
    use it as ``with quiet_demo(...) as server``. ``config``: more :class:`DemoConfig` fields."""
    return DemoServer(DemoConfig(seed=seed, now=FIXED_NOW, live=False, **config), tls=tls)


def demo_fixture(
    *, scope: Literal["function", "module"] = "module", **config: Any
) -> Callable[[], Iterator[DemoServer]]:
    """A fixture serving one ``quiet_demo(**config)`` per module (or per test), named by the
    variable it is assigned to. A module's demo backend is always ``demo``
    (``demo = demo_fixture(seed=5, history_days=2)``); a second one beside it is named by what
    differs (``whole_logs``, ``crowded_demo``, ``fresh_demo``)."""

    @pytest.fixture(scope=scope)
    def serve() -> Iterator[DemoServer]:
        with quiet_demo(**config) as server:
            yield server

    return serve


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
