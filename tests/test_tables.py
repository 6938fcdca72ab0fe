"""rnnviz.tables: every frame holds the tensor's own numbers, in its own order, under labels that say where."""

import torch
from conftest import configs, time_major
from hypothesis import given, settings

from rnnviz import Config, run
from rnnviz.tables import DIRECTION_NAMES, output_frame, state_frame, tensor_frames, unit_names, vocab_frame


@settings(max_examples=40, deadline=None)
@given(configs())
def test_tensor_frames_hold_every_number_of_output_h_n_and_c_n(config):
    result = run(config)
    frames = tensor_frames(result)
    assert set(frames) == ({"output", "h_n", "c_n"} if config.cell == "lstm" else {"output", "h_n"})
    out = time_major(result.output, config.batch_first)  # (T, B, D*H)
    units = unit_names(config.directions, config.state_size)
    output = frames["output"]
    assert list(output.columns) == ["t", "b", "token", "h_n", *units]
    assert len(output) == out.shape[0] * out.shape[1]
    rows = torch.tensor(output[units].to_numpy())  # one row per (t, b), in the tensor's own order
    expected = result.output.reshape(-1, out.shape[2])  # (T*B, D*H), or (B*T, D*H) with batch_first
    assert torch.equal(rows, expected)
    assert torch.equal(rows, out[list(output["t"]), list(output["b"])])  # and the labels say where each came from
    L, D, B = config.layers, config.directions, len(config.sequences)
    for name in frames.keys() - {"output"}:
        state = getattr(result, name)  # (L*D, B, size)
        frame = frames[name]
        values = torch.tensor(frame.drop(columns=["layer", "direction", "b"]).to_numpy())
        view = state.view(L, D, B, -1)
        directions = [DIRECTION_NAMES.index(d) for d in frame["direction"]]
        assert torch.equal(values, view[list(frame["layer"]), directions, list(frame["b"])]), name


def test_output_frame_of_chosen_sequences_and_the_token_read_there():
    result = run(Config(sequences=("ab", "c d"), packed=True))
    frame = output_frame(result, sequences=(1,))
    assert list(frame["b"]) == [1, 1, 1]
    assert list(frame["token"]) == ["c", "␣", "d"]  # a space is shown as ␣
    assert torch.equal(torch.tensor(frame[unit_names(1, 5)].to_numpy()), result.output[:, 1])


def test_output_frame_names_the_rows_h_n_was_taken_from():
    result = run(Config(layers=2, bidirectional=True, packed=True))
    frame = output_frame(result)
    named = {(int(r.t), int(r.b)): r.h_n for r in frame.itertuples() if r.h_n}
    # forward ends at each sequence's last real step (packed), backward at t = 0; layer 1 is h_n[2] and h_n[3]
    assert named == {(7, 0): "h_n[2] →", (3, 1): "h_n[2] →", (5, 2): "h_n[2] →"} | {
        (0, b): "h_n[3] ←" for b in range(3)
    }
    one_step = output_frame(run(Config(sequences=("a",), bidirectional=True)))
    assert list(one_step.h_n) == ["h_n[0] →, h_n[1] ←"]


def test_vocab_frame_reads_left_to_right():
    result = run(Config(sequences=("ba ",)))
    frame = vocab_frame(result.batch)
    assert list(frame.columns) == ["<pad>", "␣", "a", "b"] and list(frame.loc["id"]) == [0, 1, 2, 3]


def test_state_frame_as_returned_and_as_the_view():
    result = run(Config(layers=2, bidirectional=True))
    flat, view = state_frame(result.h_n, result.config), state_frame(result.h_n, result.config, view=True)
    assert list(flat["index"]) == [i for i in range(4) for _ in range(3)]
    assert list(view["layer"]) == [i // 2 for i in range(4) for _ in range(3)]
    assert list(view["direction"]) == [("forward", "backward")[i % 2] for i in range(4) for _ in range(3)]
    assert flat.drop(columns=["index"]).equals(view.drop(columns=["layer", "direction"]))
