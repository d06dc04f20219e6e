"""What the command line writes: tables that fit, closed pipes and full disks, start-up cost."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from cli_support import REPO, botmon, flags_for, process_env, run, server_env
from demo_support import quiet_demo
from rich.cells import cell_len

from botmon_tui.cli.output import DEFAULT_WIDTH, Output, table_width, wants_colour
from botmon_tui.cli.table import Cell, Column, Compact, Drop, Shrink, Step, fit, render
from botmon_tui.demo import DemoServer

AGE = re.compile(r"(?:\d+[smhdwy] ago|now|never|—|>\d+[smhdwy] ago)")
OUTCOME = re.compile(r"(?:✓ Success|▲ Minor failure|✗ Serious Failure|✖ Major failure|—)(?: \(\d+\))?  ")


@pytest.fixture(scope="module")
def server() -> Iterator[DemoServer]:
    """A quiet demo server with long names, a silent bot and recent failures."""
    with quiet_demo(seed=3, history_days=1) as demo:
        now = datetime.now(UTC)
        long_name = demo.store.add_bot({"resourceType": "Bot", "name": "a-very-long-bot-name-" + "x" * 40})
        demo.store.add_bot({"resourceType": "Bot", "name": "silent-one", "auditEventDestination": ["log"]})
        for minutes, outcome in ((50, "12"), (40, "8"), (30, "4"), (5, "0")):
            desc = f"{now:%H:%M:%S} starting\nError: step {minutes} went wrong " + "because " * 30
            demo.store.add_event(
                long_name["id"], outcome=outcome, desc=desc, at=now - timedelta(minutes=minutes)
            )
        yield demo


@pytest.fixture
def connect(server: DemoServer, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return flags_for(server, monkeypatch)


# ------------------------------------------------------------------------------------------------
# Tables that fit
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("columns", [60, 80, 200])
@pytest.mark.parametrize("command", [["status"], ["bots"], ["events", "a-very-long-bot-name-" + "x" * 40]])
def test_tables_fit_the_width_and_keep_what_matters(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    server: DemoServer,
    connect: list[str],
    columns: int,
    command: list[str],
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    code, out, err = run(capsys, *command, *connect)
    assert code in (0, 1), err
    lines = out.splitlines()
    assert max(cell_len(line) for line in lines) <= columns, "\n".join(lines)
    # Never cut: every outcome whole (its code may go when narrow), every age, the ⚠ warning.
    # (The table starts at its header: status's first line may wrap.)
    header = next(n for n, line in enumerate(lines) if line.startswith(("BOT ", "NAME ", "ID ")))
    starts = (" ", "⚠", "'", "✓", "✗", "↻", "─")
    rows = [line for line in lines[header + 1 :] if line and not line.startswith(starts)]
    rows = [row for row in rows if not re.match(r"\d+ bots$", row)]
    assert rows and all(AGE.search(row) and OUTCOME.search(row) for row in rows), rows
    if command[0] != "events":
        assert "⚠ log only" in out
    # Wide enough, nothing is shortened but a long summary: whole ids and names.
    if columns == 200:
        if command[0] == "events":
            assert all(len(row.split()[0]) == 36 for row in rows)
        else:
            assert all(bot["id"] in out and bot["name"] in out for bot in server.store.bots)


def test_the_summary_gives_way_first_then_the_id(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, connect: list[str]
) -> None:
    name = "a-very-long-bot-name-" + "x" * 40
    shown = {}
    for columns in (200, 80):
        monkeypatch.setenv("COLUMNS", str(columns))
        _, out, _ = run(capsys, "events", name, *connect)
        header, row = out.splitlines()[1:3]
        shown[columns] = (row.split()[0], header.split(), row)
    summary = "Error: step 5 went wrong because"
    assert len(shown[200][0]) == 36 and "UPDATED" in shown[200][1]
    assert summary in shown[200][2] and len(shown[200][2]) == 200  # the summary took the room left
    assert shown[80][0].endswith("…") and len(shown[80][0]) == 9 and "UPDATED" not in shown[80][1]
    assert "Error: step 5 went" in shown[80][2]


def test_width_is_columns_else_the_terminal_else_80() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert table_width(io.StringIO(), {"COLUMNS": "132"}) == 132
    assert table_width(io.StringIO(), {}) == DEFAULT_WIDTH == 80  # a pipe, a file, cron
    assert table_width(io.StringIO(), {"COLUMNS": "wide"}) == 80
    assert table_width(Tty(), {}) == 80  # a terminal whose size cannot be read


def test_colour_only_on_a_terminal_without_no_color() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert wants_colour(Tty(), {})
    assert not wants_colour(Tty(), {"NO_COLOR": "1"})
    assert not wants_colour(Tty(), {"TERM": "dumb"})
    assert not wants_colour(io.StringIO(), {})


def test_the_linux_console_gets_symbols_it_can_draw_and_pipes_keep_them() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    line = "✗ 3 of 14 bots failed · ⚠ log only · ▂▅█ · Outcome⁴ ✓"
    for stream, environ, expected in (
        (Tty(), {"TERM": "linux"}, "x 3 of 14 bots failed · ! log only · _+@ · Outcome4 +"),
        (Tty(), {"TERM": "xterm-256color"}, line),
        (io.StringIO(), {"TERM": "linux"}, line),  # piped: the text as it is
    ):
        Output.for_streams(stream, io.StringIO(), environ).line(line)
        assert stream.getvalue() == expected + "\n"


def test_layout_steps_in_order_and_room_goes_back() -> None:
    columns = [
        Column("name", "NAME"),
        Column("outcome", "OUTCOME"),
        Column("id", "ID"),
        Column("n", "N", right=True),
    ]
    rows: list[list[Cell | str]] = [
        ["x" * 30, Cell("▲ Minor failure (4)", "▲ Minor failure", "warning"), "f" * 36, "7"]
    ]
    plan: list[Step] = [Shrink("name", 10), Shrink("id", 9), Compact("outcome"), Drop("id")]
    wide = fit(columns, rows, 200, plan)
    assert wide.total == 30 + 19 + 36 + 1 + 6 and not wide.compact
    mid = fit(columns, rows, 60, plan)  # name to 10, id to 9: 10+19+9+1+6 = 45, then 15 back to the name
    assert (mid.widths["name"], mid.widths["id"], mid.total) == (25, 9, 60)
    narrow = fit(columns, rows, 30, plan)
    assert [c.key for c in narrow.columns] == ["name", "outcome", "n"] and "outcome" in narrow.compact
    line = narrow.lines(rows)[1]
    assert "▲ Minor failure" in line and line.endswith("7")
    # Past the last step the line is longer than asked rather than lose the outcome.
    assert cell_len(render(columns, rows, width=10, plan=plan)[1]) > 10


def test_render_keeps_columns_aligned_with_wide_characters_and_tabs() -> None:
    lines = render(
        [Column("a", "A"), Column("b", "B"), Column("c", "C")],
        [["x\ty", "宽字", "tail " * 10], ["1", "2", "3"]],
        width=30,
        plan=[Shrink("c", 5)],
    )
    assert lines[1].startswith("x y  宽字  tail")
    assert lines[2].startswith("1    2     3")
    assert max(cell_len(line) for line in lines) <= 30


def test_csv_on_a_terminal_is_sanitized() -> None:
    """A file gets the real text; a terminal never gets a raw escape, not even from CSV."""
    out = io.StringIO()
    Output(out=out, err=io.StringIO(), tty=True).csv_writer().row(["a\x1b]0;x\x07", "b"])
    assert out.getvalue() == "a␛]0;x␇,b\r\n"
    out = io.StringIO()
    Output(out=out, err=io.StringIO(), tty=False).csv_writer().row(["a\x1b]0;x\x07", "b"])
    assert out.getvalue() == "a\x1b]0;x\x07,b\r\n"


# ------------------------------------------------------------------------------------------------
# Closed pipes and full disks
# ------------------------------------------------------------------------------------------------


def test_a_closed_pipe_is_quiet_and_keeps_the_status(server: DemoServer) -> None:
    """``botmon-tui events X --limit 500 | head -1``: no complaint, and status keeps its exit status."""
    env = server_env(server)
    flags = ""
    bot = max(server.store.bots, key=lambda b: len(server.store.events_for(b["id"])))
    for command, status in ((f"events {bot['id']} --limit 500 --csv", 0), ("status --since 1h", 1)):
        script = f'set -o pipefail; {sys.executable} -m botmon_tui {command} {flags} | head -c 10; echo " $?"'
        result = subprocess.run(
            ["bash", "-c", script], capture_output=True, text=True, env=env, cwd=REPO, timeout=60
        )
        assert result.stderr == "", result.stderr
        assert result.stdout.endswith(f" {status}\n"), result.stdout


def test_a_full_disk_is_one_line_and_exit_4(server: DemoServer, tmp_path: object) -> None:
    env = server_env(server)
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "botmon_tui", "bots", "--csv"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
            timeout=60,
        )
    assert result.returncode == 4
    assert result.stderr == "botmon-tui: error: cannot write the output: No space left on device\n"


# ------------------------------------------------------------------------------------------------
# Start-up cost
# ------------------------------------------------------------------------------------------------

_LOADED = (
    "import sys; from botmon_tui.cli import main; code = main(sys.argv[1:]); "
    "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'httpx', 'pydantic', 'textual', 'rich'}); "
    "sys.stderr.write('LOADED ' + ' '.join(heavy) + '\\n'); sys.exit(code)"
)


def loaded(*argv: str, env: dict[str, str] | None = None) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", _LOADED, *argv],
        capture_output=True,
        text=True,
        env=env or process_env(),
        cwd=REPO,
        timeout=60,
    )
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("LOADED"), result.stderr
    return set(line.split()[1:])


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["status", "--help"], ["events", "--help"]])
def test_version_and_help_load_no_http_pydantic_or_textual(argv: list[str]) -> None:
    assert loaded(*argv) == set()


def test_one_shot_commands_load_no_textual(server: DemoServer) -> None:
    bot_id = server.store.bots[0]["id"]
    for argv in (["bots"], ["status"], ["events", bot_id, "--csv"]):
        assert "textual" not in loaded(*argv, env=server_env(server))


def test_version_in_a_real_process_is_quick_to_import() -> None:
    result = botmon("--version", env=process_env(PYTHONPROFILEIMPORTTIME="1"))
    assert result.returncode == 0
    modules = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "botmon_tui.cli.args" in modules
    assert not modules & {"httpx", "pydantic", "textual", "rich", "asyncio", "botmon_tui.config"}
