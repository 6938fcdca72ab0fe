"""Links: any URL parameters give a valid Config; what Config accepts is taken, everything else is named."""

from conftest import configs
from hypothesis import assume, given
from hypothesis import strategies as st

from rnnviz import PRESETS, Config
from rnnviz.cells import CELLS
from rnnviz.links import CONFIG_KEYS, field_value, parse_link, quoted, short_numbers
from rnnviz.training import task_start


def link_params(config: Config) -> dict[str, str]:
    """A config as the dashboard's bound widgets write it into the URL."""
    params = {}
    for key in CONFIG_KEYS:
        value = getattr(config, key)
        if key == "sequences":
            params[key] = "\n".join(value)
        elif key == "cell":
            params[key] = CELLS[value].label
        elif isinstance(value, bool):
            params[key] = str(value).lower()
        else:
            params[key] = str(value)
    return params


@given(configs(extended=True))
def test_a_views_link_opens_that_view(config):
    assume(not any("\n" in s or s.endswith("\r") for s in config.sequences))  # one sequence per line
    link = parse_link(link_params(config))
    assert link.config == config
    assert dict(link.ignored) == {}


def test_presets_and_custom():
    assert parse_link({}).preset == "single-uni"
    assert parse_link({"preset": "multi-bi"}).config == PRESETS["multi-bi"]
    assert parse_link({"preset": "multi-bi", "hidden": "6"}).preset is None  # changed: a custom view
    assert parse_link({"preset": "multi-bi", "layers": "1"}).preset == "single-bi"  # exactly that preset
    assert parse_link({"preset": "Custom"}).preset is None
    assert parse_link({"preset": "multi-bi", "device": "cpu"}).preset == "multi-bi"  # a preset never sets the device
    assert set(parse_link({"preset": "nope"}).ignored) == {"preset"}


def test_a_value_that_cannot_go_with_the_others_is_dropped_and_named():
    link = parse_link({"cell": "GRU", "nonlinearity": "relu", "proj": "2", "layers": "3"})
    assert link.config == Config(cell="gru", layers=3)
    assert set(link.ignored) == {"nonlinearity", "proj"}
    assert (
        link.ignored["nonlinearity"] == "nonlinearity=relu: nonlinearity is only for the RNN cell: GRU has fixed gates."
    )
    assert link.ignored["proj"] == "proj=2: proj is only for the LSTM cell, not GRU."
    link = parse_link({"cell": "LSTM", "hidden": "2", "proj": "3"})
    assert (link.config.hidden, link.config.proj, list(link.ignored)) == (2, 0, ["proj"])


def test_spellings_streamlit_reads_are_taken():
    link = parse_link({"layers": "03", "seed": "2.7", "bidirectional": "True", "cell": "lstm"})
    assert (link.config.layers, link.config.seed, link.config.bidirectional, link.config.cell) == (3, 2, True, "lstm")
    assert dict(link.ignored) == {}


def test_numbers_that_are_no_whole_numbers_are_named():
    link = parse_link({"layers": "inf", "hidden": "nan", "seed": "abc", "embedding": "9" * 400})
    assert link.config == Config()
    assert set(link.ignored) == {"layers", "hidden", "seed", "embedding"}
    assert link.ignored["layers"] == "layers=inf: layers must be a whole number."
    assert link.ignored["embedding"].endswith("…: embedding must be a whole number.")
    assert len(link.ignored["embedding"]) < 200  # a long value is quoted back cut


def test_the_new_keys_open_their_view():
    params = {"layers": "2", "h0": "carry", "split": "3", "dropout": "0.25", "train_mode": "true"}
    link = parse_link(params)
    assert link.config == Config(layers=2, h0="carry", split=3, dropout=0.25, train_mode=True)
    assert (dict(link.ignored), link.preset) == ({}, None)
    task = parse_link({"task": "brackets", "steps": "40", "sequences": "(a)\n((b))", "hidden": "16"})
    assert task.config == Config(**task_start()).replace(sequences=("(a)", "((b))"), task="brackets", steps=40)


def test_a_task_alone_brings_its_batch_and_sizes_as_choosing_it_does():
    assert parse_link({"task": "brackets"}).config == Config(task="brackets", **task_start())
    own = parse_link({"hidden": "9", "task": "brackets", "sequences": "(a)\n((b))"})  # the link's own values win
    assert own.config == Config(task="brackets", **{**task_start(), "hidden": 9, "sequences": ("(a)", "((b))")})
    assert own.ignored == {}


def test_detach_opens_with_a_carry_and_is_named_without_one():
    """The link's detach is the command line's --detach: the same Config, so the same run."""
    from rnnviz.__main__ import config_from_args, parse_args

    link = parse_link({"h0": "carry", "split": "3", "detach": "true", "cell": "LSTM"})
    argv = ["--h0", "carry", "--split", "3", "--detach", "--cell", "lstm"]
    assert link.config == Config(h0="carry", split=3, detach=True, cell="lstm") == config_from_args(parse_args(argv))
    assert not link.ignored
    link = parse_link({"detach": "true"})  # h0 zeros: nothing is carried
    assert link.config == Config()
    assert link.ignored["detach"].startswith("detach=true: detach is only for h0 carry")


def test_dropout_is_read_as_a_fraction_and_named_when_it_is_none():
    assert field_value("dropout", "0.3") == 0.3 and field_value("dropout", "1e-1") == 0.1
    link = parse_link({"dropout": "abc"})
    assert link.ignored["dropout"] == "dropout=abc: dropout must be a number."
    for text in ("1", "-0.1", "nan", "inf"):
        link = parse_link({"dropout": text})
        assert link.config == Config()
        assert link.ignored["dropout"].startswith(f"dropout={text}: dropout must be between 0.0 and 0.95")


def test_new_values_that_cannot_go_with_the_others_are_named():
    blog = "\n".join(Config().sequences)
    link = parse_link({"split": "3", "steps": "9", "task": "brackets", "h0": "ones", "sequences": blog})
    assert link.config == Config()
    assert set(link.ignored) == {"split", "steps", "task", "h0"}
    assert link.ignored["split"] == "split=3: split is the first chunk's length when h0 is carry."
    assert "outside the brackets task's vocabulary" in link.ignored["task"]
    link = parse_link({"h0": "carry", "packed": "true", "split": "5"})  # packed 'tiny' (4) leaves an empty chunk at 5
    assert (link.config, set(link.ignored)) == (Config(packed=True), {"h0", "split"})
    assert link.ignored["h0"] == link.ignored["split"]  # one reason, for the two values tried together
    assert link.ignored["h0"].startswith("h0=carry and split=5: Packed, sequence 2 (4 characters) leaves an empty")


def test_other_parameters_are_left_to_the_app():
    link = parse_link({"tab": "Batch", "ask": "true", "layers": "2"})
    assert dict(link.rest) == {"tab": "Batch", "ask": "true"}


@given(st.dictionaries(st.sampled_from([*CONFIG_KEYS, "preset", "tab"]), st.text(max_size=30), max_size=8))
def test_any_parameters_give_a_valid_config_and_name_what_they_drop(params):
    link = parse_link(params)
    assert isinstance(link.config, Config)  # valid by construction
    for key in set(params) & set(CONFIG_KEYS):  # each value is either taken as it reads, or named
        assert key in link.ignored or getattr(link.config, key) == field_value(key, params[key]), key
    for key, message in link.ignored.items():
        wrote = message.split(": ", 1)[0]  # what the link wrote: "key=value", or two values tried together
        assert wrote.startswith(f"{key}=") or f" and {key}=" in wrote, (key, message)
        prose = message  # the sentence's own words: what the link wrote may hold any punctuation
        for text in params.values():
            prose = prose.replace(quoted(text), "") if text else prose
        assert message.endswith(".") and ".." not in prose.replace("...", "") and ".;" not in prose
    assert set(link.rest) == set(params) - {*CONFIG_KEYS, "preset"}


def test_a_carry_with_a_split_the_batch_cannot_take_is_named_once_with_both_values():
    """The link set h0 and split together: the sentence quotes both as written, names no split it did not give, and
    never tells it to set what it set."""
    link = parse_link({"h0": "carry", "split": "50", "packed": "true"})
    assert (link.config, set(link.ignored)) == (Config(packed=True), {"h0", "split"})
    assert (
        link.ignored["h0"]
        == link.ignored["split"]
        == ("h0=carry and split=50: split must be at least 1 and below T = 8, the longest sequence (got 50).")
    )
    link = parse_link({"h0": "carry", "split": "50"})  # the carry can run at the default split: only split goes
    assert (link.config, dict(link.ignored)) == (
        Config(h0="carry"),
        {"split": "split=50: split must be at least 1 and below T = 8, the longest sequence (got 50)."},
    )
    link = parse_link({"h0": "zeros", "split": "3"})
    assert dict(link.ignored) == {"split": "split=3: split is the first chunk's length when h0 is carry."}


def test_a_huge_number_is_named_short():
    link = parse_link({"seed": "1e99", "layers": "1" + "0" * 40})
    assert link.ignored["seed"] == "seed=1e99: seed must be between 0 and 4294967295 (got 1e+99)."
    assert link.ignored["layers"].endswith("(got 1e+40).") and len(link.ignored["layers"]) < 120
    assert short_numbers("got 4294967296 and 12345678901234") == "got 4294967296 and 1.23e+13"  # the bound stays whole


def test_every_sentence_ends_once():
    link = parse_link({"cell": "LSTM", "proj": "7", "preset": "nope"})
    assert (
        link.ignored["proj"]
        == "proj=7: proj must be smaller than hidden (got proj 7, hidden 5); 0 turns the projection off."
    )
    assert (
        link.ignored["preset"]
        == "preset=nope: a preset is one of single-uni, multi-uni, single-bi, multi-bi, packed or Custom."
    )
