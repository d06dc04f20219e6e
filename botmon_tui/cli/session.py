"""One command's conversation with the server: the client, patient retries, and bots by name.

Imported by the commands that talk to a server (it brings in httpx and pydantic); never by
``--help`` or ``--version``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from botmon_tui.cli.args import PROG, UsageError
from botmon_tui.cli.output import Output
from botmon_tui.formatting import plural
from botmon_tui.medplum.auth import ConnectionSettings
from botmon_tui.medplum.client import MedplumClient
from botmon_tui.medplum.errors import ConnectionDroppedError, MedplumError, NotFoundError, RateLimitedError
from botmon_tui.medplum.models import Bot
from botmon_tui.textsafe import clip

__all__ = [
    "UnknownBot",
    "as_id",
    "connected",
    "find_bot",
    "match_bot",
    "patiently",
    "run_async",
    "warn_unreadable",
]

T = TypeVar("T")

#: A 429 is waited out (as long as the server asks) this many times per request, when the wait is
#: at most ``MAX_RATE_LIMIT_WAIT`` seconds; otherwise the command fails with the server's answer.
MAX_RATE_LIMIT_RETRIES = 3
MAX_RATE_LIMIT_WAIT = 60.0
#: A dropped connection is asked again this many times, quietly (a one-shot command has no
#: backoff to fall back on; a second drop in a row is an outage and fails the command).
MAX_DROPPED_RETRIES = 1
#: FHIR id syntax.
_ID_RE = re.compile(r"^[A-Za-z0-9.\-]{1,64}$")
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
#: Bots named in an error (an ambiguous name, near misses).
_SHOWN_MATCHES = 5


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, with ``main``'s result kept out of the task.

    On its way out, Python 3.11's ``asyncio.run`` checks its SIGINT handler with
    ``signal.getsignal``, which formats ``repr(handler)`` (a partial holding the main task, whose
    repr holds its result) while trying it as an enum value. For a whole project's state that
    repr cost about as much as everything else ``status`` does (benchmark: the ``status`` row).
    """
    box: list[T] = []

    async def keep() -> None:
        box.append(await main)

    asyncio.run(keep())
    return box[0]


async def patiently(io: Output, request: Callable[[], Awaitable[T]]) -> T:
    """``await request()``; after a 429, wait as long as the server says and ask again; after a
    dropped connection, ask once more without a word."""
    limited = dropped = 0
    while True:
        try:
            return await request()
        except RateLimitedError as exc:
            limited += 1
            if limited > MAX_RATE_LIMIT_RETRIES or exc.retry_after > MAX_RATE_LIMIT_WAIT:
                raise
            io.warning(str(exc))
            await asyncio.sleep(exc.retry_after)
        except ConnectionDroppedError:
            dropped += 1
            if dropped > MAX_DROPPED_RETRIES:
                raise


def warn_unreadable(io: Output, count: int, kind: str = "") -> None:
    """One warning line for ``count`` entries of a Bundle that could not be read (``kind``: of what)."""
    if count:
        one, many = f"{kind} entry".lstrip(), f"{kind} entries".lstrip()
        io.warning(f"{plural(count, one, many)} could not be read and were skipped")


@asynccontextmanager
async def connected(settings: ConnectionSettings, io: Output) -> AsyncIterator[MedplumClient]:
    """The client of one command; what it learnt to keep secret (its access token) is scrubbed from
    the output too, also when the command fails."""
    async with MedplumClient(settings) as client:
        try:
            yield client
        finally:
            io.remember_secrets(client.secrets())


# ------------------------------------------------------------------------------------------------
# Bots by name or id
# ------------------------------------------------------------------------------------------------


class UnknownBot(UsageError):
    """No bot has that name or id, or several have that name (exit 2)."""


def as_id(text: str) -> str | None:
    """The id in ``text`` when it can be one (``Bot/<id>`` too)."""
    candidate = text[4:] if text.startswith("Bot/") else text
    return candidate if _ID_RE.match(candidate) else None


def _listed(bots: Sequence[Bot]) -> str:
    shown = ", ".join(f"{clip(b.display_name, 60)} ({b.id})" for b in bots[:_SHOWN_MATCHES])
    more = len(bots) - _SHOWN_MATCHES
    return shown + (f" and {more} more" if more > 0 else "")


def _not_found(text: str, near: Sequence[Bot]) -> UnknownBot:
    message = f"no bot is named {clip(text, 80)!r} or has that id (or these credentials cannot read it)"
    if near:
        message += f"; did you mean {_listed(near)}?"
    return UnknownBot(f"{message} ('{PROG} bots' lists them)")


def _ambiguous(text: str, bots: Sequence[Bot]) -> UnknownBot:
    return UnknownBot(f"{len(bots)} bots are named {clip(text, 80)!r}: {_listed(bots)}; give the id instead")


def _near(text: str, bots: Sequence[Bot]) -> list[Bot]:
    """Bots whose name is ``text`` but for case, or starts with it (what the user may have meant)."""
    folded = text.casefold()
    same = [b for b in bots if (b.name or "").casefold() == folded]
    return same or [b for b in bots if (b.name or "").casefold().startswith(folded)]


def _only_named(text: str, bots: Sequence[Bot]) -> Bot | None:
    """The one bot among ``bots`` whose name is exactly ``text`` (None: none; several: an error)."""
    named = [b for b in bots if b.name == text]
    if len(named) > 1:
        raise _ambiguous(text, named)
    return named[0] if named else None


def match_bot(text: str, bots: Sequence[Bot]) -> Bot:
    """The bot ``text`` names among ``bots`` (all of the project's): its id, else its exact name."""
    wanted = as_id(text)
    for bot in bots:
        if bot.id == wanted:
            return bot
    named = _only_named(text, bots)
    if named is not None:
        return named
    raise _not_found(text, _near(text, bots))


async def _read(client: MedplumClient, io: Output, bot_id: str) -> Bot | None:
    """``Bot/<bot_id>``, or None when there is no such bot (404, or 410 for a deleted one)."""
    try:
        return await patiently(io, lambda: client.get_bot(bot_id))
    except NotFoundError:
        return None
    except MedplumError as exc:
        if exc.status == 410:
            return None
        raise


async def find_bot(client: MedplumClient, io: Output, text: str) -> Bot:
    """The bot ``text`` names: its id, else its exact name (one or two requests).

    A UUID or ``Bot/<id>`` is read as an id first; anything else is searched as a name first
    (Medplum's ``name`` search is a prefix match: the exact name is picked here), then read as an id.
    """
    wanted = as_id(text)
    reference = text.startswith("Bot/")
    id_first = wanted is not None and (reference or _UUID_RE.match(wanted) is not None)
    if id_first:
        assert wanted is not None
        bot = await _read(client, io, wanted)
        if bot is not None:
            return bot
        if reference:
            raise _not_found(text, ())
    page = await patiently(io, lambda: client.bots_named(text))
    named = _only_named(text, page.resources)
    if named is not None:
        return named
    if wanted is not None and not id_first:
        bot = await _read(client, io, wanted)
        if bot is not None:
            return bot
    raise _not_found(text, _near(text, page.resources))
