"""`python -m rnncells diagnose`: compare how far gradients travel back in several cells.

    python -m rnncells diagnose --cell SimpleRNN --cell LSTM --cell LayerNormLSTMCell \\
        --timesteps 500 --plot gradient_flow.png

Each cell is built with `units` units, run over one random normal batch (inference mode, zero
initial state) and `gradient_flow` is taken with L = sum of the last output. Prints a verdict
table and writes a PNG of ||dL/dh_t|| / ||dL/dh_{T-1}|| against the step t (needs matplotlib:
`pip install "rnncells[plot]"`).
"""

import inspect
import math
import sys
import time

KERAS_CELLS = {"SimpleRNN": "SimpleRNNCell", "LSTM": "LSTMCell", "GRU": "GRUCell",
               "SimpleRNNCell": "SimpleRNNCell", "LSTMCell": "LSTMCell", "GRUCell": "GRUCell"}
PLOT_HINT = ('matplotlib is needed for the plot: pip install "rnncells[plot]" '
             "(or pip install matplotlib); pass --no-plot to skip it.")


def add_diagnose_parser(subparsers):
    """Add the `diagnose` subcommand to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "diagnose", help="gradient flow of cells over long sequences: verdict table + plot")
    parser.add_argument("--cell", action="append", required=True,
                        help="rnncells cell class (e.g. LayerNormLSTMCell) or Keras SimpleRNN, "
                             "LSTM, GRU; repeat to compare several")
    parser.add_argument("--timesteps", type=int, default=200,
                        help="sequence length T (default 200)")
    parser.add_argument("--units", type=int, default=32, help="units per cell (default 32)")
    parser.add_argument("--features", type=int, default=8,
                        help="input features per step (default 8)")
    parser.add_argument("--batch-size", type=int, default=8, help="rows (default 8)")
    parser.add_argument("--input-scale", type=float, default=1.0,
                        help="standard deviation of the random inputs (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the inputs (default 0)")
    parser.add_argument("--plot", default="gradient_flow.png",
                        help="PNG path (default gradient_flow.png)")
    parser.add_argument("--no-plot", action="store_true", help="print the table only")
    parser.set_defaults(run=run)
    return parser


def buildable_cells():
    """The rnncells cells `--cell` can build from `units` alone (the base class, wrappers
    and the convolutional cells, which need more arguments, are left out)."""
    import rnncells
    from rnncells.cells.base import RecurrentCell

    names = []
    for name in rnncells.__all__:
        cls = getattr(rnncells, name)
        if not (isinstance(cls, type) and issubclass(cls, RecurrentCell)) or (
                cls is RecurrentCell):
            continue
        required = [p for p in list(inspect.signature(cls).parameters.values())[1:]
                    if p.default is inspect.Parameter.empty
                    and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        first = next(iter(inspect.signature(cls).parameters), None)
        if first == "units" and not required:
            names.append(name)
    return sorted(names)


def resolve_cell(name, units):
    """Build the cell called `name` with `units` units (rnncells class or Keras name)."""
    import keras

    import rnncells
    from rnncells.cells.base import RecurrentCell

    if name in KERAS_CELLS:
        return getattr(keras.layers, KERAS_CELLS[name])(units)
    cls = getattr(rnncells, name, None)
    if not (isinstance(cls, type) and issubclass(cls, RecurrentCell)) or cls is RecurrentCell:
        known = buildable_cells()
        raise ValueError(
            f"Invalid value for argument `--cell`: expected an rnncells cell ({', '.join(known)}) "
            f"or one of {', '.join(sorted(set(KERAS_CELLS)))}; received {name!r}.")
    wrapped = inspect.signature(cls).parameters.get("cell")
    if wrapped is not None:
        raise ValueError(
            f"Invalid value for argument `--cell`: {name} wraps another cell (its first "
            f"argument is `cell`), so it cannot be built from `units` alone; received "
            f"--cell {name}. Diagnose the cell it wraps (e.g. --cell LayerNormLSTMCell), or "
            f"the wrapper from Python: rnncells.diagnostics.gradient_flow("
            f"rnncells.{name}(rnncells.LayerNormLSTMCell({units})), x).")
    try:
        return cls(units)
    except TypeError as err:
        raise ValueError(f"Invalid value for argument `--cell`: {name} cannot be built from "
                         f"`units` alone ({err}); diagnose it from Python with "
                         "rnncells.diagnostics.gradient_flow.") from None


def run(args, out=None):
    """Run the comparison described by the parsed `args`; return the exit status."""
    import numpy as np

    from rnncells.diagnostics.gradient_flow import gradient_flow

    out = out or sys.stdout
    for name, value, low in (("--timesteps", args.timesteps, 2), ("--units", args.units, 1),
                             ("--features", args.features, 1),
                             ("--batch-size", args.batch_size, 1)):
        if value < low:
            print(f"Invalid value for argument `{name}`: expected an integer >= {low}, "
                  f"received {value}.", file=sys.stderr)
            return 2
    if not (math.isfinite(args.input_scale) and args.input_scale > 0):
        print("Invalid value for argument `--input-scale`: expected a finite number > 0 (the "
              f"standard deviation of the inputs), received {args.input_scale}.",
              file=sys.stderr)
        return 2
    try:
        cells = [(name, resolve_cell(name, args.units)) for name in args.cell]
    except ValueError as err:
        print(err, file=sys.stderr)
        return 2
    rng = np.random.default_rng(args.seed)
    x = (args.input_scale * rng.standard_normal(
        (args.batch_size, args.timesteps, args.features))).astype("float32")
    rows, flows = [], []
    for name, cell in cells:
        start = time.perf_counter()
        flow = gradient_flow(cell, x)
        seconds = time.perf_counter() - start
        flows.append((name, flow))
        rows.append((name, flow.verdict, f"{flow.ratio:.3g}", f"{flow.decay_rate:.4f}",
                     f"{flow.input_grad_norms[0]:.3g}", f"{flow.input_grad_norms[-1]:.3g}",
                     f"{seconds:.1f}"))
    header = ("cell", "verdict", "|dL/dh_0|/|dL/dh_T-1|", "decay/step", "|dL/dx_0|",
              "|dL/dx_T-1|", "seconds")
    print(f"Gradient flow: T={args.timesteps}, units={args.units}, features={args.features}, "
          f"batch={args.batch_size}, inputs N(0, {args.input_scale:g}^2), "
          "L = sum of the last output", file=out)
    print(format_table(header, rows), file=out)
    if args.no_plot:
        return 0
    try:
        import matplotlib
    except ImportError:
        print(PLOT_HINT, file=sys.stderr)
        return 0
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    steps = np.arange(args.timesteps)
    for name, flow in flows:
        norms = flow.state_grad_norms / flow.state_grad_norms[-1]
        norms = np.where(norms > 0, norms, np.nan)
        ax.semilogy(steps, norms, label=f"{name} ({flow.verdict})")
    ax.set_xlabel("time step t")
    ax.set_ylabel("||dL/dh_t|| / ||dL/dh_T-1||")
    ax.set_title(f"Gradient reaching step t (T={args.timesteps}, {args.units} units, "
                 "L = sum of last output)", fontsize=9)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.plot, dpi=110)
    plt.close(fig)
    print(f"plot written to {args.plot}", file=out)
    return 0


def format_table(header, rows):
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths)) for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
