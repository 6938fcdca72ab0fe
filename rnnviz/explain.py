"""explain(module, x): what your own nn.RNN, nn.LSTM or nn.GRU returned, checked against the catalog, with recipes.

The module is called once, as module(x, h_0), in the caller's grad mode and under the thread rule of the rest of
rnnviz (model.contract_threads): what it returns is handed back as it is. Nothing about the module is copied or
changed: its parameters are read (on the CPU, the very tensors), its mode and grad state are left alone. The rest of
rnnviz then reads the run as it reads its own (a RunResult whose config is a ModuleConfig read off the module and the
input: any size, no validation, since the module exists): the catalog's relations, the anatomy, the recipes, the
picture.
"""

import dataclasses
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

import torch
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from rnnviz.batch import PAD
from rnnviz.cells import CELLS
from rnnviz.model import BUILD_LOCK, RunResult, contract_threads, layer_by_layer, split_state
from rnnviz.recipes import Recipes, recipes
from rnnviz.recompute import recomputable, recompute
from rnnviz.relations import Relation, check_relations
from rnnviz.runs import COMPARISONS
from rnnviz.weights_file import Layer, describe

DTYPES = {torch.float32: "float32", torch.float64: "float64"}  # the dtypes the catalog's tolerances cover
# Comparisons that run a Config again: a user's module has none.
FROM_CONFIG = ("cpu", "whole", "eval", "packed", "short", "unsorted", "other_detach")
VERDICT_MARKS = {"holds": "✓", "lesson": "·", "coincidence": "≈", "contradiction": "✗"}


@dataclass(frozen=True)
class ModuleConfig:
    """The configuration read off a module and its input: the rnnviz.Config fields that the catalog, the anatomy and
    the rebuild read. Any size: Config's limits are the dashboard's."""

    sequences: tuple[str, ...]  # a label per sequence ("12 steps"): its length is B
    cell: str
    nonlinearity: str  # the RNN's, tanh for the others (as Config)
    layers: int
    bidirectional: bool
    hidden: int
    embedding: int  # input_size
    proj: int
    bias: bool  # without biases, the rebuild and the hand recomputation use zero biases
    batch_first: bool
    packed: bool  # x was a PackedSequence
    dtype: str
    device: str  # cpu or cuda
    h0: str  # zeros (torch's default) or random: an h_0 was handed to the call (the catalog's word for one)
    dropout: float
    train_mode: bool
    chunk: int = 0  # never carried over a split
    total_length: int = 0  # rnnviz's own padding past the longest sequence: none (x is read as it was padded)
    sort: str = "auto"  # rnnviz's own sort by hand: none (the batch is read in its order)
    detach: bool = False  # nothing carried, nothing detached

    @property
    def directions(self) -> int:
        """D: 2 for a bidirectional layer, else 1."""
        return 2 if self.bidirectional else 1

    @property
    def state_size(self) -> int:
        """H as output and h_n hold it: proj_size for a projected LSTM, else hidden."""
        return self.proj or self.hidden

    @property
    def draws_masks(self) -> bool:
        """Whether the call drew dropout masks: train mode, P > 0, a layer above the first."""
        return self.train_mode and self.dropout > 0 and self.layers >= 2

    def replace(self, **changes) -> "ModuleConfig":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class InputBatch:
    """The batch as the anatomy reads it: each sequence's real length and the padded length T; every real step's
    token is x (the input is the user's vectors, not characters)."""

    lengths: tuple[int, ...]
    max_length: int  # T: x's padded length (a packed x: the longest sequence)
    batch_first: bool

    @property
    def sequences(self) -> tuple[str, ...]:
        """A label per sequence: its length in steps."""
        return tuple(f"{n} steps" for n in self.lengths)

    def token(self, t: int, b: int) -> str:
        """x at a real step, <pad> past the sequence's length."""
        return "x" if t < self.lengths[b] else PAD


@dataclass(frozen=True, eq=False)
class Explanation:
    """What module(x, h_0) returned, the catalog's relations on it, and views of it: cells, recipes, picture."""

    output: object = field(repr=False)  # as the module returned it: (T, B, D*H) or (B, T, D*H), or a PackedSequence
    h_n: torch.Tensor = field(repr=False)  # (L*D, B, H), as returned
    c_n: torch.Tensor | None = field(repr=False)  # (L*D, B, hidden) for an LSTM, as returned; else None
    relations: tuple[Relation, ...] = field(repr=False)  # the catalog's, in its order
    run: RunResult = field(repr=False)  # the run as rnnviz reads it: output padded, every tensor on the CPU
    compared: MappingProxyType = field(repr=False)  # the comparisons computed (compare=True), by rnnviz.runs' names

    def cells(self):
        """The anatomy (a pandas DataFrame): a row per (sequence, layer, direction, t), where output and h_n took
        each state from."""
        from rnnviz.anatomy import cells  # pandas: when asked, so that `import rnnviz` stays light

        return cells(self.run)

    def recipes(self) -> Recipes:
        """The exact indexing for what people need from this run, each evaluated and checked; wrong ways as lessons."""
        return recipes(self.run)

    @cached_property
    def layer_outputs(self) -> tuple[torch.Tensor, ...]:
        """Every layer's output, time-major (T, B, D*H), on the CPU: rebuilt from one-layer modules (once)."""
        rebuilt = self.compared.get("by_layer")
        return rebuilt.layers if rebuilt is not None else layer_by_layer(self.run)

    def picture(self, sequences=(0,)):
        """The unrolled run the dashboard draws (rnnviz.charts.diagram), for the chosen sequences: an Altair chart."""
        import altair as alt  # the charts: when asked, so that `import rnnviz` stays light

        from rnnviz.charts.diagram import diagram
        from rnnviz.charts.style import DATA

        exact = self.c_n is not None and recomputable(self.run.config)  # an LSTM's c_t: where the recomputation is
        layer_cells = recompute(self.run).layer_cells if exact else None
        spec = diagram(self.run, self.layer_outputs, tuple(sequences), layer_cells=layer_cells)
        return alt.LayerChart.from_dict({**spec, "datasets": {DATA: spec["datasets"][DATA].to_pylist()}})

    def summary(self) -> list[str]:
        """A line for the run, then one per relation: its verdict and id, and where it splits, for which sequences."""
        return [self.headline(), *(_relation_line(rel) for rel in self.relations)]

    def headline(self) -> str:
        """The module and what it returned, in one line."""
        c, r = self.run.config, self.run
        layer = Layer(c.cell, c.layers, c.bidirectional, c.hidden, c.embedding, c.proj, c.bias)
        shapes = f"output {list(r.output.shape)}, h_n {list(r.h_n.shape)}" + (
            f", c_n {list(r.c_n.shape)}" if r.c_n is not None else ""
        )
        lengths = r.batch.lengths
        batch = (
            f"{'packed' if c.packed else 'padded'}, lengths {min(lengths)}..{max(lengths)} of T = {r.batch.max_length}"
        )
        return f"{describe(layer)}; {'batch_first' if c.batch_first else 'time-major'}, {batch}; {shapes}"

    def __repr__(self) -> str:
        return "\n".join(self.summary())

    def _repr_mimebundle_(self, include=None, exclude=None):
        """Jupyter: the picture, the relations' lines under it (and as text where a chart cannot show)."""
        import altair as alt

        lines = self.summary()
        title = alt.TitleParams(lines[0], subtitle=lines[1:], orient="bottom", anchor="start", fontSize=14)
        bundle = self.picture().properties(title=title)._repr_mimebundle_(include, exclude)
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        return {**data, "text/plain": "\n".join(lines)}, metadata


def _relation_line(rel: Relation) -> str:
    """✓ holds: h_n-layout; a verdict names its kind (holds and contradiction: guaranteed; lesson, coincidence)."""
    split = rel.per_sequence is not None and len(set(rel.per_sequence)) > 1
    where = f" (holds for sequences {[b for b, ok in enumerate(rel.per_sequence) if ok]} only)" if split else ""
    return f"{VERDICT_MARKS[rel.verdict]} {rel.verdict}: {rel.id}{where}"


def explain(module, x, lengths=None, h_0=None, compare: bool = False) -> Explanation:
    """Call module(x, h_0) once and explain what it returned: output, h_n and c_n as returned, the catalog's relations
    for the configuration read off the module and x, the anatomy, recipes and the picture.

    module: an nn.RNN, nn.LSTM (proj_size too) or nn.GRU, float32 or float64, on its device; x: a padded batch laid out
    as the module expects (batch_first or not), or a PackedSequence; lengths: the real lengths of a padded batch (else
    every sequence is T long); h_0: as torch takes it. compare: also the relations that need the run computed another
    way from the module's weights (by hand, rebuilt from one-layer modules: each about one more forward).
    """
    layer = _layer(module)
    padded, lengths = _input(x, lengths, module.batch_first)
    config = _config(module, layer, padded, lengths, x, h_0)
    masks = config.draws_masks
    if masks and config.device != "cpu":
        raise ValueError(
            "train mode with dropout on CUDA draws masks nothing can replay (cuDNN's own state): call module.eval() "
            "first, or explain it on the CPU"
        )
    # In the caller's grad mode: torch's CPU LSTM picks its kernel by it, and the two may differ in the last bit.
    with contract_threads(), BUILD_LOCK if masks else nullcontext():
        masks_state = torch.get_rng_state() if masks else None  # where the forward draws its masks (CPU generator)
        output, state = module(x, h_0)
    h_n, c_n = split_state(state)
    padded_output = pad_packed_sequence(output, batch_first=module.batch_first)[0] if config.packed else output
    given_h, given_c = split_state(h_0)
    run = RunResult(
        config=config,
        device=config.device,
        batch=InputBatch(lengths, padded.shape[1 if module.batch_first else 0], module.batch_first),
        embedded=padded.detach().cpu(),  # (T, B, E), or (B, T, E) with batch_first
        output=padded_output.detach().cpu(),  # (T, B, D*H), or (B, T, D*H)
        h_n=h_n.detach().cpu(),  # (L*D, B, H)
        c_n=None if c_n is None else c_n.detach().cpu(),  # (L*D, B, hidden)
        weights=MappingProxyType(_weights(module, layer)),
        h_0=None if given_h is None else given_h.detach().cpu(),
        c_0=None if given_c is None else given_c.detach().cpu(),
        masks_state=masks_state,
    )
    compared = _comparisons(run) if compare else {}
    return Explanation(output, h_n, c_n, tuple(check_relations(run, compared)), run, MappingProxyType(compared))


def _layer(module) -> Layer:
    """The layer the module is, read off its attributes."""
    cell = next((name for name, c in CELLS.items() if isinstance(module, c.module)), None)
    if cell is None:
        raise TypeError(f"explain takes an nn.RNN, nn.LSTM or nn.GRU, not {type(module).__name__}")
    proj = getattr(module, "proj_size", 0)
    return Layer(
        cell, module.num_layers, module.bidirectional, module.hidden_size, module.input_size, proj, module.bias
    )


def _input(x, lengths, batch_first: bool) -> tuple[torch.Tensor, tuple[int, ...]]:
    """x padded (the layout as given) and each sequence's real length."""
    if isinstance(x, PackedSequence):
        if lengths is not None:
            raise ValueError("a PackedSequence carries its own lengths: give lengths with a padded x only")
        padded, found = pad_packed_sequence(x, batch_first=batch_first)  # (T, B, E) or (B, T, E)
        return padded, tuple(int(n) for n in found)
    if not isinstance(x, torch.Tensor) or x.dim() != 3:
        raise ValueError("x must be a batch: a 3-D tensor (T, B, E), (B, T, E) with batch_first, or a PackedSequence")
    B, T = (x.shape[0], x.shape[1]) if batch_first else (x.shape[1], x.shape[0])
    lengths = (T,) * B if lengths is None else tuple(int(n) for n in lengths)
    if len(lengths) != B or not all(1 <= n <= T for n in lengths):
        raise ValueError(f"lengths must give each of the {B} sequences a length from 1 to T = {T}, got {list(lengths)}")
    return x, lengths


def _config(module, layer: Layer, padded, lengths, x, h_0) -> ModuleConfig:
    dtype = module.weight_ih_l0.dtype
    if dtype not in DTYPES:
        raise ValueError(f"explain takes float32 and float64 modules (the catalog's tolerances), not {dtype}")
    return ModuleConfig(
        **layer.config_fields(),
        sequences=tuple(f"{n} steps" for n in lengths),
        nonlinearity=getattr(module, "nonlinearity", "tanh"),
        bias=layer.bias,
        batch_first=module.batch_first,
        packed=isinstance(x, PackedSequence),
        dtype=DTYPES[dtype],
        device=padded.device.type,
        h0="zeros" if h_0 is None else "random",
        dropout=float(module.dropout),
        train_mode=module.training,
    )


def _weights(module, layer: Layer) -> dict[str, torch.Tensor]:
    """torch's name -> the module's parameter, detached, on the CPU (there: the very tensor); zeros for the biases of a
    layer without them, so that the rebuild and the hand recomputation take them as they are."""
    weight = module.weight_ih_l0
    return {
        name: getattr(module, name).detach().cpu() if hasattr(module, name) else torch.zeros(shape, dtype=weight.dtype)
        for name, shape in layer.parameter_shapes().items()
    }


def _comparisons(run: RunResult) -> dict:
    """The comparisons that work from the weights and apply to the run: rnnviz.runs', but those that run a Config
    again (FROM_CONFIG) and those on request (the gradients)."""
    applying = [c for c in COMPARISONS if c.name not in FROM_CONFIG and not c.on_request and c.applies(run)]
    reference = recompute(run) if any(c.name == "ref" for c in applying) else None
    return {c.name: c.compute(run, reference) for c in applying}
