"""What comes after output (rnnviz.recipes.after_output): each recipe's value is what a loop over each sequence's real
steps gives here, its check holds, and the wrong way beside it is listed exactly where it is wrong for the run."""

import torch
from conftest import around_configs, configs, time_major
from hypothesis import given
from hypothesis import strategies as st

from rnnviz import Config, run
from rnnviz.recipes import after_output


def by_need(found) -> dict:
    """need -> (the recipe, [its wrong ways])."""
    needs = {}
    for r in found:
        if not r.lesson:
            needs[r.need] = (r, [])
        else:
            needs[r.need][1].append(r)
    return needs


def expected(result) -> dict:
    """Each need's value, from a loop over each sequence's real steps of output: (B, ...) each."""
    out = time_major(result.output, result.config.batch_first)  # (T, B, D*H)
    lengths = result.batch.lengths
    real = [out[:n, b] for b, n in enumerate(lengths)]  # (len_b, D*H) each
    query = torch.randn(out.shape[2], generator=torch.Generator().manual_seed(0), dtype=out.dtype)
    weights = torch.zeros(out.shape[1], out.shape[0], dtype=out.dtype)  # (B, T): 0 at the pads
    for b, steps in enumerate(real):
        weights[b, : lengths[b]] = torch.softmax(steps @ query, dim=0)
    values = {
        "a many-to-one classifier's input": torch.stack([steps[-1] for steps in real]),
        "mean pooling": torch.stack([steps.mean(0) for steps in real]),
        "max pooling": torch.stack([steps.amax(0) for steps in real]),
        "attention weights": weights,
    }
    if result.config.bidirectional:
        H = result.config.state_size
        values["the two directions merged"] = torch.stack([torch.cat([result.h_n[-2, b], result.h_n[-1, b]])
                                                           for b in range(len(lengths))])  # fmt: skip
        assert values["the two directions merged"].shape[1] == 2 * H
    return values


def check_after_output(result):
    needs = by_need(after_output(result))
    values = expected(result)
    assert len(needs) == len(values)
    full = all(n == result.batch.max_length for n in result.batch.lengths)
    tolerance = {"float32": 1e-5, "float64": 1e-10}[result.config.dtype]
    for start, value in values.items():
        [(recipe, wrong)] = [item for need, item in needs.items() if need.startswith(start)]
        assert recipe.holds is True, recipe.need
        assert recipe.value.shape == value.shape and torch.allclose(recipe.value, value, atol=tolerance, rtol=tolerance)
        for lesson in wrong:
            assert lesson.holds is False
            if lesson.value.shape == recipe.value.shape:
                assert not torch.equal(lesson.value, recipe.value)
            else:
                assert lesson.max_abs_diff is None
        if start == "the two directions merged":
            assert len(wrong) == 1  # the sum: another shape
        else:  # the way that ignores the padding, where it is wrong here (a max may match by chance)
            assert len(wrong) <= (0 if full else 1), start


@given(st.one_of(configs(), around_configs()))
def test_each_recipe_is_the_loop_over_real_steps(config):
    check_after_output(run(config))


def test_packed_zeros_still_get_attention_without_a_mask():
    """Packed, a pad's output is 0, so its score is 0: softmax gives it exp(0) / sum over the sequence's T steps."""
    result = run(Config(packed=True, total_length=10))
    [lesson] = [r for r in after_output(result) if r.lesson and r.need.startswith("attention")]
    out = result.output.transpose(0, 1)  # (B, T, D*H)
    query = torch.randn(5, generator=torch.Generator().manual_seed(0))
    scores = out @ query  # (B, T)
    b, n = 2, result.batch.lengths[2]
    assert not scores[b, n:].any()
    assert torch.allclose(lesson.value[b, n:], torch.exp(-torch.logsumexp(scores[b], 0)).expand(10 - n))
    assert (lesson.value[b, n:] > 0).all() and 2 in lesson.differs


def test_the_setup_pads_back_with_total_length_and_the_merge_shows_both_shapes():
    result = run(Config(packed=True, total_length=12, bidirectional=True, batch_first=True))
    found = after_output(result)
    assert found.setup.startswith("output, lengths = pad_packed_sequence(output, batch_first=True, total_length=12)")
    [(recipe, [wrong])] = [item for need, item in by_need(found).items() if need.startswith("the two directions")]
    assert list(recipe.value.shape) == [3, 10] and list(wrong.value.shape) == [3, 5] and wrong.max_abs_diff is None
