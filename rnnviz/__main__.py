"""`python -m rnnviz`: the relations report in the terminal, or as JSON for machines.

Exit 0: every relation did what it was expected to do; 1: one did not; 2: invalid input.
"""

import argparse
import os
import sys

from rnnviz import PRESETS, Config, ConfigError, analyse_with_gradients
from rnnviz.compare import COMPARE_KEYS, compare
from rnnviz.config import CONFIG_DEFAULTS, controls
from rnnviz.controls import flag
from rnnviz.report import make_report, report_json
from rnnviz.training import task_start
from rnnviz.weights_file import MAX_BYTES, Weights, read_weights


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        """One line on stderr and exit 2, instead of argparse's usage block."""
        self.exit(2, f"rnnviz: error: {message}\n")


def parser() -> argparse.ArgumentParser:
    """The command line (docs/cli.md): an option per Config field, from its Control, then the report's options."""
    p = _Parser(prog="python -m rnnviz", description=__doc__.splitlines()[0], argument_default=None)
    p.add_argument("--preset", choices=list(PRESETS), help="one of the blog's four sections")
    for name, ctl in controls().items():
        p.add_argument(flag(name), dest=name, help=ctl.help, **OPTION_KINDS[ctl.widget](ctl))
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--tensors", action="store_true", help="with --json: include output, h_n, c_n")
    p.add_argument("--gradients", action="store_true", help="the gradient relations; with --json, the map too")
    flips = ", ".join(COMPARE_KEYS)
    p.add_argument("--compare", metavar="KEY=VALUE", help=f"the same run with one control flipped ({flips})")
    p.add_argument("--weights", metavar="FILE", help="run the recurrent layer of this saved state_dict")
    p.add_argument("--prefix", metavar="P", help="with --weights: the layer's prefix in it (encoder.rnn.)")
    return p


OPTION_KINDS = {  # a Control's widget -> its option's argparse keywords (every option defaults to None: unset)
    "lines": lambda ctl: dict(nargs="+", action="extend", metavar="S"),
    "select": lambda ctl: dict(choices=list(ctl.choices)),
    "number": lambda ctl: dict(type=int, metavar="N"),
    "fraction": lambda ctl: dict(type=float, metavar="P"),
    "toggle": lambda ctl: dict(action=argparse.BooleanOptionalAction),
}


def parse_args(argv=None) -> argparse.Namespace:
    """The command line's options; every Config option is None where it was not given (the preset's value)."""
    p = parser()
    return p.parse_args(sequences_as_values(list(sys.argv[1:] if argv is None else argv), p))


def sequences_as_values(argv: list[str], cli: argparse.ArgumentParser) -> list[str]:
    """Every argument after --sequences up to the next option becomes --sequences=VALUE, so that a sequence may
    start with '-' (argparse would read '-x' as an option)."""
    options = set(cli._option_string_actions)
    out, taken = [], None  # taken: how many values the open --sequences has, None when none is open
    for arg in argv:
        if taken is not None and arg.split("=", 1)[0] not in options:
            out.append(f"--sequences={arg}")
            taken += 1
            continue
        if taken == 0:
            out.append("--sequences")  # no value: let argparse say so
        taken = 0 if arg == "--sequences" else None
        if taken is None:
            out.append(arg)
    if taken == 0:
        out.append("--sequences")
    return out


def config_from_args(args: argparse.Namespace, weights: Weights | None = None) -> Config:
    """The preset (or the default Config), with every option given on the command line applied.

    With a task, the batch and sizes not given are the task's (rnnviz.training.task_start). With weights, the layer
    is the file's: an option that says otherwise is a ConfigError.
    """
    base = PRESETS[args.preset] if args.preset else Config()
    options = {k: v for k, v in vars(args).items() if v is not None and k in CONFIG_DEFAULTS}
    if options.get("task", "none") != "none":
        if weights is not None:
            raise ConfigError("--weights runs the file's layer, --task trains one of its own: give one of them.")
        options = {**task_start(), **options}
    if weights is not None:
        read = weights.layer.config_fields()
        for name, value in read.items():
            if options.get(name, value) != value:
                raise ConfigError(
                    f"{flag(name)} {options[name]}, but {weights.file} holds a layer with {name} {value}."
                )
        options |= read
    return base.replace(**options)


def weights_from_args(args: argparse.Namespace) -> Weights | None:
    """The layer in the --weights file (None without), or ConfigError: nothing is run before it is read."""
    if args.weights is None:
        if args.prefix is not None:
            raise ConfigError("--prefix only goes with --weights")
        return None
    try:
        if os.path.getsize(args.weights) > MAX_BYTES:
            raise ConfigError(f"{args.weights} is over {MAX_BYTES // 10**6} MB, the most rnnviz reads.")
        with open(args.weights, "rb") as file:
            data = file.read()
    except OSError as error:
        raise ConfigError(f"cannot read {args.weights}: {error.strerror}.") from None
    return read_weights(data, os.path.basename(args.weights), args.prefix)


def human_report(analysis) -> str:
    """Shapes, then one line per relation: verdict, expected, holds, id, expression."""
    result, _, relations = analysis
    c = result.config
    report = make_report(result, relations)
    lines = [
        f"{c.cell.upper()}, {c.layers} layer(s), {'bi' if c.bidirectional else 'uni'}directional, "
        f"hidden {c.hidden}, embedding {c.embedding}{f', proj {c.proj}' if c.proj else ''}, "
        f"{'batch_first' if c.batch_first else 'time-major'}, {'packed' if c.packed else 'padded'}, "
        f"seed {c.seed}, {result.device} {c.dtype}" + "".join(f", {option}" for option in beyond_the_blog(result)),
        f"batch: {len(c.sequences)} sequences, lengths {list(result.batch.lengths)}, "
        f"vocabulary of {len(result.batch.vocab)}",
        "shapes: " + "  ".join(f"{k} {v}" for k, v in report["shapes"].items() if v is not None),
        *(f"torch warned: {warning}" for warning in result.warnings),
        "",
        f"{'verdict':<14} {'kind':<11} {'relation':<34} claim checked",
    ]
    for rel in relations:
        lines.append(
            f"{rel.verdict.upper() if rel.verdict == 'contradiction' else rel.verdict:<14} "
            f"{rel.kind:<11} {rel.id:<34} {rel.expression.replace(chr(10), '')}"
        )
    return "\n".join(lines)


def compare_report(side) -> str:
    """The side-by-side comparison in lines: the largest difference per sequence, and per h_n row and sequence."""

    def numbers(values) -> str:
        return "  ".join("other shape" if v is None else f"{v:.3g}" for v in values)

    rows = [f"  h_n[{k}]  {numbers(row)}" for k, row in enumerate(side.h_n_max_abs_diff)]
    return "\n".join(
        [f"compare {side.assignment}: max abs diff per sequence b = 0, 1, ...",
         f"  output  {numbers(side.output_max_abs_diff)}", *rows]
    )  # fmt: skip


def beyond_the_blog(result) -> list[str]:
    """The options a run has that the blog's runs do not: h_0, dropout and train mode, a task."""
    c, options = result.config, []
    if c.h0 != "zeros":
        options.append(f"h0 {c.h0}" + (f" at split {c.chunk}" if c.chunk else ""))
    if c.dropout:
        options.append(f"dropout {c.dropout}")
    if c.train_mode:
        options.append("train mode")
    if result.training is not None:
        options.append(f"trained on {c.task} for {result.training.steps} steps")
    if result.weights_file is not None:
        w = result.weights_file
        options.append(f"weights {w.file}" + (f" under {w.prefix!r}" if w.prefix else ""))
    return options


def main(argv=None) -> int:
    """Run the command line; return the exit code."""
    args = parse_args(argv)
    if args.tensors and not args.json:
        print("rnnviz: error: --tensors only goes with --json", file=sys.stderr)
        return 2
    try:
        weights = weights_from_args(args)
        analysis, gradients = analyse_with_gradients(config_from_args(args, weights), args.gradients, weights)
        side = None if args.compare is None else compare(analysis.result, args.compare)
    except ConfigError as error:
        print(f"rnnviz: error: {error}", file=sys.stderr)
        return 2
    if args.json:
        values = None if gradients is None else gradients.values
        print(report_json(analysis.result, analysis.relations, tensors=args.tensors, gradients=values, compare=side))
    else:
        print(human_report(analysis) + ("" if side is None else "\n\n" + compare_report(side)))
    return 1 if any(rel.verdict == "contradiction" for rel in analysis.relations) else 0


if __name__ == "__main__":
    sys.exit(main())
