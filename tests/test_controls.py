"""Config's controls: every field has one, and the command line, the sidebar, links and the exported script all
follow them; a config goes out through each and comes back the same."""

import argparse
import dataclasses

from apptest import fresh_app
from conftest import around_configs, configs
from hypothesis import assume, given

from rnnviz.__main__ import config_from_args, parse_args, parser
from rnnviz.config import CONFIG_DEFAULTS, Config, config_from_controls, controls, off_reasons
from rnnviz.controls import WIDGETS, flag
from rnnviz.links import link_params, parse_link
from rnnviz.runs import run
from rnnviz.snippet import make_snippet


def argv(config: Config) -> list[str]:
    """The command line of a config: a flag for each field that differs from the default."""
    args = []
    for name, ctl in controls().items():
        value = getattr(config, name)
        if value == CONFIG_DEFAULTS[name]:
            continue
        if ctl.widget == "toggle":
            args.append(flag(name) if value else "--no-" + flag(name)[2:])
        elif ctl.widget == "lines":
            args += [flag(name), *value]
        else:
            args += [flag(name), str(value)]
    return args


def test_every_field_has_a_control_of_a_known_widget():
    for field in dataclasses.fields(Config):
        ctl = field.metadata.get("control")
        assert ctl is not None, field.name
        assert ctl.widget in WIDGETS and ctl.label and ctl.help.endswith("."), field.name
        assert bool(ctl.bounds) == (ctl.widget in ("number", "fraction")), field.name
        assert bool(ctl.choices) == (ctl.widget == "select"), field.name


def test_every_field_has_a_command_line_option():
    options = {action.dest: action for action in parser()._actions}
    for name, ctl in controls().items():
        assert flag(name) in options[name].option_strings, name
        assert options[name].default is None, name  # unset: the preset's value stands
        if ctl.widget == "toggle":
            assert isinstance(options[name], argparse.BooleanOptionalAction), name


def test_every_field_has_a_widget_whose_key_is_its_name():
    at = fresh_app().run()
    keys = {w.key for kind in ("text_area", "selectbox", "number_input", "toggle") for w in at.get(kind)}
    assert set(controls()) <= keys, set(controls()) - keys


def test_the_hostile_link_property_draws_every_field():
    from test_hardening import BOUND_KEYS

    assert set(controls()) <= set(BOUND_KEYS)


@given(configs(extended=True, device="auto"))
def test_a_config_comes_back_from_its_command_line(config):
    assert config_from_args(parse_args(argv(config))) == config


@given(configs(extended=True, device="auto"))
def test_a_config_comes_back_from_its_link(config):
    assume(not any("\n" in s or s.endswith("\r") for s in config.sequences))  # a text area holds one a line
    link = parse_link(link_params(config))
    assert link.config == config and not link.ignored


@given(around_configs(device="auto"))
def test_total_length_and_sort_come_back_from_the_command_line_and_the_link(config):
    assert config_from_args(parse_args(argv(config))) == config
    assume(not any("\n" in s or s.endswith("\r") for s in config.sequences))
    link = parse_link(link_params(config))
    assert link.config == config and not link.ignored


@given(configs(extended=True))
def test_a_control_that_does_not_apply_takes_its_default(config):
    """As a disabled widget's value does not count: whatever such a control holds, the config is the same."""
    off = off_reasons(vars(config))
    def stale_value(name):
        ctl = controls()[name]
        if ctl.widget == "toggle":
            return not CONFIG_DEFAULTS[name]
        return ctl.bounds[1] if ctl.bounds else ctl.choices[-1]

    stale = {name: stale_value(name) for name in off}
    assert config_from_controls({**vars(config), **stale}) == config


def test_the_exported_script_names_its_config():
    config = Config(cell="lstm", layers=2, packed=True, seed=3)
    script = make_snippet(run(config), [])
    namespace = {}
    exec(next(line for line in script.splitlines() if line.startswith("config = ")), namespace)
    assert Config(**{**CONFIG_DEFAULTS, **namespace["config"]}) == config
