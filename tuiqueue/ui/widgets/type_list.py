"""The job types pane: every registered type with its description."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tuiqueue.core.registry import JobType
from tuiqueue.core.text import clean


def prompt(job_type: JobType) -> Text:
    """What the list shows for a type: its name in bold, its description dimmed under it."""
    label = Text(clean(job_type.name), style="bold")
    if job_type.description:
        label.append("\n" + clean(job_type.description), style="dim")
    return label


class TypeList(OptionList):
    """Registered job types; highlighting one fills the form."""

    def __init__(self, types: Iterable[JobType], **kw: Any) -> None:
        self.types = list(types)
        super().__init__(*(self._option(t) for t in self.types), **kw)

    @staticmethod
    def _option(job_type: JobType) -> Option:
        return Option(prompt(job_type), id=job_type.name)

    def select_type(self, name: str) -> None:
        """Highlight the type called name."""
        for index, job_type in enumerate(self.types):
            if job_type.name == name:
                self.highlighted = index
