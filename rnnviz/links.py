"""Links: a dashboard URL's parameters -> the Config they describe, and every value that had to be dropped.

Pure: the dashboard only applies the result. Every value is checked by Config itself (the one source of limits
and choices), one at a time in Config's field order, so a value that cannot go with the ones before it (proj=3
with the RNN cell) is dropped and named, and the rest of the link still opens. h0 and split go together (a carry
may run only at the link's split, and a split is only for a carry): they are tried as one first.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from rnnviz.config import CONFIG_DEFAULTS, PRESETS, Config, ConfigError, changes, controls, preset_of
from rnnviz.model import resolve_device

CONFIG_KEYS = tuple(CONFIG_DEFAULTS)
TOGETHER = {"h0": ("h0", "split")}  # a key -> the keys tried with it, as one change, before each alone
MAX_SHOWN = 80  # characters of a dropped value quoted back


@dataclass(frozen=True)
class Link:
    """What a link opens."""

    config: Config
    preset: str | None  # the preset the config is exactly (device aside), else None: a custom view
    ignored: Mapping[str, str]  # key -> "key=value: why", for every value that was dropped
    rest: Mapping[str, str]  # the parameters that are not the config's (the open tab, ...), for the app


def parse_link(params: Mapping[str, str]) -> Link:
    """The config a link describes: its preset (or the default) with each of its values that Config accepts."""
    ignored = {}
    name = params.get("preset", "")
    if name in PRESETS:
        config = PRESETS[name]
    else:
        config = Config()
        if name and name != "Custom":
            ignored["preset"] = _dropped("preset", name, f"one of {', '.join(PRESETS)} or Custom")
    taken = set()
    for key in CONFIG_KEYS:
        if key not in params or key in taken:
            continue
        together = [k for k in TOGETHER.get(key, ()) if k in params]
        if len(together) > 1:
            try:
                config = _applied(config, together, params)
                taken.update(together)
                continue
            except (ConfigError, ValueError):
                pass  # then each alone, so that the one that cannot go is named
        try:
            config = _applied(config, [key], params)
        except (ConfigError, ValueError) as error:
            ignored[key] = _dropped(key, params[key], str(error))
    rest = {key: value for key, value in params.items() if key not in CONFIG_KEYS and key != "preset"}
    return Link(config, None if name == "Custom" else preset_of(config), ignored, rest)


def _applied(config: Config, keys: list[str], params: Mapping[str, str]) -> Config:
    """config with the link's values of keys, or ConfigError / ValueError (the device must exist here too)."""
    candidate = config.replace(**{key: field_value(key, params[key]) for key in keys})
    resolve_device(candidate.device)
    return candidate


def field_value(key: str, text: str):
    """A link's text as the Config field's value (its Control reads it)."""
    return controls()[key].from_text(key, text)


def link_params(config: Config) -> dict[str, str]:
    """The URL parameters that open config: each field that differs from the default, as its widget shows it."""
    params = {}
    for name in changes(config):
        shown = controls()[name].shown(getattr(config, name))
        params[name] = str(shown).lower() if isinstance(shown, bool) else str(shown)
    return params


def _dropped(key: str, text: str, why: str) -> str:
    shown = text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"
    return f"{key}={shown}: {why}"
