"""Links: a dashboard URL's parameters -> the Config they describe, and every value that had to be dropped.

Pure: the dashboard only applies the result. Every value is checked by Config itself (the one source of limits
and choices), one at a time in Config's field order, so a value that cannot go with the ones before it (proj=3
with the RNN cell) is dropped and named in a sentence, and the rest of the link still opens. h0 and split go
together (a carry may run only at the link's split, and a split is only for a carry): they are tried as one first,
then h0 alone; what cannot run is named once, with both values as the link wrote them.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass

from rnnviz.config import CONFIG_DEFAULTS, PRESETS, Config, ConfigError, changes, controls, off_reasons, preset_of
from rnnviz.model import resolve_device
from rnnviz.training import task_start

CONFIG_KEYS = tuple(CONFIG_DEFAULTS)
TOGETHER = {"h0": ("h0", "split")}  # a key -> the keys tried with it, as one change, before each alone
MAX_SHOWN = 80  # characters of a dropped value quoted back
LONG_NUMBER = re.compile(r"\d{13,}")  # a number this long is shown shortened: 1e+99, not its 100 digits


@dataclass(frozen=True)
class Link:
    """What a link opens."""

    config: Config
    preset: str | None  # the preset the config is exactly (device aside), else None: a custom view
    ignored: Mapping[str, str]  # key -> "key=value: why.", a sentence for every value that was dropped
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
            presets = ", ".join(PRESETS)
            ignored["preset"] = _dropped(_wrote(["preset"], params), f"a preset is one of {presets} or Custom")
    taken = set()
    for key in CONFIG_KEYS:
        if key in params and key not in taken:
            keys = [key, *(k for k in TOGETHER.get(key, ()) if k in params and k != key)]
            taken.update(keys)
            config, dropped = _take(config, keys, params)
            ignored.update(dropped)
    rest = {key: value for key, value in params.items() if key not in CONFIG_KEYS and key != "preset"}
    return Link(config, None if name == "Custom" else preset_of(config), ignored, rest)


def _take(config: Config, keys: list[str], params: Mapping[str, str]) -> tuple[Config, dict[str, str]]:
    """config with the link's values of keys (together; else the first alone, then the others), and a sentence for
    each key left out: why its control does not apply, or Config's reason, naming every value it was tried with
    (values that can run only together, and not here, share one sentence)."""
    first = keys[0]
    reason = _off(config, first, params[first])
    if reason:
        return config, {first: _dropped(_wrote([first], params), f"{first} is {reason}")}
    try:
        return _applied(config, keys, params), {}
    except (ConfigError, ValueError) as error:
        why = str(error)
    if len(keys) > 1:
        try:
            return _take(_applied(config, [first], params), keys[1:], params)
        except (ConfigError, ValueError) as alone:
            if str(alone) == why:  # the first value cannot run by itself: the others are judged on their own
                config, dropped = _take(config, keys[1:], params)
                return config, {first: _dropped(_wrote([first], params), why), **dropped}
    return config, dict.fromkeys(keys, _dropped(_wrote(keys, params), why))


def _off(config: Config, key: str, text: str) -> str | None:
    """Why key's control does not apply to config, where the link gives it a value other than its default."""
    reason = off_reasons(vars(config)).get(key)
    try:
        return reason if reason and field_value(key, text) != CONFIG_DEFAULTS[key] else None
    except ValueError:
        return reason


def _applied(config: Config, keys: list[str], params: Mapping[str, str]) -> Config:
    """config with the link's values of keys, or ConfigError / ValueError (the device must exist here too). A task
    brings its batch and sizes, as choosing it does, where the link gives none of its own."""
    values = {key: field_value(key, params[key]) for key in keys}
    if values.get("task", "none") != "none":
        values = {**{key: value for key, value in task_start().items() if key not in params}, **values}
    candidate = config.replace(**values)
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


def _wrote(keys: list[str], params: Mapping[str, str]) -> str:
    """What the link wrote for keys, each value quoted: h0=carry and split=50."""
    return " and ".join(f"{key}={quoted(params[key])}" for key in keys)


def quoted(text: str) -> str:
    """A link's value as a sentence quotes it back: cut after MAX_SHOWN characters."""
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def _dropped(wrote: str, why: str) -> str:
    """One sentence: what the link wrote, then why it was left out (long numbers shortened)."""
    return f"{wrote}: {short_numbers(why).rstrip('.')}."


def short_numbers(text: str) -> str:
    """text with every number of 13 digits or more written short: 999…9 (100 digits) -> 1e+99."""
    return LONG_NUMBER.sub(lambda m: f"{int(m.group()):.3g}", text)
