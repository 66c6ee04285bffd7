"""Plot the speed-ups of a sweep: vs timesteps T and vs batch B, one line per cell and mode.

    python -m benchmarks.plot                       # the newest benchmarks/results/sweep_*.json
    python -m benchmarks.plot RESULTS.json --out speedup.png --metric fused_vs_rnn

The speed-up is a ratio measured within one run (see benchmarks.sweep): `fused_vs_rnn` (the
default) is time(keras.layers.RNN(cell)) / time(FusedRNN(cell)), both in a custom tf.function
loop; `fused_vs_keras` compares FusedRNN(cell) with Keras's LSTM/GRU; `rnn_vs_keras` compares
RNN(cell) with Keras's LSTM/GRU. One panel per axis the sweep varied (T, batch, units),
the other axes held at the sweep's center. Needs matplotlib (`pip install "rnncells[plot]"`).

    python -m benchmarks.plot --markdown           # the README's tables, from the same JSON
    python -m benchmarks.plot --routes-markdown    # the route table of docs/performance.md
"""

import argparse
import json
import sys
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
METRICS = ("fused_vs_rnn", "fused_vs_keras", "rnn_vs_keras", "fused_fit_vs_rnn_fit")


def newest_results(directory=RESULTS_DIR):
    files = sorted(Path(directory).glob("sweep_*.json"), key=lambda p: p.stat().st_mtime)
    if not files:
        raise SystemExit(f"no sweep_*.json in {directory}: run `python -m benchmarks.sweep` first")
    return files[-1]


def series(result, metric, axis):
    """{(cell, mode): [(x, speed-up), ...]} along `axis` ("timesteps", "batch" or "units",
    with input = units along the latter)."""
    center_b, center_t, center_i, center_h = result["arguments"]["center"]
    fixed = {"timesteps": {"batch": center_b, "input": center_i, "units": center_h},
             "batch": {"timesteps": center_t, "input": center_i, "units": center_h},
             "units": {"batch": center_b, "timesteps": center_t}}[axis]
    lines = {}
    for entry in result["ratios"]:
        if entry["point"] != "sweep" or entry.get(metric) is None:
            continue
        if all(entry[k] == v for k, v in fixed.items()):
            lines.setdefault((entry["cell"], entry["mode"]), []).append(
                (entry[axis], entry[metric]))
    return {key: sorted(points) for key, points in lines.items()}


def plot(result, out_path, metric="fused_vs_rnn"):
    """Write the two-panel PNG; return the number of lines drawn."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit(
            "benchmarks.plot needs matplotlib, which is not installed: "
            'pip install "rnncells[plot]" (or: pip install matplotlib)') from None
    machine = result["machine"]
    labels = {"timesteps": "timesteps T", "batch": "batch size B", "units": "units H (= input I)"}
    # A panel per axis the run varied (at least two values of it around the center).
    panels = [axis for axis in labels if any(
        len(points) > 1 for points in series(result, metric, axis).values())] or ["batch"]
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 5.5), squeeze=False)
    drawn = 0
    for ax, axis in zip(axes[0], panels):
        label = labels[axis]
        ticks = set()
        for (cell, mode), points in sorted(series(result, metric, axis).items()):
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker="o", linestyle="-" if mode == "train" else "--",
                    label=f"{cell} ({mode})")
            ticks.update(xs)
            drawn += 1
        ax.axhline(1.0, color="grey", linewidth=0.8)
        ax.set_xscale("log", base=2)
        if ticks:
            ax.set_xticks(sorted(ticks), [str(t) for t in sorted(ticks)])
        ax.set_xlabel(label)
        ax.set_ylabel(f"speed-up ({metric})")
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6, ncol=2)
        else:
            ax.text(0.5, 0.5, f"no {metric} data in this run", ha="center",
                    transform=ax.transAxes)
    center = result["arguments"]["center"]
    fig.suptitle(f"{metric}: {machine['cpu']}, {machine['cores']} cores, GPU "
                 f"{', '.join(machine['gpus']) or 'none'}, TF {machine['tensorflow']} "
                 f"(center B={center[0]} T={center[1]} I={center[2]} H={center[3]})",
                 fontsize=9)
    fig.tight_layout()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
    return drawn


def markdown(result):
    """The README's per-cell table from a sweep result: FusedRNN / RNN(cell) time ratios
    (< 1: FusedRNN faster) per batch at the center's T, I, H, and FusedRNN / Keras LSTM-GRU
    for the training step."""
    center_b, center_t, center_i, center_h = result["arguments"]["center"]
    times = {}
    for row in result["rows"]:
        if row["point"] == "sweep" and row.get("median_ms") is not None:
            times[(row["cell"], row["mode"], row["batch"], row["timesteps"], row["input"],
                   row["units"], row["path"])] = row["median_ms"]
    shapes = sorted({k[2:6] for k in times})
    batches = sorted({b for b, t, i, h in shapes if (t, i, h) == (center_t, center_i,
                                                                 center_h)})
    units = sorted({h for b, t, i, h in shapes if (b, t) == (center_b, center_t) and i == h})
    columns = [(b, center_t, center_i, center_h) for b in batches]
    columns += [(center_b, center_t, h, h) for h in units if h != center_h]
    names = [f"B={b}" + ("" if (i, h) == (center_i, center_h) else f" H={h}")
             for b, t, i, h in columns]
    lines = ["| cell | mode | " + " | ".join(names) + " | vs Keras LSTM/GRU (train, "
             + ", ".join(f"B={b}" for b in batches) + ") |",
             "| --- | --- | " + " | ".join("---:" for _ in columns) + " | ---: |"]
    cells = sorted({k[0] for k in times})

    def ratio(cell, mode, shape, other):
        num, den = times.get((cell, mode, *shape, "fused")), times.get(
            (cell, mode, *shape, other))
        return f"{num / den:.2f}" if num and den else "-"

    for cell in cells:
        for mode in ("train", "infer"):
            keras_cells = ", ".join(ratio(cell, "train", (b, center_t, center_i, center_h),
                                          "keras") for b in batches) if mode == "train" else ""
            lines.append(f"| {cell} | {mode} | " + " | ".join(
                ratio(cell, mode, shape, "rnn") for shape in columns) + f" | {keras_cells} |")
    return "\n".join(lines)


ROUTE_LABELS = {"fused": "F", "fused_xla": "X", "fused_batched": "Bt"}


def route_markdown(measured):
    """The route table (`rnncells.layers.route_table.MEASURED`) as markdown: per cell and mode,
    the route of each (batch, units, timesteps) point and its speed-up over RNN(cell) ("RNN":
    that loop itself; F fused, X fused with XLA, Bt fused with the batched backward)."""
    from rnncells.layers.routes import as_point  # TensorFlow: only for this table

    measured = {cell: {mode: [as_point(p) for p in points] for mode, points in modes.items()}
                for cell, modes in measured.items()}
    grid = sorted({p[:3] for modes in measured.values() for points in modes.values()
                   for p in points})
    lines = ["| cell | mode | " + " | ".join(f"B={b} H={h} T={t}" for b, h, t in grid) + " |",
             "| --- | --- | " + " | ".join("---" for _ in grid) + " |"]
    for cell in sorted(measured):
        for mode in ("train", "infer"):
            points = {p[:3]: p for p in measured[cell].get(mode, [])}
            entries = []
            for key in grid:
                point = points.get(key)
                if point is None:
                    entries.append("")
                elif point[3] == "per_step":
                    entries.append("RNN")
                else:
                    entries.append(f"{ROUTE_LABELS[point[3]]} {point[4]:.2f}")
            lines.append(f"| {cell} | {mode} | " + " | ".join(entries) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.plot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="?", type=Path, default=None,
                        help="a sweep JSON (default: the newest in benchmarks/results/)")
    parser.add_argument("--out", type=Path, default=None,
                        help="PNG path (default: the JSON's name with .png)")
    parser.add_argument("--metric", choices=METRICS, default="fused_vs_rnn")
    parser.add_argument("--routes-markdown", action="store_true",
                        help="print the route table FusedRNN's 'auto' uses (markdown)")
    parser.add_argument("--markdown", action="store_true",
                        help="print the per-cell ratio table (markdown) instead of plotting")
    args = parser.parse_args(argv)
    if args.routes_markdown:
        from rnncells.layers import route_table

        print(route_markdown(route_table.MEASURED))
        return None
    path = args.results or newest_results()
    with open(path, encoding="utf-8") as f:
        result = json.load(f)
    if args.markdown:
        print(markdown(result))
        return None
    out = args.out or Path(path).with_suffix(".png")
    drawn = plot(result, out, args.metric)
    print(f"wrote {out} ({drawn} lines of {args.metric})")
    if drawn == 0:
        print(f"note: {path} has no {args.metric} ratios along T or batch (a FusedRNN-less "
              "run, or a sweep without the star's T/batch axes)", file=sys.stderr)
    return out


if __name__ == "__main__":
    main()
