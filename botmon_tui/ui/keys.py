"""One place per key: the help screen, the command palette and the keymap read the bindings.

A key's words live in its ``Binding`` and nowhere else: ``description`` is the footer's word,
``tooltip`` the longer sentence (the footer shows it on hover, the help screen and the palette
show it), ``id`` the name a user's ``[keymap]`` rebinds it by. So the help and the palette name
the key the binding has *now* (after a keymap), never a letter written into a string.

Only this app's bindings are listed (their ids start with one of :data:`OWN_PREFIXES`):
Textual's generic keys (focus next, cursor left, page left, its own palette key) are not what a
user of this app looks for, and the help screen's notes say how the arrows and page keys move.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from textual.actions import parse as parse_action
from textual.app import App
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.screen import Screen

from botmon_tui.ui.textual_private import bindings_of

__all__ = [
    "OWN_PREFIXES",
    "PaletteEntry",
    "binding_ids",
    "describe",
    "is_own",
    "key_rows",
    "palette_entries",
    "unknown_keymap_ids",
]

#: The first part of every binding id of this app (``bots.open``, ``events.copy_id``...).
OWN_PREFIXES = ("app", "bots", "events", "failures", "poll", "table", "help", "pane")


def is_own(binding: Binding) -> bool:
    """A binding of this app (not one of Textual's own)."""
    return bool(binding.id) and str(binding.id).split(".", 1)[0] in OWN_PREFIXES


def describe(binding: Binding) -> str:
    """What the key does, in a sentence (the tooltip), else its footer word."""
    return binding.tooltip or binding.description


def key_rows(app: App[Any], node: DOMNode, seen: set[str]) -> list[tuple[str, str]]:
    """(key as shown, what it does) for this app's bindings of ``node``, the key each has now;
    a key already in ``seen`` (bound nearer the focus) is left out, and added to it otherwise. A
    binding ``node.check_action`` turns off now is left out too (a key whose meaning follows the
    view: the Failures screen's number keys sort the table shown)."""
    rows: list[tuple[str, str]] = []
    for key, group in bindings_of(node).key_to_bindings.items():
        for binding in group:
            if not is_own(binding) or not binding.description or key in seen:
                continue
            _, name, parameters = parse_action(binding.action)
            if node.check_action(name, parameters) is False:
                continue
            seen.add(key)
            rows.append((app.get_key_display(binding), describe(binding)))
    return rows


@dataclass(frozen=True)
class PaletteEntry:
    """A command palette entry made from a binding active on the screen."""

    name: str
    help: str
    run: Callable[[], object]


def palette_entries(app: App[Any], screen: Screen[Any]) -> list[PaletteEntry]:
    """Every action of this app that a key of ``screen`` does now (its focused widget's, its own,
    the app's), named by its footer word, its sentence and the key that does it."""
    entries: list[PaletteEntry] = []
    seen: set[str] = set()
    for active in screen.active_bindings.values():
        binding = active.binding
        if not is_own(binding) or not binding.description or not active.enabled:
            continue
        name = binding.description if binding.group is None else describe(binding)
        if binding.id in seen or name in {entry.name for entry in entries}:
            continue
        seen.add(str(binding.id))
        key = app.get_key_display(binding)
        entries.append(
            PaletteEntry(
                name=name,
                help=f"{describe(binding)} ({key})" if binding.tooltip else f"({key})",
                run=_runner(app, active.node, binding.action),
            )
        )
    return entries


def _runner(app: App[Any], node: DOMNode, action: str) -> Callable[[], object]:
    def run() -> object:
        return app.run_action(action, node)

    return run


def binding_ids(classes: Iterable[type[DOMNode]]) -> set[str]:
    """The ids of every binding these classes declare (what a ``[keymap]`` may name)."""
    ids: set[str] = set()
    for cls in classes:
        for klass in cls.__mro__:
            declared: Sequence[BindingType] = [
                *klass.__dict__.get("BINDINGS", ()),
                *klass.__dict__.get("POLL_BINDINGS", ()),
            ]
            ids.update(b.id for b in declared if isinstance(b, Binding) and b.id)
    return ids


def unknown_keymap_ids(keymap: dict[str, str], classes: Iterable[type[DOMNode]]) -> list[str]:
    """The ids of a ``[keymap]`` that no binding has (a typo: the key would do nothing)."""
    known = binding_ids(classes)
    return sorted(binding_id for binding_id in keymap if binding_id not in known)
