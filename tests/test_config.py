"""Config: every limit and check raises ConfigError naming the field; presets are the blog's four sections."""

import re

import pytest
from conftest import configs
from hypothesis import given
from hypothesis import strategies as st

from rnnviz import PRESETS, Config, ConfigError
from rnnviz.config import (
    MAX_EMBEDDING,
    MAX_HIDDEN,
    MAX_LAYERS,
    MAX_LENGTH,
    MAX_SEED,
    MAX_SEQUENCES,
    MAX_STEPS,
    MAX_TASK_WEIGHTS,
    recurrent_weights,
    validate,
)
from rnnviz.controls import parse_sequences
from rnnviz.model import recurrent_module
from rnnviz.training import TASK_DEFAULTS


def rejects(pattern: str, **fields) -> str:
    """Config(**fields) raises ConfigError whose message matches pattern (case-insensitive); returns the message."""
    with pytest.raises(ConfigError) as info:
        Config(**fields)
    message = str(info.value)
    assert re.search(pattern, message, re.IGNORECASE), message
    assert "\n" not in message  # one line, so the CLI's "one clear line on stderr" holds
    return message


# -----------------------------------------------------------------------------
# Defaults and presets


@pytest.mark.parametrize(
    ("name", "layers", "bidirectional"),
    [("single-uni", 1, False), ("multi-uni", 2, False), ("single-bi", 1, True), ("multi-bi", 2, True)],
)
def test_presets_are_the_blogs_four_sections(name, layers, bidirectional):
    blog = Config(
        sequences=("long_str", "tiny", "medium"),
        cell="rnn",
        nonlinearity="tanh",
        layers=layers,
        bidirectional=bidirectional,
        hidden=5,
        embedding=5,
        proj=0,
        batch_first=False,
        packed=False,
        seed=0,
        dtype="float32",
    )
    assert PRESETS[name] == blog


def test_the_presets_are_the_blogs_four_then_packing():
    assert list(PRESETS) == ["single-uni", "multi-uni", "single-bi", "multi-bi", "packed"]
    assert PRESETS["packed"] == PRESETS["single-bi"].replace(packed=True)


def test_directions_and_state_size():
    assert Config(bidirectional=True).directions == 2
    assert Config(cell="lstm", hidden=7, proj=3).state_size == 3
    assert Config(cell="lstm", hidden=7).state_size == 7


def test_config_is_frozen_and_replace_validates():
    c = Config()
    with pytest.raises(AttributeError):
        c.layers = 3
    assert c.replace(layers=3).layers == 3
    assert c.layers == 1
    with pytest.raises(ConfigError, match="layers"):
        c.replace(layers=0)


def test_sequences_become_a_tuple():
    c = Config(sequences=["ab", "c"])
    assert c.sequences == ("ab", "c")
    assert c == Config(sequences=("ab", "c"))
    assert hash(c) == hash(Config(sequences=("ab", "c")))


def test_as_dict_is_plain_and_round_trips():
    c = Config(sequences=("a b", "é🙂"), cell="lstm", hidden=4, proj=2, packed=True)
    d = c.as_dict()
    assert d["sequences"] == ["a b", "é🙂"]
    assert list(d) == [
        "sequences",
        "cell",
        "nonlinearity",
        "layers",
        "bidirectional",
        "hidden",
        "embedding",
        "proj",
        "batch_first",
        "packed",
        "pad",
        "total_length",
        "sort",
        "seed",
        "device",
        "dtype",
        "h0",
        "split",
        "detach",
        "dropout",
        "train_mode",
        "task",
        "steps",
    ]  # fmt: skip: the JSON's key order (docs/json.md)
    assert Config(**d) == c


@given(configs(extended=True))
def test_generated_configs_are_valid(config):
    validate(config)  # does not raise
    assert Config(**config.as_dict()) == config


# -----------------------------------------------------------------------------
# Limits: both sides of every bound


@pytest.mark.parametrize(
    ("field", "low", "high", "extra"),
    [
        ("layers", 1, MAX_LAYERS, {}),
        ("hidden", 1, MAX_HIDDEN, {}),
        ("embedding", 1, MAX_EMBEDDING, {}),
        ("seed", 0, MAX_SEED, {}),
        ("proj", 0, MAX_HIDDEN - 1, {"cell": "lstm", "hidden": MAX_HIDDEN}),
        ("split", 0, MAX_LENGTH - 1, {"h0": "carry", "sequences": ("x" * MAX_LENGTH,)}),
        ("steps", 0, MAX_STEPS, {"task": "brackets", "sequences": ("(a)",)}),
    ],
)
def test_integer_bounds(field, low, high, extra):
    assert getattr(Config(**extra, **{field: low}), field) == low
    assert getattr(Config(**extra, **{field: high}), field) == high
    rejects(rf"\b{field}\b.*between {low} and {high}", **extra, **{field: low - 1})
    rejects(rf"\b{field}\b.*between {low} and {high}", **extra, **{field: high + 1})


def test_limits_are_the_documented_ones():
    assert (MAX_SEQUENCES, MAX_LENGTH, MAX_LAYERS, MAX_HIDDEN, MAX_EMBEDDING, MAX_SEED, MAX_STEPS) == (
        16, 64, 6, 256, 256, 2**32 - 1, 1000,
    )  # fmt: skip
    assert MAX_TASK_WEIGHTS == 100_000


@pytest.mark.parametrize("field", ["layers", "hidden", "embedding", "proj", "seed", "split", "steps"])
@pytest.mark.parametrize("value", [True, False, "3", 2.0, None])
def test_integers_reject_bool_str_float_none(field, value):
    extra = {"proj": {"cell": "lstm"}, "split": {"h0": "carry"}, "steps": {"task": "brackets", "sequences": ("a",)}}
    rejects(rf"\b{field}\b.*whole number", **extra.get(field, {}), **{field: value})


@pytest.mark.parametrize("field", ["bidirectional", "batch_first", "packed", "train_mode"])
@pytest.mark.parametrize("value", [1, 0, "true", "False", None])
def test_flags_reject_non_bool(field, value):
    rejects(rf"\b{field}\b.*true or false", **{field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cell", "LSTM"),
        ("cell", "transformer"),
        ("nonlinearity", "sigmoid"),
        ("device", "gpu"),
        ("dtype", "float16"),
        ("h0", "ones"),
        ("h0", "Random"),
        ("task", "copy"),
    ],
)
def test_choices(field, value):
    message = rejects(rf"\b{field}\b must be one of", **{field: value})
    assert repr(value) in message


def test_sequence_count():
    assert len(Config(sequences=("x",) * MAX_SEQUENCES).sequences) == MAX_SEQUENCES
    rejects(rf"{MAX_SEQUENCES + 1} sequences.*at most {MAX_SEQUENCES}", sequences=("x",) * (MAX_SEQUENCES + 1))


def test_sequence_length():
    assert Config(sequences=("y" * MAX_LENGTH,)).sequences == ("y" * MAX_LENGTH,)
    rejects(
        rf"Sequence 2 has {MAX_LENGTH + 1} characters.*at most {MAX_LENGTH}", sequences=("a", "y" * (MAX_LENGTH + 1))
    )
    rejects(r"Sequence 1 has 10000 characters", sequences=("z" * 10_000,))


@pytest.mark.parametrize("empty", [(), []])
def test_empty_batch(empty):
    rejects(r"batch is empty.*sequence", sequences=empty)


@pytest.mark.parametrize("blank", ["", " ", "   ", "\t", "\n", " \t\r\n ", "\u3000"])
def test_empty_or_whitespace_sequence(blank):
    rejects(r"Sequence 2 is empty or only whitespace", sequences=("ok", blank, "fine"))


@pytest.mark.parametrize("surrogate", ["\ud800", "\udbff", "\udc00", "\udfff"])
def test_lone_surrogate(surrogate):
    message = rejects(r"Sequence 1 holds U\+D[89A-F][0-9A-F]{2}.*surrogate", sequences=("ab" + surrogate,))
    assert f"U+{ord(surrogate):04X}" in message


def test_non_text_sequence():
    rejects(r"Sequence 2 is not text", sequences=("a", 3))
    rejects(r"Sequence 1 is not text", sequences=(b"bytes",))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_relu_only_for_rnn(cell):
    rejects(r"relu.*RNN", cell=cell, nonlinearity="relu")
    assert Config(cell="rnn", nonlinearity="relu").nonlinearity == "relu"


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_proj_only_for_lstm(cell):
    rejects(r"\bproj\b.*LSTM", cell=cell, proj=2)


@pytest.mark.parametrize(("proj", "hidden"), [(5, 5), (6, 5), (1, 1), (MAX_HIDDEN - 1, MAX_HIDDEN - 1)])
def test_proj_must_be_smaller_than_hidden(proj, hidden):
    message = rejects(r"\bproj\b must be smaller than hidden", cell="lstm", proj=proj, hidden=hidden)
    assert f"proj {proj}" in message and f"hidden {hidden}" in message


def test_proj_just_below_hidden_is_fine():
    assert Config(cell="lstm", hidden=5, proj=4).state_size == 4


# -----------------------------------------------------------------------------
# h_0 and the split, dropout and train mode, the task


def test_split_is_only_for_carry():
    rejects(r"\bsplit\b.*h0 is carry.*split to 0", split=3)
    rejects(r"\bsplit\b.*h0 is carry", h0="random", split=3)


def test_detach_is_only_for_carry():
    rejects(r"\bdetach True is only for h0 carry.*set detach to False", detach=True)
    rejects(r"\bdetach\b.*h0 carry", h0="random", detach=True)
    assert Config(h0="carry", detach=True).detach


def test_the_default_split_is_half_the_longest_sequence():
    assert Config(h0="carry").chunk == 4  # the blog's batch: T = 8
    assert Config(h0="carry", sequences=("abcde", "a")).chunk == 2
    assert Config(h0="carry", split=7).chunk == 7


@pytest.mark.parametrize("split", [8, 9, MAX_LENGTH - 1])
def test_split_must_leave_a_second_chunk(split):
    rejects(r"\bsplit\b must be at least 1 and below T = 8, .*got " + str(split), h0="carry", split=split)


def test_carry_needs_two_steps():
    rejects(r"carry.*two chunks.*at least 2 characters", h0="carry", sequences=("a", "b"))
    assert Config(h0="carry", sequences=("ab", "b")).chunk == 1  # unpacked: the short one's second chunk is padding


def test_packed_carry_cannot_take_an_empty_chunk():
    message = rejects(r"Packed, sequence 2 \(4 characters\).*empty second chunk at split 4.*pack_padded_sequence",
                      h0="carry", packed=True)  # fmt: skip
    assert "below 4" in message
    rejects(r"sequence 3 \(1 characters\).*split 1", h0="carry", packed=True, sequences=("abc", "ab", "a"))
    assert Config(h0="carry", packed=True, split=3).chunk == 3
    assert Config(h0="carry", packed=False, split=7).chunk == 7


@pytest.mark.parametrize("dropout", [0.951, 1, 1.0, -0.1, 1.5, float("nan"), float("inf"), -float("inf")])
def test_dropout_is_between_0_and_its_widgets_max(dropout):
    rejects(r"\bdropout\b must be between 0.0 and 0.95", dropout=dropout)


@pytest.mark.parametrize("dropout", ["0.5", True, None, [0.5]])
def test_dropout_is_a_number(dropout):
    rejects(r"\bdropout\b must be a number", dropout=dropout)


def test_dropout_reads_whole_numbers_as_fractions():
    assert Config(dropout=0).dropout == 0.0 and isinstance(Config(dropout=0).dropout, float)
    assert Config(dropout=0) == Config()
    assert Config(dropout=0.95).dropout == 0.95


def test_draws_masks_in_train_mode_with_dropout_above_one_layer():
    assert Config(dropout=0.5, train_mode=True, layers=2).draws_masks
    for changes in ({"train_mode": False}, {"dropout": 0.0}, {"layers": 1}):
        assert not Config(**{"dropout": 0.5, "train_mode": True, "layers": 2, **changes}).draws_masks


def test_masks_are_the_cpus():
    rejects(r"Train mode with dropout.*CPU generator.*device cpu or auto", dropout=0.5, train_mode=True, layers=2,
            device="cuda")  # fmt: skip
    assert Config(dropout=0.5, train_mode=True, layers=1, device="cuda").device == "cuda"  # no mask to draw


def test_steps_are_only_for_a_task():
    rejects(r"\bsteps\b.*task.*brackets.*steps to 0", steps=10)
    assert Config(task="brackets", sequences=("(a)",), steps=10).steps == 10


@pytest.mark.parametrize("sequence", ["(a)x", "long_str", "(A)", "( )"])
def test_the_task_takes_its_own_vocabulary_only(sequence):
    message = rejects(r"Sequence 2 has characters outside the brackets task's vocabulary, \(\)abc", task="brackets",
                      sequences=("(ab)", sequence))  # fmt: skip
    stray = "".join(sorted(set(sequence) - set("()abc")))
    assert repr(stray) in message


@pytest.mark.parametrize(
    "sizes",
    [
        {"cell": "lstm", "hidden": 16, "embedding": 8},
        {"cell": "gru", "hidden": 12, "embedding": 3, "layers": 3, "bidirectional": True},
        {"cell": "lstm", "hidden": 9, "proj": 4, "embedding": 2, "layers": 2, "bidirectional": True},
        {"cell": "rnn", "hidden": 256, "embedding": 256, "layers": 6},
    ],
)
def test_recurrent_weights_are_torchs_weight_count(sizes):
    config = Config(**sizes)
    rnn = recurrent_module(config, config.embedding, config.layers, batch_first=False)
    assert recurrent_weights(config) == sum(p.numel() for name, p in rnn.named_parameters() if "bias" not in name)


def test_the_task_trains_a_bounded_model():
    small = {"task": "brackets", "sequences": ("(a)",)}
    assert recurrent_weights(Config(cell="lstm", **{k: TASK_DEFAULTS[k] for k in ("hidden", "embedding")})) < 2000
    big = Config(cell="lstm", hidden=160, embedding=8, layers=1)
    assert recurrent_weights(big) > MAX_TASK_WEIGHTS
    message = rejects(r"brackets task would train 107,520 recurrent weights, more than the 100,000", **small,
                      **{k: getattr(big, k) for k in ("cell", "hidden", "embedding")})  # fmt: skip
    assert f"{recurrent_weights(big):,}" in message
    assert Config(cell="lstm", hidden=150, embedding=8, **small).task == "brackets"  # 94,800


# -----------------------------------------------------------------------------
# parse_sequences: one per line, empty lines dropped, everything else kept


def test_parse_sequences_drops_empty_lines_only():
    text = "long_str\n\ntiny\r\n\r\n  medium  \n \n\n"
    assert parse_sequences(text) == ("long_str", "tiny", "  medium  ", " ")


def test_parse_sequences_keeps_odd_characters():
    lines = ['it\'s "quoted"', "back\\slash", "é\u0301🙂", "\t tab", "{}", "\x00", "\u202eRTL"]
    assert parse_sequences("\n".join(lines)) == tuple(lines)
    assert parse_sequences("\r\n".join(lines) + "\r\n") == tuple(lines)


def test_parse_sequences_of_nothing():
    assert parse_sequences("") == ()
    assert parse_sequences("\n\r\n\n") == ()
    with pytest.raises(ConfigError, match="empty"):
        Config(sequences=parse_sequences("\n\n"))


@given(st.lists(st.text(st.characters(exclude_characters="\r\n", exclude_categories=("Cs",)), max_size=6)))
def test_parse_sequences_inverts_join(lines):
    assert parse_sequences("\n".join(lines)) == tuple(line for line in lines if line)
