"""How a Config field is set by hand: its widget (whose key is the field's name and its URL key), its command-line
flag, its words, its limits, and when it does not apply.

Every Config field carries one Control (rnnviz.config); the command line, the sidebar, links and the exported
script's config are all derived from them, so a new control is one field.
"""

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

WIDGETS = ("lines", "select", "number", "fraction", "toggle")


@dataclass(frozen=True)
class Control:
    """A Config field as a person sets it."""

    label: str  # the widget's label
    help: str  # one sentence: the widget's tooltip and the command line's --help
    widget: str  # lines (a text area, one sequence a line), select, number (whole), fraction, or toggle
    choices: Collection[str] = ()  # select: the values (read at each use: a registry's keys)
    labels: Callable[[str], str] | None = None  # select: the label a value is shown (and linked) as; None: itself
    bounds: tuple = ()  # number and fraction: (low, high), both allowed
    off: Callable[[Mapping], str | None] | None = None  # values (name -> value) -> why it does not apply, or None
    trains: bool = False  # a task's training depends on it (rnnviz.training.task_model)

    def shown(self, value):
        """A field's value as its widget holds it: one sequence a line, a select's label."""
        if self.widget == "lines":
            return "\n".join(value)
        return self.labels(value) if self.labels and self.widget == "select" else value

    def from_widget(self, shown):
        """The field's value from its widget's: the inverse of shown."""
        if self.widget == "lines":
            return parse_sequences(shown)
        if self.widget == "select" and self.labels:
            return next((value for value in self.choices if self.labels(value) == shown), shown)
        return float(shown) if self.widget == "fraction" else shown

    def from_text(self, name: str, text: str):
        """A link's text as the field's value (ValueError if it cannot be one): whole numbers as Streamlit reads
        them (2.7 -> 2), true/false, a select's value or label in any case, fractions as they are written."""
        if self.widget == "lines":
            return parse_sequences(text)
        if self.widget == "select":
            names = {str(value).lower(): value for value in self.choices}
            names.update({self.labels(value).lower(): value for value in self.choices} if self.labels else {})
            return names.get(text.lower(), text)  # an unknown one: Config names the choices
        if self.widget == "toggle":
            if text.lower() not in ("true", "false"):
                raise ValueError(f"{name} must be true or false")
            return text.lower() == "true"
        try:
            return int(float(text)) if self.widget == "number" else float(text)  # nan, inf: Config says why
        except (ValueError, OverflowError):
            raise ValueError(f"{name} must be a {'whole number' if self.widget == 'number' else 'number'}") from None


def control(default, label: str, help: str, widget: str, **options):
    """A dataclass field with its Control, for Config."""
    return field(default=default, metadata={"control": Control(label, help, widget, **options)})


def flag(name: str) -> str:
    """The command-line flag of a field: batch_first -> --batch-first."""
    return "--" + name.replace("_", "-")


def parse_sequences(text: str) -> tuple[str, ...]:
    """Split text into sequences, one per line; empty lines are dropped."""
    return tuple(line.removesuffix("\r") for line in text.split("\n") if line.removesuffix("\r"))
