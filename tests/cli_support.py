"""Helpers for the command-line tests: run ``main()`` in process, or ``botmon-tui`` as a process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from demo_support import use_environment

from botmon_tui.cli import main
from botmon_tui.demo import DemoServer

REPO = Path(__file__).resolve().parents[1]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``botmon-tui ARGV`` in process: (exit status, stdout, stderr)."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write_profile(
    home: Path,
    name: str,
    options: dict[str, Any] | None,
    login: dict[str, Any] | None = None,
    *,
    mode: int = 0o600,
) -> Path:
    """Write ``home/.medplum/NAME.json`` the way the Medplum CLI does: a flat object of strings
    (``options`` and ``activeLogin`` are JSON-encoded)."""
    data: dict[str, str] = {}
    if options is not None:
        data["options"] = json.dumps(options)
    if login is not None:
        data["activeLogin"] = json.dumps(login)
    path = home / ".medplum" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    path.chmod(mode)
    return path


def one_error_line(err: str) -> str:
    """stderr is exactly one ``botmon-tui: error:`` line (warnings aside; no blank line), no traceback."""
    lines = [line for line in err.splitlines() if not line.startswith("botmon-tui: warning: ")]
    assert len(lines) == 1, err[:2000]
    assert lines[0].startswith("botmon-tui: error: "), err
    assert "Traceback" not in err
    return lines[0]


def flags_for(server: DemoServer, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Point the environment at ``server`` (a secret from the environment goes only to a server
    named there too); the flags to add are none."""
    use_environment(monkeypatch, server)
    return []


def server_env(server: DemoServer) -> dict[str, str]:
    """The environment of a ``botmon-tui`` process that talks to ``server``."""
    return process_env(
        MEDPLUM_BASE_URL=server.base_url,
        MEDPLUM_CLIENT_ID=server.client_id,
        MEDPLUM_CLIENT_SECRET=server.client_secret,
    )


def process_env(**extra: str) -> dict[str, str]:
    """The environment of a ``botmon-tui`` process: the user's Medplum settings left out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDPLUM_", "BOTMON_", "COLUMNS"))}
    env.update(extra)
    return env


def botmon(*argv: str, timeout: float = 60, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """``python -m botmon_tui ARGV`` as a process (text output, 60 s at most)."""
    options: dict[str, object] = {"capture_output": True, "text": True, "cwd": REPO, "env": process_env()}
    options.update(kwargs)
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "botmon_tui", *argv], timeout=timeout, **options
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupted(*argv: str, lines: int, env: dict[str, str] | None = None) -> tuple[list[str], int, str, str]:
    """Start ``python -m botmon_tui ARGV``, read ``lines`` lines of its stdout, then send SIGINT (a
    real Ctrl-C): (those lines, its exit status, the rest of stdout, stderr)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "botmon_tui", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env or process_env(),
        cwd=REPO,
        # Ctrl-C's default action, whatever this suite inherited: a suite started in the background
        # by a shell (`pytest &`) has SIGINT ignored, and Python then keeps it ignored in the child.
        preexec_fn=_default_sigint,
    )
    try:
        assert process.stdout is not None
        first = [process.stdout.readline() for _ in range(lines)]
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return first, process.returncode, out, err
