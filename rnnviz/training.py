"""A tiny trained model: next-character prediction on bracket text, then which units track the depth.

Nobody tells the model the depth. After training, on held-out text, each output unit of the top layer is
correlated with the depth, and a linear probe reads the depth from all of them at once. A bidirectional
layer sees the next character through its backward direction: its loss falls far below the generator's
own (`floor`), which no left-to-right reader can do. That is a lesson to show, not a bug to hide.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

import torch
import torch.nn.functional as F
from torch import nn

from rnnviz.brackets import BRACKET_SEQUENCES, TASK_VOCAB, bracket_text, encode, generator_loss
from rnnviz.cache import TensorCache
from rnnviz.config import CONFIG_DEFAULTS, TRAININGS, Config, controls
from rnnviz.model import BUILD_LOCK, contract_threads, recurrent_module

TASK = "brackets"
# The sizes and steps at which LSTM, GRU and RNN (tanh) reach probe r >= 0.95 and |best corr| >= 0.85 on held-out
# text (seeds 0 to 9 all do; at the blog's H = E = 5 the RNN does not). Measured: bench/sec_training.py.
TASK_DEFAULTS = MappingProxyType({"hidden": 16, "embedding": 8, "steps": 300})
LENGTH = 32  # characters per sequence
BATCH = 32  # sequences per step
TRAIN_SEQUENCES = 1024  # the training text, taken BATCH sequences at a time, in order, round and round
HELDOUT_SEQUENCES = 64  # analysed after training: the probe is fit on the first half, measured on the second
LEARNING_RATE = 0.01  # Adam's, decayed linearly to 0 over the steps


class CharModel(nn.Module):
    """Embedding -> the configured recurrent layer (time-major) -> a linear head over TASK_VOCAB."""

    def __init__(self, config: Config):
        super().__init__()
        self.embedding = nn.Embedding(len(TASK_VOCAB), config.embedding)
        self.rnn = recurrent_module(config, config.embedding, config.layers, batch_first=False)
        self.head = nn.Linear(config.directions * config.state_size, len(TASK_VOCAB))

    def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits for the next character (T, B, V) and the top layer's output (T, B, D*H)."""
        output, _ = self.rnn(self.embedding(ids))  # (T, B, D*H)
        return self.head(output), output


@dataclass(frozen=True)
class DepthAnalysis:
    """How well a model's states carry the bracket depth on some text. Never mutate it."""

    texts: tuple[str, ...]
    depths: tuple[tuple[int, ...], ...]
    unit_correlations: tuple[float, ...]  # Pearson r of each output unit (D*H of the top layer) with the depth
    best_unit: int  # the unit with the largest |r|
    best_corr: float  # its r, signed
    best_unit_values: tuple[tuple[float, ...], ...]  # the best unit at each character, per text
    probe_r: float  # r of a least-squares probe (all units + bias) with the depth, on the texts it was not fit on
    probe_fit: tuple[tuple[float, ...], ...]  # the probe's depth at each character of those texts (the second half)
    loss: float  # the model's next-character loss on the texts
    floor: float  # the generator's own loss on the texts: a left-to-right model cannot expect to beat it


@dataclass(frozen=True)
class Training:
    """A trained model's weights, its loss curve, and the depth analysis on held-out text. Never mutate it."""

    config: Config
    steps: int
    seconds: float  # the whole train() call: text, build, steps, analysis
    loss: tuple[float, ...]  # the training loss at each step (its batch, before the update)
    embedding: MappingProxyType  # the state dicts: name -> detached CPU tensor
    rnn: MappingProxyType
    head: MappingProxyType
    heldout: DepthAnalysis

    def as_dict(self) -> dict:
        """The `training` object of the JSON report."""
        h = self.heldout
        return {
            "task": TASK,
            "steps": self.steps,
            "seconds": self.seconds,
            "loss": list(self.loss),
            "unit_correlations": list(h.unit_correlations),
            "best_unit": h.best_unit,
            "best_corr": h.best_corr,
            "probe_r": h.probe_r,
            "heldout_loss": h.loss,
            "floor": h.floor,
        }


# -----------------------------------------------------------------------------
# Building and training


def build(config: Config) -> CharModel:
    """Seed the CPU generator with config.seed, then build embedding, recurrent layer and head in that order."""
    with BUILD_LOCK:
        torch.default_generator.manual_seed(config.seed)
        return CharModel(config)


def train(
    config: Config, steps: int = TASK_DEFAULTS["steps"], on_step: Callable[[int, float], None] | None = None
) -> Training:
    """Train next-character prediction on bracket text for `steps` Adam steps; on_step(step, loss) after each.

    Time-major, CPU, float32 (the config's sequences, packed, batch_first, device and dtype do not apply).
    The text comes from bracket_text(seed=config.seed): the first TRAIN_SEQUENCES sequences train, the rest
    are held out. Steps and analysis run under rnnviz.model.contract_threads (one torch thread, put back
    afterwards): bit-identical from run to run and process to process whatever the machine's cores, and faster
    for layers this small.
    """
    start = time.perf_counter()
    texts, depths = bracket_text(TRAIN_SEQUENCES + HELDOUT_SEQUENCES, LENGTH, config.seed)
    ids = encode(texts[:TRAIN_SEQUENCES])  # (T, N)
    model = build(config)
    params = list(model.parameters())
    moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    losses = []
    with contract_threads():
        for step in range(steps):
            first = step * BATCH % TRAIN_SEQUENCES
            x = ids[:, first : first + BATCH]  # (T, B)
            logits, _ = model(x[:-1])  # (T-1, B, V): read up to t, predict t+1
            loss = F.cross_entropy(logits.flatten(0, 1), x[1:].flatten())
            model.zero_grad()
            loss.backward()
            adam_step(params, moments, step + 1, LEARNING_RATE * (1 - step / steps))
            losses.append(loss.item())
            if on_step:
                on_step(step + 1, losses[-1])
    heldout = analyse_depth(model, texts[TRAIN_SEQUENCES:], depths[TRAIN_SEQUENCES:])
    return Training(
        config=config,
        steps=steps,
        seconds=time.perf_counter() - start,
        loss=tuple(losses),
        embedding=_frozen(model.embedding),
        rnn=_frozen(model.rnn),
        head=_frozen(model.head),
        heldout=heldout,
    )


def task_start() -> dict:
    """What choosing a task brings along: its batch of bracket strings, and the sizes it trains well at."""
    return {"sequences": BRACKET_SEQUENCES, "hidden": TASK_DEFAULTS["hidden"], "embedding": TASK_DEFAULTS["embedding"]}


# -----------------------------------------------------------------------------
# The trained models a process keeps: one training per distinct model and steps

TRAINED = TensorCache(max_entries=TRAININGS, max_bytes=64 * 2**20)  # a Training holds <= 100k weights, ~0.5 MB


def task_model(config: Config) -> tuple[Config, int]:
    """What a task's training depends on: the fields whose Control trains (the rest at their defaults), and steps."""
    model = {name: getattr(config, name) for name, ctl in controls().items() if ctl.trains}
    return Config(**{**CONFIG_DEFAULTS, **model}), config.steps or TASK_DEFAULTS["steps"]


def trained(config: Config, on_step=None) -> Training:
    """The Training a task config runs: trained once per distinct model and steps (the last TRAININGS are kept).
    on_step(step, loss, steps) follows a training that runs now (a cached one calls nothing)."""
    model, steps = task_model(config)
    follow = None if on_step is None else (lambda step, loss: on_step(step, loss, steps))
    return TRAINED.get((model, steps), lambda: train(model, steps, follow))


def is_trained(config: Config) -> bool:
    """Whether trained(config) would return at once."""
    return task_model(config) in TRAINED


def adam_step(params, moments, step: int, lr: float, betas=(0.9, 0.999), eps=1e-8) -> None:
    """One Adam update (step counts from 1), computed as torch.optim.Adam(foreach=False) does.

    Written out because torch.optim imports torch._dynamo on first use: 1.5 s, more than the training itself.
    """
    beta1, beta2 = betas
    with torch.no_grad():
        for p, (mean, square) in zip(params, moments, strict=True):
            mean.lerp_(p.grad, 1 - beta1)
            square.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
            denom = (square.sqrt() / (1 - beta2**step) ** 0.5).add_(eps)
            p.addcdiv_(mean, denom, value=-lr / (1 - beta1**step))


def _frozen(module: nn.Module) -> MappingProxyType:
    return MappingProxyType({name: t.detach().clone() for name, t in module.state_dict().items()})


# -----------------------------------------------------------------------------
# The analysis


@contract_threads()  # one thread here too: float64 sums split over two threads round differently
def analyse_depth(model: CharModel, texts: tuple[str, ...], depths: tuple[tuple[int, ...], ...]) -> DepthAnalysis:
    """Correlate each output unit with the depth; fit a probe on the first half of the texts, r on the rest."""
    ids = encode(texts)  # (T, B)
    with torch.no_grad():
        logits, output = model(ids)  # (T, B, V), (T, B, D*H)
    output = output.double()
    depth = torch.tensor(depths, dtype=torch.float64).t()  # (T, B)
    units = output.flatten(0, 1)  # (T*B, D*H)
    correlations = tuple(pearson(units[:, k], depth.flatten()) for k in range(units.shape[1]))
    best = max(range(len(correlations)), key=lambda k: abs(correlations[k]))
    half = len(texts) // 2
    weights = fit_probe(output[:, :half].flatten(0, 1), depth[:, :half].flatten())  # (D*H + 1,)
    predicted = with_bias(output[:, half:].flatten(0, 1)) @ weights  # (T*(B-half),)
    return DepthAnalysis(
        texts=tuple(texts),
        depths=tuple(depths),
        unit_correlations=correlations,
        best_unit=best,
        best_corr=correlations[best],
        best_unit_values=tuple(tuple(row) for row in output[:, :, best].t().tolist()),
        probe_r=pearson(predicted, depth[:, half:].flatten()),
        probe_fit=tuple(tuple(row) for row in predicted.view(depth.shape[0], -1).t().tolist()),
        loss=F.cross_entropy(logits[:-1].flatten(0, 1), ids[1:].flatten()).item(),
        floor=generator_loss(texts, depths),
    )


def pearson(x: torch.Tensor, y: torch.Tensor) -> float:
    """Pearson's r of two vectors; 0.0 where either is constant (a dead unit carries nothing)."""
    x, y = x - x.mean(), y - y.mean()
    norms = x.norm() * y.norm()
    return float(x @ y / norms) if norms > 0 else 0.0


def with_bias(features: torch.Tensor) -> torch.Tensor:
    """(N, F) -> (N, F+1): a column of ones appended."""
    return torch.cat([features, features.new_ones(len(features), 1)], dim=1)


def fit_probe(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Least-squares weights (F+1,) so that with_bias(features) @ weights is closest to target.

    The SVD driver gelsd, like numpy's: the default gelsy gives different last bits from call to call.
    """
    solution = torch.linalg.lstsq(with_bias(features), target.unsqueeze(1), driver="gelsd").solution  # (F+1, 1)
    return solution.squeeze(1)
