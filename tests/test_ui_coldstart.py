"""What the dashboard leaves out of its first frame, and that it is there when wanted."""

from __future__ import annotations

import asyncio
import html
import re
import subprocess
import sys
from functools import partial
from typing import Any

import pytest
from textual import events
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, Select
from textual.widgets._select import SelectOverlay

from tests.conftest import cli_env
from tests.test_ui_helpers import _quiet, make_ui_registry, new_app, table, wait_for
from tuiqueue.core.registry import REGISTRY, Registry
from tuiqueue.ui.app import styles_dir
from tuiqueue.ui.screens.main import FILTERS, TEXT_FILTER
from tuiqueue.ui.widgets.button_face import ButtonFace
from tuiqueue.ui.widgets.face import Face
from tuiqueue.ui.widgets.input_face import InputFace
from tuiqueue.ui.widgets.job_detail import JobDetail
from tuiqueue.ui.widgets.job_form import SAVE, SUBMIT, JobForm
from tuiqueue.ui.widgets.job_summary import JobSummary
from tuiqueue.ui.widgets.log_tail import LogTail
from tuiqueue.ui.widgets.log_view import LogSearch, LogView
from tuiqueue.ui.widgets.select_face import SelectFace
from tuiqueue.ui.widgets.type_list import TypeList
from tuiqueue.ui.widgets.type_list_face import TypeListFace

__all__ = ["_quiet"]

pytestmark = pytest.mark.anyio


async def test_the_queue_table_has_the_focus_from_the_start() -> None:
    """No widget is focused on the way to the table (the type list used to be, then blurred:
    restyles and footer rebuilds before the first frame)."""
    focused: list[str] = []

    def hook(message: Message) -> None:
        if isinstance(message, events.DescendantFocus):
            focused.append(type(message.widget).__name__)

    app = new_app()
    async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        assert app.focused is table(app)
        assert not isinstance(app.focused, TypeList)
    assert focused and set(focused) == {"JobTable"}


LATER = (
    "tuiqueue.ui.widgets.job_progress",
    "tuiqueue.ui.widgets.job_summary",
    "tuiqueue.ui.widgets.log_tail",
    "tuiqueue.ui.widgets.log_view",
    "tuiqueue.ui.widgets.param_field",
    "textual.widgets._progress_bar",
    "textual.widgets._switch",
)
"""Modules the main screen's first frame does not need: the pane's parts and the form's fields
(built after it), with the Textual widgets only they use."""


def test_the_app_leaves_the_panes_parts_and_the_fields_for_later() -> None:
    """Importing the app (as the command does before the first frame) loads none of LATER; the
    tests above and below build them (a pane, a type's fields) when wanted."""
    out = subprocess.run(
        [sys.executable, "-c", "import sys, tuiqueue.ui.app\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        env=cli_env(),
    ).stdout.split()
    assert "tuiqueue.ui.widgets.job_detail" in out  # (the app's modules are in the list)
    assert not set(LATER) & set(out)


class LogHarness(App[None]):
    """A log view alone, styled as in the dashboard."""

    CSS_PATH = str(styles_dir() / "dashboard.tcss")

    def compose(self) -> ComposeResult:
        yield LogView(log_id="log")


async def test_the_log_search_field_is_built_when_first_opened() -> None:
    app = LogHarness()
    async with app.run_test(size=(80, 20)) as pilot:
        view = app.query_one(LogView)
        assert not view.query(LogSearch)  # not built for a log nobody searches
        view.tail.add([(1, "alpha"), (2, "beta")])
        view.tail.focus()
        await pilot.press("slash")
        field = view.query_one(LogSearch)
        assert app.focused is field and field.display and view.has_class("-searching")
        await pilot.press(*"beta", "enter")
        assert view.tail.search == "beta" and app.focused is view.tail
        assert not field.display
        # Opened again: the same field, holding the current search.
        await pilot.press("slash")
        assert list(view.query(LogSearch)) == [field]
        assert app.focused is field and field.value == "beta"
        await pilot.press("escape")
        assert view.tail.search == "" and app.focused is view.tail


CELL_WIDTH, LINE_HEIGHT = 12.2, 24.4
"""The size of a cell in Rich's exported SVG."""


def cells(svg: str) -> dict[tuple[int, int], tuple[str, str, str]]:
    """Each cell of an exported screenshot: its background, character and text colour, read
    from the SVG (two screens that look the same give the same cells, however their
    widgets split the text into runs)."""
    styles = dict(re.findall(r"\.terminal-\d+-(r\d+) \{ ([^}]*) \}", svg))
    grid: dict[tuple[int, int], list[str]] = {}
    for fill, x, y, width in re.findall(
        r'<rect fill="([^"]+)" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="24.65"', svg
    ):
        row, col = round((float(y) - 1.5) / LINE_HEIGHT), round(float(x) / CELL_WIDTH)
        for c in range(col, col + round(float(width) / CELL_WIDTH)):
            grid.setdefault((row, c), ["", " ", ""])[0] = fill
    for cls, x, line, text in re.findall(
        r'<text class="terminal-\d+-(r\d+)" x="([\d.]+)" y="[\d.]+" textLength="[\d.]+" '
        r'clip-path="url\(#terminal-\d+-line-(\d+)\)">([^<]*)</text>',
        svg,
    ):
        col = round(float(x) / CELL_WIDTH)
        for i, char in enumerate(html.unescape(text)):
            cell = grid.setdefault((int(line), col + i), ["", " ", ""])
            visible = char not in ("\xa0", " ")
            cell[1], cell[2] = (char, styles.get(cls, "")) if visible else (" ", "")
    return {key: (bg, char, fg) for key, (bg, char, fg) in grid.items()}


SELECTS: list[tuple[str, dict[str, Any], str, bool]] = [
    (
        "filter",
        {"options": [("All jobs", 0), ("Active", 1)], "value": 0, "allow_blank": False},
        "All jobs",
        False,
    ),
    ("preset", {"options": [], "prompt": "Preset…", "compact": True}, "Preset…", True),
]
"""Selects as the dashboard builds them (a value shown; a compact one with its prompt), with
the label and placeholder flag of their faces."""


class SelectHarness(App[None]):
    """Each Select of SELECTS, or its face, on a row of its own, styled as in the dashboard."""

    CSS_PATH = str(styles_dir() / "dashboard.tcss")
    CSS = "#filter { width: 20; } #preset { width: 30; } .row { height: 3; }"
    AUTO_FOCUS = None  # (a face is never focused: on the dashboard the table has the focus)

    def __init__(self, faces: bool, theme: str) -> None:
        super().__init__()
        self.faces = faces
        self._theme_name = theme

    def compose(self) -> ComposeResult:
        for select_id, kw, label, placeholder in SELECTS:
            with Horizontal(classes="row"):
                if self.faces:
                    compact = bool(kw.get("compact"))
                    yield SelectFace(
                        label,
                        partial(Select, id=select_id, **kw),
                        placeholder=placeholder,
                        compact=compact,
                        id=select_id,
                    )
                else:
                    yield Select(id=select_id, **kw)

    def on_mount(self) -> None:
        self.theme = self._theme_name


async def _screen_cells(app: SelectHarness) -> dict[tuple[int, int], tuple[str, str, str]]:
    async with app.run_test(size=(40, 6)) as pilot:
        await pilot.pause()
        return cells(app.export_screenshot())


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
async def test_a_select_face_looks_like_the_closed_select(theme: str) -> None:
    real = await _screen_cells(SelectHarness(faces=False, theme=theme))
    face = await _screen_cells(SelectHarness(faces=True, theme=theme))
    assert any(char == "▼" for _, char, _ in real.values())  # (the Selects are on screen)
    assert face == real


async def test_a_face_becomes_its_select_in_place() -> None:
    app = SelectHarness(faces=True, theme="textual-dark")
    async with app.run_test(size=(40, 6)) as pilot:
        face = app.query_one("#filter", SelectFace)
        face.disabled = True
        select = await face.replace()
        await pilot.pause()
        assert app.query_one("#filter") is select and isinstance(select, Select)
        assert not app.query(SelectFace).filter("#filter") and select.disabled
        assert select.parent is app.query(".row").first() and select.value == 0


async def test_a_face_whose_screen_is_going_builds_nothing() -> None:
    """A dashboard that ends while a face waits to be replaced (seen in CI: the form filled
    for its first type as the app closed) must not fail: the face's row is gone, nothing is
    mounted, no error."""
    app = SelectHarness(faces=True, theme="textual-dark")
    async with app.run_test(size=(40, 6)) as pilot:
        face = app.query_one("#filter", SelectFace)
        await face.parent.remove()  # type: ignore[union-attr]
        assert await face.replace() is None
        await pilot.pause()
        assert not app.query("#filter")


async def test_the_dashboard_builds_its_selects_after_the_first_frame() -> None:
    """The first frame shows faces; by the time the first window is loaded the four Selects
    are real, working ones, and the form is filled for the first type."""
    app = new_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        main = app.main
        assert not main.query(SelectFace)
        for select_id in ("status-filter", "queue-filter", "priority", "preset"):
            assert isinstance(main.query_one(f"#{select_id}"), Select)
        for button_id in ("submit", "save-preset"):
            assert isinstance(main.query_one(f"#{button_id}"), Button)
        assert isinstance(main.query_one("#text-filter"), Input)
        assert not main.query(ButtonFace) and not main.query(InputFace)
        form = main.query_one(JobForm)
        assert form.job_type is not None and form.fields  # the first type's fields
        status = main.query_one("#status-filter", Select)
        status.focus()
        await pilot.press("enter")  # opens its list
        assert status.expanded
        await pilot.press("down", "enter")  # "Active"
        await wait_for(pilot, lambda: table(app).statuses == FILTERS[1][1])


FORM_CSS = """
.row { height: 3; }
#narrow { width: 35; } #mid { width: 38; } #wide { width: 60; }
"""


LONG = "A label longer than min-width"
"""A button that measures its label (the form's two fit in their min-width)."""


class ButtonInputHarness(App[None]):
    """The form's two Buttons (and a longer one) and text filters of four widths (two where
    Input's wrapping of its placeholder shows), or their faces, styled as in the dashboard
    (their ids' rules included)."""

    CSS_PATH = str(styles_dir() / "dashboard.tcss")
    CSS = FORM_CSS
    AUTO_FOCUS = None  # (a face is never focused: on the dashboard the table has the focus)

    def __init__(self, faces: bool, theme: str, disabled: bool = False) -> None:
        super().__init__()
        self.faces = faces
        self._theme_name = theme
        self.disabled_buttons = disabled

    def compose(self) -> ComposeResult:
        submit = partial(Button, SUBMIT, variant="primary", id="submit")
        save = partial(Button, SAVE, id="save-preset", compact=True)
        long = partial(Button, LONG, id="long")
        with Horizontal(classes="row"):
            if self.faces:
                yield ButtonFace(SUBMIT, submit, primary=True, id="submit")
                yield ButtonFace(SAVE, save, compact=True, id="save-preset")
                yield ButtonFace(LONG, long, id="long")
            else:
                yield submit()
                yield save()
                yield long()
        for input_id in ("text-filter", "narrow", "mid", "wide"):
            with Horizontal(classes="row"):
                field = partial(Input, placeholder=TEXT_FILTER, id=input_id)
                yield InputFace(TEXT_FILTER, field, id=input_id) if self.faces else field()

    def on_mount(self) -> None:
        self.theme = self._theme_name
        for selector in ("#submit", "#save-preset", "#long"):
            self.query_one(selector).disabled = self.disabled_buttons


async def _form_cells(app: ButtonInputHarness) -> dict[tuple[int, int], tuple[str, str, str]]:
    async with app.run_test(size=(100, 15)) as pilot:
        await pilot.pause()
        return cells(app.export_screenshot())


@pytest.mark.parametrize("disabled", [False, True], ids=["enabled", "disabled"])
@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
async def test_button_and_input_faces_look_like_the_real_ones(theme: str, disabled: bool) -> None:
    """Faces and widgets cell by cell: the primary and the compact Button (enabled, and
    disabled as on a read-only dashboard), the empty filter cut at three widths."""
    real = await _form_cells(ButtonInputHarness(faces=False, theme=theme, disabled=disabled))
    face = await _form_cells(ButtonInputHarness(faces=True, theme=theme, disabled=disabled))
    text = "".join(char for _, char, _ in real.values())
    assert "Submit" in text and "Save" in text and "/ filter" in text  # (all on screen)
    assert face == real


async def test_button_and_input_faces_become_the_real_widgets() -> None:
    app = ButtonInputHarness(faces=True, theme="textual-dark", disabled=True)
    async with app.run_test(size=(100, 15)) as pilot:
        for face in list(app.query(ButtonFace)) + list(app.query(InputFace)):
            await face.replace()
        await pilot.pause()
        submit = app.query_one("#submit", Button)
        assert submit.variant == "primary" and submit.disabled
        assert app.query_one("#save-preset", Button).compact
        assert app.query_one("#text-filter", Input).placeholder == TEXT_FILTER
        assert not app.query(ButtonFace) and not app.query(InputFace)


@pytest.fixture
def before_the_swap(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dashboard stays in its first frames: the swap of its faces never comes."""

    async def not_yet(self: Any) -> None:
        """The swap after the first frame has not come yet."""

    monkeypatch.setattr("tuiqueue.ui.screens.main.MainScreen._after_first_frame", not_yet)


async def test_slash_before_the_swap_focuses_the_real_text_filter(before_the_swap: None) -> None:
    """`/` pressed while the filter is still a face (the first frames) builds the filters and
    types in the real Input."""

    app = new_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        main = app.main
        assert isinstance(main.query_one("#text-filter"), InputFace)
        await pilot.press("slash")
        field = main.query_one("#text-filter", Input)
        assert app.focused is field
        await pilot.press(*"zz")
        assert field.value == "zz" and table(app).needle == "zz"
        assert not main.query_one("#filters").query_children(Face)


class FormHarness(App[None]):
    """The job form alone, with no type chosen (its fields empty), as first composed."""

    CSS_PATH = str(styles_dir() / "dashboard.tcss")
    AUTO_FOCUS = None

    def compose(self) -> ComposeResult:
        yield JobForm(id="form")


async def test_focus_first_before_the_swap_focuses_the_real_submit() -> None:
    """`n` with no fields to focus, while Submit is still a face: once the faces are built,
    the real Submit has the focus."""
    app = FormHarness()
    async with app.run_test(size=(60, 20)) as pilot:
        form = app.query_one(JobForm)
        assert isinstance(form.query_one("#submit"), ButtonFace)
        form.focus_first()
        await wait_for(pilot, lambda: isinstance(app.focused, Button))
        assert app.focused is form.query_one("#submit", Button)
        assert not form.query(Face)


async def test_focus_first_on_a_form_leaving_the_screen_does_nothing() -> None:
    """The form removed while its faces wait to be built (the dashboard closing): no error,
    nothing built."""
    app = FormHarness()
    async with app.run_test(size=(60, 20)) as pilot:
        form = app.query_one(JobForm)
        form.focus_first()
        await form.remove()
        await pilot.pause()
        assert not app.query(Button) and app.focused is None


class TypesHarness(App[None]):
    """The type list (or its face) at the width of the dashboard's left column, styled as in
    the dashboard, with nothing focused and the first type highlighted."""

    CSS_PATH = str(styles_dir() / "dashboard.tcss")
    CSS = "#left { height: 100%; }"
    AUTO_FOCUS = None

    def __init__(self, face: bool, registry: Registry, theme: str, narrow: bool) -> None:
        super().__init__()
        self.face = face
        self.registry = registry
        self._theme_name = theme
        self.narrow = narrow

    def compose(self) -> ComposeResult:
        build = partial(TypeList, self.registry, id="types")
        with Vertical(id="left", classes="-narrow" if self.narrow else ""):
            yield TypeListFace(list(self.registry), build, id="types") if self.face else build()

    def on_mount(self) -> None:
        self.theme = self._theme_name
        types = self.query_one("#types")
        types.border_title = "Job types"
        if isinstance(types, TypeList):
            types.highlighted = 0


def _registry(name: str) -> Registry:
    if name == "builtin":  # (the built-in types: more lines than the list's height)
        import tuiqueue.jobs  # noqa: F401  (they register themselves)

        return REGISTRY.copy()
    reg = make_ui_registry()
    if name == "one":
        one = Registry()
        one.add(reg.get("hello"))
        return one
    return reg


async def _types_cells(
    app: TypesHarness,
) -> tuple[dict[tuple[int, int], tuple[str, str, str]], set[tuple[int, int]]]:
    """The screen's cells, and where a scroll bar is (empty when the list has none)."""
    async with app.run_test(size=(50, 20)) as pilot:
        await pilot.pause()
        types = app.query_one("#types")
        bar: set[tuple[int, int]] = set()
        if isinstance(types, TypeList) and types.show_vertical_scrollbar:
            region = types.scrollable_content_region  # (inside border and padding)
            right = region.right  # the bar's 2 columns follow the content
            bar = {(r, c) for r in range(region.y, region.bottom) for c in (right, right + 1)}
        return cells(app.export_screenshot()), bar


@pytest.mark.parametrize("narrow", [False, True], ids=["wide", "narrow"])
@pytest.mark.parametrize("registry", ["builtin", "test", "one"])
@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
async def test_the_type_list_face_looks_like_the_list(
    theme: str, registry: str, narrow: bool
) -> None:
    """Cell by cell, but for the scroll bar (the list paints it from its second frame: the
    first frame, which the face stands for, has its background there, as the face does)."""
    reg = _registry(registry)
    real, bar = await _types_cells(TypesHarness(False, reg, theme, narrow))
    face, _ = await _types_cells(TypesHarness(True, reg, theme, narrow))
    text = "".join(char for _, char, _ in real.values())
    assert all(t.name in text for t in list(reg)[:2])  # (the options are on screen)
    assert bool(bar) == (registry == "builtin" or (registry == "test" and narrow))
    assert {k: v for k, v in face.items() if k not in bar} == {
        k: v for k, v in real.items() if k not in bar
    }
    background = real[(2, 1)][0]  # (the list's left padding)
    assert {face[k] for k in bar} <= {(background, " ", "")}


async def test_the_type_list_face_becomes_the_list_and_fills_the_form() -> None:
    app = new_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        types = app.main.query_one("#types", TypeList)
        assert not app.main.query(TypeListFace)
        assert types.highlighted == 0 and types.border_title == "Job types"
        form = app.main.query_one(JobForm)
        await wait_for(pilot, lambda: form.job_type is not None)
        assert form.job_type is not None and form.job_type.name == types.types[0].name


async def test_new_job_on_a_narrow_screen_before_the_swap_focuses_the_list(
    before_the_swap: None,
) -> None:
    """`n` at 80 columns (the form folded away) while the type list is still a face: the
    list is built and has the focus."""

    app = new_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        assert isinstance(app.main.query_one("#types"), TypeListFace)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.focused, TypeList))
        assert not app.main.query_one("#left").has_class("-collapsed")


async def test_faces_built_as_the_dashboard_closes_fail_nothing(before_the_swap: None) -> None:
    """The swap running while the screen's parts are being removed (the dashboard closing
    in its first frames): what is gone is skipped, nothing raises."""

    app = new_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        main = app.main
        assert main.query(Face)
        await main.query_one("#left").remove()
        await main.query_one("#filters").remove()
        await main._build_faces()
        await pilot.pause()
        assert not main.query(TypeList) and not main.query("#text-filter")


class PaneHarness(App[None]):
    """The queue's detail pane alone, built or deferred, styled as in the dashboard."""

    CSS_PATH = str(styles_dir() / "dashboard.tcss")
    AUTO_FOCUS = None

    def __init__(self, deferred: bool, theme: str = "textual-dark") -> None:
        super().__init__()
        self.deferred = deferred
        self._theme_name = theme

    def compose(self) -> ComposeResult:
        yield JobDetail(id="pane", deferred=self.deferred)

    def on_mount(self) -> None:
        self.theme = self._theme_name


async def _pane_cells(app: PaneHarness) -> dict[tuple[int, int], tuple[str, str, str]]:
    async with app.run_test(size=(100, 16)) as pilot:
        await pilot.pause()
        return cells(app.export_screenshot())


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
async def test_a_deferred_pane_looks_like_the_built_one_with_no_job(theme: str) -> None:
    built = await _pane_cells(PaneHarness(deferred=False, theme=theme))
    deferred = await _pane_cells(PaneHarness(deferred=True, theme=theme))
    assert any(char == "━" for _, char, _ in built.values())  # (the bar is drawn)
    assert deferred == built


async def test_a_deferred_pane_builds_once_and_then_shows_jobs() -> None:
    app = PaneHarness(deferred=True)
    async with app.run_test(size=(100, 16)) as pilot:
        pane = app.query_one(JobDetail)
        assert not pane.built and not pane.query(LogTail)
        await asyncio.gather(pane.build(), pane.build())  # (the screen and _follow may race)
        await pilot.pause()
        assert pane.built and len(pane.query(LogTail)) == 1 and len(pane.query(JobSummary)) == 1
        assert pane.query_one("#detail-facts").border_title == "Job"
        assert pane.log_tail.border_title == "Log"


async def test_the_dashboards_pane_is_built_and_follows_the_cursor() -> None:
    app = new_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        job = await app.engine.submit("gate", {"label": "first"})
        main = app.main
        await wait_for(pilot, lambda: main.pane_job == job.id and main.pane.job is not None)
        assert main.pane.built
        assert main.pane.query_one("#detail-facts").border_title == f"Job #{job.id}"
        await wait_for(pilot, lambda: main.pane.log_tail.line_count >= 2)


async def test_stats_while_the_queue_filter_mounts_reach_it(
    before_the_swap: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stats naming a new queue that come while the real queue filter is mounting (in the
    DOM, its parts not built yet: the race CI once lost with NoMatches) are offered by it
    once it is in."""
    from tuiqueue.ui.screens.main import MainScreen

    app = new_app()
    came: list[bool] = []

    class Racing(Select[str]):
        async def _on_compose(self, event: events.Compose) -> None:
            await app.engine.submit("gate", {}, queue="mail")
            app.main._on_stats(await app.engine.stats())  # before its parts exist
            came.append(True)
            await super()._on_compose(event)

    def racing(self: MainScreen) -> Select[str]:
        choices = [("All queues", ""), *((n, n) for n in self.queue_choices)]
        return Racing(choices, value="", allow_blank=False, id="queue-filter")

    monkeypatch.setattr(MainScreen, "_queue_filter", racing)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.set_queue_paused(True)
        await app.main._build_faces()
        assert came
        select = app.main.query_one("#queue-filter", Racing)
        assert "mail" in app.main.queue_choices
        overlay = select.query_one(SelectOverlay)
        offered = [str(overlay.get_option_at_index(i).prompt) for i in range(overlay.option_count)]
        assert offered == ["All queues", *app.main.queue_choices] and select.value == ""
