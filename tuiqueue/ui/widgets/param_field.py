"""One form field generated from a Param, validated as the person types."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static, Switch

from tuiqueue.core.params import Param
from tuiqueue.core.text import clean

if TYPE_CHECKING:
    from textual.widgets import TextArea

LINES = "param-lines"
"""The class of a list parameter's box (a TextArea, imported when a form has one)."""


class ParamField(Vertical):
    """A labelled input for one parameter, with its help and its current error."""

    error: reactive[str] = reactive("")
    """Why the current value is refused ("" when it is fine)."""

    def __init__(self, param: Param) -> None:
        super().__init__(classes="param-field")
        self.param = param

    def compose(self) -> ComposeResult:
        """Label, the right input for the kind, help and error line."""
        param = self.param
        label = Text(clean(param.title), style="bold")
        label.append(f"  {param.describe()}", style="dim")
        yield Label(label, classes="param-label")
        yield self._make_input()
        if param.help:
            yield Static(Text(clean(param.help)), classes="param-help")
        yield Static("", classes="param-error")

    def _make_input(self) -> Widget:
        param, default = self.param, self.param.default
        ident = f"param-{param.name}"
        if param.kind == "bool":
            return Switch(bool(default), id=ident)
        if param.kind == "choice":
            options = [(c, c) for c in param.choices]
            return Select(
                options,
                value=default if default in param.choices else Select.NULL,
                allow_blank=default not in param.choices,
                id=ident,
            )
        if param.kind in ("list", "urls"):
            from textual.widgets import TextArea  # (~8 ms: only for a form with a list box)

            text = "\n".join(str(v) for v in default) if isinstance(default, list) else ""
            return TextArea(text, id=ident, classes=LINES, soft_wrap=False)
        text = "" if default is None else str(default)
        return Input(text, placeholder=param.kind, id=ident)

    def raw(self) -> Any:
        """The value as typed, parsed but not checked (raises ValueError)."""
        widget = self.query_one(f"#param-{self.param.name}")
        if isinstance(widget, Switch):
            return widget.value
        if isinstance(widget, Select):
            return None if widget.value is Select.NULL else widget.value
        text = (
            cast("TextArea", widget).text if widget.has_class(LINES) else cast(Input, widget).value
        )
        if not text.strip() and (self.param.kind != "str" or self.param.default is not None):
            return None  # an emptied field means its default, as its label says
        return self.param.parse_text(text)

    def set_value(self, value: Any) -> None:
        """Show a value (a preset's, or a job's to edit and rerun it), then check it; None
        shows the default."""
        param = self.param
        value = param.default if value is None else value
        widget = self.query_one(f"#param-{param.name}")
        if isinstance(widget, Switch):
            widget.value = bool(value)
        elif isinstance(widget, Select):
            widget.value = value if value in param.choices else Select.NULL
        elif widget.has_class(LINES):
            items = value if isinstance(value, list) else [] if value is None else [value]
            cast("TextArea", widget).load_text("\n".join(str(v) for v in items))
        else:
            cast(Input, widget).value = "" if value is None else str(value)
        self.validate_now()

    def value(self) -> tuple[Any, str | None]:
        """(clean value, None) or (None, why not); None means "use the default"."""
        try:
            raw = self.raw()
        except ValueError as exc:
            return None, str(exc)
        if raw is None:
            if self.param.required:
                return None, f"{self.param.name} is required"
            return None, None
        return self.param.check(raw)

    def validate_now(self) -> str | None:
        """Check the value and show the result; returns the error."""
        self.error = self.value()[1] or ""
        return self.error or None

    def watch_error(self, error: str) -> None:
        """Show or hide the error beside the field."""
        self.set_class(bool(error), "-invalid")
        self.query_one(".param-error", Static).update(Text(error))

    def on_input_changed(self, event: Input.Changed) -> None:
        """Validate on every keystroke."""
        self.validate_now()

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        """Validate list boxes on every edit."""
        self.validate_now()

    def on_select_changed(self, event: Select.Changed) -> None:
        """Validate a changed choice."""
        self.validate_now()
