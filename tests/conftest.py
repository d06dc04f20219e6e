"""Fixtures every test shares: an isolated HOME, test certificates, the fault matrix's summary.

Demo backends for a module or a test come from ``demo_support.demo_fixture`` (and the fixed
"now" is ``demo_support.FIXED_NOW``): test modules import those, and conftest.py is not for
importing. Keep this small and additive (others append their own fixtures below): ``client``
is a MedplumClient of the module's ``demo``."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from demo_support import settings_for
from fault_support import TALLY_KEY, Summary, make_cert

from botmon_tui.demo import DemoServer
from botmon_tui.medplum.client import MedplumClient
from botmon_tui.settings import SETTINGS


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` (pyproject's addopts): two workers a core, at most 8. A Pilot test spends much
    of its time waiting (for the demo backend's thread, for Textual to be idle), so a core keeps
    two workers busy: on 2 cores the suite took 115 s with 4 workers against 161-176 s with 2."""
    return max(2, min(8, 2 * (os.cpu_count() or 1)))


#: Settings the developer may have exported; no test may see them.
_USER_ENVIRONMENT = (
    # Every variable of the settings table: MEDPLUM_BASE_URL, BOTMON_PROFILE, TEXTUAL_THEME...
    *(setting.env for setting in SETTINGS if setting.env),
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NO_COLOR",
)


@pytest.fixture(autouse=True)
def isolated_home(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test gets an empty HOME (also its working directory), config dir and state dir: the
    developer's own ``~/.medplum`` profiles, ``.env``, config file and crash log are never read or written."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("BOTMON_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.chdir(home)  # nor a .env file in the working directory
    for name in _USER_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Two self-signed certificates, ``trusted`` and ``untrusted`` (TLS tests; made once per worker)."""
    if shutil.which("openssl") is None:  # pragma: no cover - CI images have it
        pytest.skip("openssl is needed to make test certificates")
    directory = tmp_path_factory.mktemp("certs")
    return {name: make_cert(directory, name) for name in ("trusted", "untrusted")}


# ------------------------------------------------------------------------------------------------
# The fault matrix summary (tests/test_fault_matrix.py, tests/fault_support.py). Each matrix test
# appends its tally to ``user_properties``, which travel with its report: the line is added up
# where the reports arrive (the controller, when the suite runs on pytest-xdist workers: see
# ``addopts`` in pyproject.toml) and printed with the terminal summary. A crash, a lost run or
# an escape leak fails the run.
# ------------------------------------------------------------------------------------------------

_MATRIX = Summary()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "teardown":
        for key, value in report.user_properties:
            if key == TALLY_KEY:
                _MATRIX.add(str(value))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _MATRIX.failed and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _MATRIX.tests:
        return
    terminalreporter.section("fault matrix")
    for label, items in (
        ("crash", _MATRIX.crashes),
        ("lost run", _MATRIX.lost_runs),
        ("escape leak", _MATRIX.escape_leaks),
    ):
        for item in items[:20]:
            terminalreporter.write_line(f"{label}: {item}")
    for item in _MATRIX.one_legged()[:20]:
        terminalreporter.write_line(f"not counted, one leg only: {item}")
    terminalreporter.write_line(_MATRIX.line(), bold=True, red=_MATRIX.failed, green=not _MATRIX.failed)


@pytest.fixture
async def client(demo: DemoServer) -> AsyncIterator[MedplumClient]:
    """A client of the module's demo backend (``demo``, from ``demo_support.demo_fixture``)."""
    async with MedplumClient(settings_for(demo)) as medplum:
        yield medplum
