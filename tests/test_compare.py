"""Two runs side by side: what one flipped control changes, per sequence and per h_n row, measured on both runs."""

import pytest
import torch
from conftest import configs
from hypothesis import given, settings

from rnnviz import Config, ConfigError, run
from rnnviz.compare import compare, flipped
from rnnviz.relations import RECOMPUTE_TOLERANCE


@settings(max_examples=20)
@given(configs(extended=True))
def test_flipping_a_control_to_its_own_value_changes_nothing(config):
    side = compare(run(config), f"seed={config.seed}")
    assert side.other.config == config
    assert set(side.output_max_abs_diff) == {0.0} and {d for row in side.h_n_max_abs_diff for d in row} == {0.0}


@settings(max_examples=20)
@given(configs(packed=False, dtype="float64"))
def test_packing_changes_only_the_short_sequences(config):
    result = run(config)
    side = compare(result, "packed=true")
    T = result.batch.max_length
    for b, n in enumerate(result.batch.lengths):
        if n == T:  # a full-length sequence: packing changes nothing it computes (up to the kernel's rounding)
            assert side.output_max_abs_diff[b] <= RECOMPUTE_TOLERANCE["float64"]
            assert all(row[b] <= RECOMPUTE_TOLERANCE["float64"] for row in side.h_n_max_abs_diff)
    other = side.other.output.transpose(0, 1) if config.batch_first else side.other.output  # (T, B, D*H)
    mine = result.output.transpose(0, 1) if config.batch_first else result.output
    expected = [float((mine[:, b] - other[:, b]).abs().max()) for b in range(len(result.batch.lengths))]
    assert list(side.output_max_abs_diff) == expected


def test_the_blogs_tiny_sequence_changes_when_packed():
    side = compare(run(Config()), "packed=true")
    assert side.h_n_max_abs_diff[0][0] < 1e-6 and side.h_n_max_abs_diff[0][1] > 0.1  # long_str alike, 'tiny' not
    assert side.as_dict()["config"]["packed"] is True


def test_another_cell_resets_what_does_not_apply_and_other_shapes_have_no_difference():
    key, other = flipped(Config(cell="lstm", proj=2), "cell=GRU")
    assert (key, other.cell, other.proj) == ("cell", "gru", 0)
    side = compare(run(Config(cell="lstm", proj=2)), "cell=gru")
    assert side.output_max_abs_diff == (None, None, None)  # H = 2 against H = 5


@pytest.mark.parametrize("assignment", ["packed", "colour=red", "layers=0", "packed=maybe", "hidden=4"])
def test_a_bad_assignment_says_what_is_allowed(assignment):
    with pytest.raises(ConfigError) as info:
        compare(run(Config()), assignment)
    assert "\n" not in str(info.value)


def test_the_zero_pads_of_the_other_run_are_zeros():
    side = compare(run(Config()), "pad=zero")
    pads = side.other.batch.padded == 0  # (T, B)
    assert not side.other.embedded[pads].any()
    assert torch.equal(side.other.embedded[~pads], run(Config()).embedded[~pads])


def test_the_compare_tab_shows_the_flipped_runs_differences():
    from apptest import fresh_app

    at = fresh_app(tab="Compare").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="compare").options[:3] == ["packed=true", "cell=LSTM", "cell=GRU"]
    at.selectbox(key="compare").set_value("pad=zero").run()
    side = compare(run(Config()), "pad=zero")
    shown = at.dataframe[0].value  # a row per sequence: output, h_n[0]
    assert list(shown["output"]) == list(side.output_max_abs_diff)
    assert list(shown["h_n[0]"]) == list(side.h_n_max_abs_diff[0])
    assert len(at.get("vega_lite_chart")) == 2  # both pictures
