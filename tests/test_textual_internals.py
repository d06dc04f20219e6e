"""The private Textual names botmon-tui uses, checked against the Textual that is installed.

``botmon_tui/ui/textual_private.py`` is the one module that touches them (``PRIVATE_NAMES``). When
an upgrade removes one or changes its shape, these tests fail naming it and the installed version,
in CI, not on a user's screen; another test fails when a UI module starts using a private Textual
name without going through that module.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path
from types import FunctionType, ModuleType
from typing import Any

import pytest
import textual
from rich.style import Style
from textual.app import App
from textual.dom import DOMNode
from textual.drivers.linux_driver import LinuxDriver
from textual.widgets import DataTable, Footer
from textual.widgets.data_table import Row, RowKey
from textual_support import TEST_PRIVATE_NAMES

import botmon_tui.ui
from botmon_tui.ui import textual_private
from botmon_tui.ui.textual_private import CHECKED_WITH, PRIVATE_NAMES, DataTableInternals, PrivateName
from botmon_tui.ui.widgets.keyed_table import LineOffsets, RowIndex

UI = Path(botmon_tui.ui.__file__).parent
DOOR = UI / "textual_private.py"


def problem(private: PrivateName, what: str) -> str:
    return (
        f"Textual {textual.__version__}: {private.owner} {private.name} {what} "
        f"(botmon-tui was checked with Textual {CHECKED_WITH}). See botmon_tui/ui/textual_private.py "
        "and docs/architecture.md before changing the pin."
    )


def owner_of(private: PrivateName) -> type[Any] | ModuleType:
    module_name, _, class_name = private.owner.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        pytest.fail(problem(private, "cannot be imported: the module is gone"))
    if not class_name:
        return module
    owner = getattr(module, class_name, None)
    if not isinstance(owner, type):
        pytest.fail(problem(private, f"has no owner: {class_name} is gone"))
    return owner


#: New instances to read instance attributes from (made outside any running app, as Textual allows).
INSTANCES: dict[type[Any], Any] = {}


def can_build(owner: type[Any]) -> bool:
    """``owner()`` works (a Widget does; a Driver needs an app and a running loop)."""
    return all(
        p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        for p in list(inspect.signature(owner).parameters.values())
    )


def instance_of(owner: type[Any]) -> Any:
    if owner not in INSTANCES:
        INSTANCES[owner] = owner()
    return INSTANCES[owner]


@pytest.mark.parametrize(
    "private",
    PRIVATE_NAMES + tuple(p for p in TEST_PRIVATE_NAMES if p not in PRIVATE_NAMES),
    ids=lambda p: f"{p.owner.split(':')[-1]}.{p.name}",
)
def test_each_private_name_is_there_with_its_shape(private: PrivateName) -> None:
    """Each name of the app's door (``textual_private.py``) and of the tests' (``textual_support.py``)."""
    owner = owner_of(private)
    if private.kind == "method":
        assert isinstance(owner, type)
        method = getattr(owner, private.name, None)
        if not callable(method):
            pytest.fail(problem(private, "is gone"))
        parameters = tuple(inspect.signature(method).parameters)[1:]
        if parameters != private.shape:
            pytest.fail(problem(private, f"takes {parameters} now, not {private.shape}"))
    elif private.kind == "class":
        if not isinstance(getattr(owner, private.name, None), type):
            pytest.fail(problem(private, "is gone"))
    elif isinstance(owner, ModuleType):
        if not hasattr(owner, private.name):
            pytest.fail(problem(private, "is gone"))
    elif private.shape is None and not can_build(owner):
        # (A driver needs a running app: the attribute must be set in the class's own source.)
        if not re.search(rf"self\.{private.name}\s*[:=]", inspect.getsource(owner)):
            pytest.fail(problem(private, "is gone"))
    else:
        value = getattr(instance_of(owner), private.name, problem)
        if value is problem:
            pytest.fail(problem(private, "is gone"))
        if private.shape is not None and type(value).__name__ != private.shape:
            pytest.fail(problem(private, f"is a {type(value).__name__} now, not a {private.shape}"))


def test_row_index_overrides_every_method_of_two_way_dict() -> None:
    """DataTable calls these on its row index; ``RowIndex`` keeps positions its own way, so a
    method it does not override would read a map that is never filled."""
    from textual._two_way_dict import TwoWayDict

    methods = {name for name, value in vars(TwoWayDict).items() if callable(value) and name != "__init__"}
    missing = sorted(name for name in methods if name not in vars(RowIndex))
    assert not missing, (
        f"Textual {textual.__version__}: TwoWayDict has {missing}, which RowIndex does not override "
        f"(checked with Textual {CHECKED_WITH}; see botmon_tui/ui/widgets/keyed_table.py)"
    )


def test_the_order_caches_are_read_as_keyed_table_fills_them() -> None:
    """DataTable reads the pre-filled caches under the keys they are filled with: the ordered rows
    by (row count, update count), the line offsets (a LineOffsets) by update count."""
    table = DataTableInternals()
    keys = [RowKey(f"r{n}") for n in range(3)]
    for key in keys:
        table.rows[key] = Row(key, 1)
        table.stored_cells[key] = {}
    count = table.invalidate_order()
    rows = [table.rows[key] for key in reversed(keys)]
    table.install_order_caches(rows, LineOffsets(list(reversed(keys))))
    assert table.ordered_rows is rows, problem(PRIVATE_NAMES[4], "is not read under (rows, update count)")
    # (``_y_offsets`` is what DataTable reads the offsets through: only this test looks at it.)
    assert table._y_offsets[0] == (keys[-1], 0), problem(PRIVATE_NAMES[5], "is not read by update count")
    assert table._update_count == count


def test_the_cell_renderer_asks_the_hook_first() -> None:
    seen: list[tuple[int, int]] = []

    class Probe(DataTableInternals):
        def render_cell_lines(
            self, row_index: int, column_index: int, base_style: Style, width: int, cursor: bool, hover: bool
        ) -> Any:
            seen.append((row_index, column_index))
            return [[]]

    assert Probe()._render_cell(0, 0, Style(), 5) == [[]] and seen == [(0, 0)]


def test_the_door_adds_no_name_textual_has() -> None:
    """``DataTableInternals``, ``AppInternals`` and ``HangupSafeDriver`` add names of their own to
    DataTable, App and LinuxDriver: none may shadow one of Textual's (only ``_render_cell``,
    ``_handle_exception``, the driver's signal handlers and ``write``, on purpose)."""
    for door, base, overridden in (
        (DataTableInternals, DataTable, {"_render_cell"}),
        (textual_private.AppInternals, App, {"_handle_exception"}),
        (
            textual_private.HangupSafeDriver,
            LinuxDriver,
            {"_sigtstp_application", "_sigcont_application", "write", "__init__"},
        ),
    ):
        added = {name for name, value in vars(door).items() if isinstance(value, FunctionType | property)}
        clash = sorted(name for name in added & set(dir(base)) if name not in overridden)
        assert not clash, f"Textual {textual.__version__}: {base.__name__} now has {clash} too"


def test_the_docstring_lists_every_name() -> None:
    doc = textual_private.__doc__ or ""
    assert CHECKED_WITH in doc
    missing = [p.name for p in PRIVATE_NAMES if f"``{p.name}``" not in doc and p.name not in doc]
    assert not missing, f"textual_private's docstring does not list {missing}"


# ------------------------------------------------------------------------------------------------
# One door: no other UI module uses a private Textual name
# ------------------------------------------------------------------------------------------------


def textual_private_names() -> set[str]:
    """Every private name of the Textual classes the UI builds on (class members, and instance
    attributes as their source sets them)."""
    names = {p.name for p in PRIVATE_NAMES}
    bases: set[type[Any]] = {DataTable, Footer, App, DOMNode}
    for path in UI.rglob("*.py"):
        module = importlib.import_module(
            "botmon_tui." + path.relative_to(UI.parent).with_suffix("").as_posix().replace("/", ".")
        )
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__ == module.__name__:
                bases.update(c for c in value.__mro__ if c.__module__.startswith("textual"))
    sources: set[str] = set()
    for base in bases:
        for cls in base.__mro__:
            if not cls.__module__.startswith("textual"):
                continue
            names.update(name for name in vars(cls) if name.startswith("_") and not name.startswith("__"))
            source = inspect.getsourcefile(cls)
            if source is not None:
                sources.add(source)
    for source in sources:  # (the whole module: instance attributes are set in its classes)
        names.update(re.findall(r"self\.(_[a-zA-Z]\w*)\s*[:=]", Path(source).read_text()))
    return names


def private_uses(path: Path, private: set[str]) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "textual":
            if any(part.startswith("_") for part in node.module.split(".")):
                found.append(f"line {node.lineno}: from {node.module} import ...")
            found += [f"line {node.lineno}: imports {a.name}" for a in node.names if a.name.startswith("_")]
        elif isinstance(node, ast.Import):
            found += [
                f"line {node.lineno}: import {a.name}"
                for a in node.names
                if a.name.startswith("textual.") and any(p.startswith("_") for p in a.name.split("."))
            ]
        elif isinstance(node, ast.Attribute):
            name = node.attr
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            name = node.name
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            name = node.value  # getattr(node, "_bindings")
        if name is not None and name in private:
            found.append(f"line {getattr(node, 'lineno', '?')}: {name}")
    return found


def test_no_other_ui_module_uses_a_private_textual_name() -> None:
    private = textual_private_names()
    offenders = {
        str(path.relative_to(UI.parent.parent)): uses
        for path in sorted(UI.rglob("*.py"))
        if path != DOOR and (uses := private_uses(path, private))
    }
    assert not offenders, (
        "private Textual names used outside botmon_tui/ui/textual_private.py (add them there, with "
        f"what they are for, and to PRIVATE_NAMES): {offenders}"
    )


#: The tests' door, and this module (which checks the names themselves).
TESTS = Path(__file__).parent
TEST_DOORS = {TESTS / "textual_support.py", Path(__file__)}
#: Private names of something else than Textual that tests read, spelled like one of Textual's.
NOT_TEXTUAL = {"_exit"}  # os._exit


def test_no_other_test_module_uses_a_private_textual_name() -> None:
    private = textual_private_names() - NOT_TEXTUAL
    offenders = {
        path.name: uses
        for path in sorted(TESTS.glob("*.py"))
        if path not in TEST_DOORS and (uses := private_uses(path, private))
    }
    assert not offenders, (
        "private Textual names used outside tests/textual_support.py (add them there, with what "
        f"they are for, and to TEST_PRIVATE_NAMES): {offenders}"
    )
