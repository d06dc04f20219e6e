"""The ``botmon-tui`` command: the TUI by default, and subcommands for scripts and cron.

    botmon-tui [CONNECTION] [--interval SECONDS] [--bot BOT]                        the TUI
    botmon-tui status [CONNECTION] [--since DURATION] [--bot BOT ...] [--json|--csv] exit 1 if a bot failed
    botmon-tui bots [CONNECTION] [--json|--csv]                                     every bot
    botmon-tui events BOT [CONNECTION] [--limit N] [--failures] [--since DURATION] [--follow] [--json|--csv]
    botmon-tui demo-server [--port PORT] [--seed N] [--verbose]                     the demo backend alone

One module per concern: :mod:`~botmon_tui.cli.args` (the grammar; all that ``--help`` and
``--version`` load), :mod:`~botmon_tui.cli.main` (dispatch and exit statuses),
:mod:`~botmon_tui.cli.output` (stdout, stderr, CSV, closed pipes), :mod:`~botmon_tui.cli.table`
(tables that fit), :mod:`~botmon_tui.cli.session` (the client, retries, bots by name) and one
module per command, imported when it runs.

Exit statuses: 0 ok, 1 a bot failed (``status``) or an internal error (traceback in the log file),
2 usage or configuration error, 3 authentication, network or server error, 4 the output could not
be written, 130 interrupted. Errors are one line on stderr and never hold a secret; tables show
server text only after :func:`~botmon_tui.textsafe.sanitize`.
"""

from botmon_tui.cli.args import parse_duration
from botmon_tui.cli.main import main

__all__ = ["main", "parse_duration"]
