"""Presenter mode's lesson path: the presets, then an LSTM's c_n and h_0 carried over a split, walked with Back and
Next (PageUp and PageDown, as a presentation remote sends them)."""

from dashboard import sidebar
from rnnviz import PRESETS, Config

PATH = {**PRESETS, "lstm-c_n": Config(cell="lstm"), "carry-h_0": Config(h0="carry")}  # step name -> its view


def step_of(config: Config) -> str | None:
    """The step of the path that config is (its device aside), or None."""
    return next((name for name, step in PATH.items() if config.replace(device=step.device) == step), None)


def go_to(name: str):
    """Callback: show a step of the path (a preset's step as that preset)."""
    sidebar.show(PATH[name], name if name in PRESETS else sidebar.CUSTOM)


def present_ui(container, config: Config):
    """◀ Back and Next ▶ along the path, side by side in container (off the path, Next starts it); where the view
    is, in their tooltips."""
    names = list(PATH)
    here = step_of(config)
    i = names.index(here) if here else -1
    where = f"Step {i + 1} of {len(names)}: {here}." if here else "Off the lesson path."
    container.button(
        "◀ Back", on_click=go_to, args=(names[max(i - 1, 0)],), disabled=i <= 0, shortcut="PageUp", help=where
    )
    container.button(
        "Next ▶",
        on_click=go_to,
        args=(names[min(i + 1, len(names) - 1)],),
        disabled=i == len(names) - 1,
        shortcut="PageDown",
        help=where,
    )
