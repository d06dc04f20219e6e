"""Shared fixtures. Keep this small and additive (others append their own fixtures below)."""

from __future__ import annotations

from pathlib import Path

import pytest

#: Settings the developer may have exported; no test may see them.
_USER_ENVIRONMENT = (
    "MEDPLUM_BASE_URL",
    "MEDPLUM_FHIR_URL_PATH",
    "MEDPLUM_TOKEN_URL",
    "MEDPLUM_CLIENT_ID",
    "MEDPLUM_CLIENT_SECRET",
    "MEDPLUM_CLIENT_ACCESS_TOKEN",
    "BOTMON_PROFILE",
    "BOTMON_INTERVAL",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NO_COLOR",
)


@pytest.fixture(autouse=True)
def isolated_home(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test gets an empty HOME, config dir and state dir: the developer's own
    ``~/.medplum`` profiles, config file and crash log are never read or written."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("BOTMON_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    for name in _USER_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    return home
