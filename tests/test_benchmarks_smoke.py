"""Smoke tests of the benchmark harness on a tiny configuration (seconds, not a benchmark).

Timings are never asserted (a benchmark is not a test); what is checked: the harness runs
every path, writes the JSON and CSV it documents, counts the matmul FLOPs it says it counts,
computes ratios from its own rows, and writes the route table that
`FusedRNN(use_fused="auto")` chooses from.
"""

import csv
import io
import json

import pytest

from benchmarks import plot, sweep

TINY = ["--cells", "MinGRUCell", "--design", "center", "--center", "2", "3", "4", "5",
        "--paths", "rnn", "fused",
        "keras", "rnn_fit", "--no-points", "--repeats", "2", "--warmup", "0",
        "--matmul-size", "32"]


def test_sweep_runs_a_tiny_config_and_writes_results(tmp_path):
    out = io.StringIO()
    result, (json_path, csv_path) = sweep.main(TINY + ["--out", str(tmp_path)], out=out)
    text = out.getvalue()
    assert "Speed-ups" in text and "matmul throughput" in text

    saved = json.loads(json_path.read_text())
    for key in ("cpu", "cores", "gpus", "tensorflow", "keras"):
        assert key in saved["machine"]
    rows = {(r["path"], r["mode"]): r for r in saved["rows"]}
    for path in ("rnn", "keras", "rnn_fit", "fused"):
        for mode in ("infer", "train"):
            assert rows[(path, mode)]["median_ms"] > 0, (path, mode)

    # MinGRU at I=4, H=5: kernel (4, 10) is its only 2-D weight -> 2*4*10 FLOPs per
    # example-step; B*T = 6 example-steps; the training step counts 3x the forward.
    assert rows[("rnn", "infer")]["gflop"] == pytest.approx(6 * 2 * 4 * 10 / 1e9)
    assert rows[("rnn", "train")]["gflop"] == pytest.approx(3 * 6 * 2 * 4 * 10 / 1e9)
    # Keras GRU reference: kernel (4, 15) and recurrent_kernel (5, 15).
    assert rows[("keras", "infer")]["gflop"] == pytest.approx(6 * 2 * (4 * 15 + 5 * 15) / 1e9)

    ratio = next(e for e in saved["ratios"] if e["mode"] == "train")
    assert ratio["rnn_vs_keras"] == pytest.approx(
        rows[("keras", "train")]["median_ms"] / rows[("rnn", "train")]["median_ms"])

    with open(csv_path, newline="") as f:
        lines = [line for line in f if not line.startswith("#")]
    table = list(csv.DictReader(lines))
    assert len(table) == len(saved["rows"]) and set(table[0]) == set(sweep.CSV_FIELDS)


def test_routes_times_each_route_and_writes_the_table_auto_chooses_from(tmp_path):
    table_path = tmp_path / "route_table.py"
    args = ["--routes", "--cells", "LayerNormGRUCell", "MinGRUCell", "ConvGRUCell",
            "--batch", "2", "--units", "3", "--timesteps", "3", "--repeats", "1",
            "--warmup", "0", "--matmul-size", "16", "--out", str(tmp_path),
            "--route-table", str(table_path)]
    result, (json_path, _) = sweep.main(args, out=io.StringIO())
    timed = {(r["cell"], r["mode"], r["path"]) for r in result["rows"] if r.get("median_ms")}
    # Every route that applies, per mode: the scan cell has no loop XLA or backward variant,
    # the batched backward only matters to training, conv cells run Keras's per-step loop.
    assert {p for c, m, p in timed if c == "LayerNormGRUCell" and m == "train"} == {
        "rnn", "fused_loop", "fused_xla", "fused_batched"}
    assert {p for c, m, p in timed if c == "LayerNormGRUCell" and m == "infer"} == {
        "rnn", "fused_loop", "fused_xla"}
    assert {p for c, m, p in timed if c == "MinGRUCell"} == {"rnn", "fused_loop"}
    assert {p for c, m, p in timed if c == "ConvGRUCell"} == {"rnn", "fused_loop", "fused_xla"}
    namespace = {}
    exec(table_path.read_text(), namespace)  # the generated module, as the package reads it
    assert namespace["MEASURED"] == result["route_table"]
    for cell in ("LayerNormGRUCell", "MinGRUCell", "ConvGRUCell"):
        for mode in ("train", "infer"):
            ((batch, units, timesteps, route, speedup),) = namespace["MEASURED"][cell][mode]
            times = {sweep.PATH_ROUTES[r["path"]]: r["median_ms"] for r in result["rows"]
                     if r["cell"] == cell and r["mode"] == mode and r.get("median_ms")}
            assert (batch, units, timesteps) == (2, 3, 3)
            assert speedup == pytest.approx(times["per_step"] / times[route], abs=0.01)
            if route == "per_step":  # a fused route only with a 5% margin over RNN(cell)
                fastest_without_xla = min(t for r, t in times.items() if r != "fused_xla")
                assert fastest_without_xla * sweep.FUSED_MARGIN > times["per_step"]
            else:
                assert times["per_step"] >= sweep.FUSED_MARGIN * times[route]
                assert route == min(times, key=times.get) or (
                    route != "fused_xla" and  # XLA only with a 10% margin over the others
                    times["fused_xla"] * sweep.XLA_MARGIN > times[route])
    # The same table, rebuilt from the saved results without timing anything.
    rebuilt = tmp_path / "rebuilt.py"
    sweep.main(["--table-from", str(json_path), "--route-table", str(rebuilt)],
               out=io.StringIO())
    again = {}
    exec(rebuilt.read_text(), again)
    assert again["MEASURED"] == namespace["MEASURED"]


def test_the_route_table_merges_per_point_and_reads_the_earlier_format(tmp_path):
    path = tmp_path / "route_table.py"
    sweep.write_route_table({"MinGRUCell": {"train": [(2, 3, "fused", 1.5), (4, 3, "fused", 2.0)]}},
                            "cpu", "then", path)  # an earlier, 4-tuple (T=25) table
    sweep.write_route_table({"MinGRUCell": {"train": [(2, 3, 100, "per_step", 1.0),
                                                      (4, 3, 25, "per_step", 1.0)]}},
                            "cpu", "now", path)
    namespace = {}
    exec(path.read_text(), namespace)
    # A new T adds a point; the same (batch, units, T) replaces the earlier one.
    assert namespace["MEASURED"] == {"MinGRUCell": {"train": [
        (2, 3, 25, "fused", 1.5), (2, 3, 100, "per_step", 1.0), (4, 3, 25, "per_step", 1.0)]}}
    assert namespace["MEASURED_AT"] == {"MinGRUCell": "then; now"}


def test_named_summary_ratios_from_rows():
    def row(point, path, mode, ms, timesteps=100, mem=None):
        return dict(point=point, cell="c", path=path, mode=mode, batch=1,
                    timesteps=timesteps, input=1, units=1, median_ms=ms, peak_mem_mb=mem)

    rows = [row("ln_lstm_ref", "rnn", "train", 30.0), row("ln_lstm_ref", "fused", "train", 10.0),
            row("ln_lstm_ref", "keras", "train", 15.0),
            row("t_growth", "fused", "train", 10.0, 100, 5.0),
            row("t_growth", "fused", "train", 70.0, 800, 45.0)]
    summary = sweep.named_summary(rows)
    assert summary["ln_lstm_fused_vs_rnn (target >= 2)"] == pytest.approx(3.0)
    assert summary["ln_lstm_fused_vs_keras_lstm (target >= 1)"] == pytest.approx(1.5)
    assert summary["t_growth_fused_T100_to_T800_time (target <= 9)"] == pytest.approx(7.0)
    assert summary["t_growth_fused_T100_to_T800_peak_memory (target <= 9)"] == pytest.approx(9.0)
    assert summary["ln_lstm_fused_fit_vs_rnn_fit (target >= 1.5)"] is None


def test_unknown_cell_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="--cells.*NoSuchCell"):
        sweep.main(["--cells", "NoSuchCell", "--out", str(tmp_path)], out=io.StringIO())


def test_plot_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    entry = dict(point="sweep", cell="MinGRUCell", mode="train", input=8, units=8)
    ratios = [{**entry, "batch": 4, "timesteps": t, "fused_vs_rnn": 1.0 + t / 10}
              for t in (5, 10, 20)]
    ratios += [{**entry, "batch": b, "timesteps": 10, "fused_vs_rnn": 2.0} for b in (1, 16)]
    result = {"arguments": {"center": [4, 10, 8, 8]}, "ratios": ratios,
              "machine": {"cpu": "x", "cores": 2, "gpus": [], "tensorflow": "2"}}
    assert plot.series(result, "fused_vs_rnn", "timesteps") == {
        ("MinGRUCell", "train"): [(5, 1.5), (10, 2.0), (20, 3.0)]}
    assert len(plot.series(result, "fused_vs_rnn", "batch")[("MinGRUCell", "train")]) == 3
    out = tmp_path / "speedup.png"
    assert plot.plot(result, out) == 2
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_markdown_table_ratios_come_from_the_rows():
    def row(path, mode, batch, ms, units=8):
        return dict(point="sweep", cell="MinGRUCell", mode=mode, batch=batch, timesteps=10,
                    input=units, units=units, path=path, median_ms=ms)

    rows = [row("rnn", "train", 4, 20.0), row("fused", "train", 4, 10.0),
            row("keras", "train", 4, 5.0), row("rnn", "train", 16, 30.0),
            row("fused", "train", 16, 60.0), row("rnn", "train", 4, 8.0, units=2),
            row("fused", "train", 4, 4.0, units=2)]
    table = plot.markdown({"arguments": {"center": [4, 10, 8, 8]}, "rows": rows})
    header, _, train, infer = table.splitlines()
    assert header.startswith("| cell | mode | B=4 | B=16 | B=4 H=2 |")
    # fused / rnn per column; fused / keras at each batch of the center (none at B=16).
    assert train == "| MinGRUCell | train | 0.50 | 2.00 | 0.50 | 2.00, - |"
    assert infer == "| MinGRUCell | infer | - | - | - |  |"


def test_route_markdown_lists_every_point():
    measured = {"MinGRUCell": {"train": [(1, 8, "fused", 2.0), (4, 8, 100, "per_step", 1.0)],
                               "infer": [(1, 8, 25, "fused_xla", 1.5)]}}
    header, _, train, infer = plot.route_markdown(measured).splitlines()
    assert header == "| cell | mode | B=1 H=8 T=25 | B=4 H=8 T=100 |"
    assert train == "| MinGRUCell | train | F 2.00 | RNN |"
    assert infer == "| MinGRUCell | infer | X 1.50 |  |"
