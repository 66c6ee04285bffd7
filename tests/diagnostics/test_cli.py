"""`python -m rnncells diagnose`: verdict table, PNG, and what to install without matplotlib."""

import sys

import keras
import numpy as np
import pytest

from rnncells.__main__ import main
from rnncells.cli import PLOT_HINT, resolve_cell
from rnncells.diagnostics.gradient_flow import gradient_flow


def test_table_and_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "flow.png"
    keras.utils.set_random_seed(5)
    status = main(["diagnose", "--cell", "SimpleRNN", "--cell", "LayerNormLSTMCell",
                   "--timesteps", "12", "--units", "4", "--features", "2", "--batch-size", "2",
                   "--plot", str(plot)])
    out = capsys.readouterr().out
    assert status == 0
    rows = [line.split() for line in out.splitlines()]
    table = {r[0]: r for r in rows if r and r[0] in ("SimpleRNN", "LayerNormLSTMCell")}
    assert set(table) == {"SimpleRNN", "LayerNormLSTMCell"}
    # Each row is gradient_flow of the same cell (same seed) on the same inputs.
    keras.utils.set_random_seed(5)
    x = np.random.default_rng(0).standard_normal((2, 12, 2)).astype("float32")
    for name in ("SimpleRNN", "LayerNormLSTMCell"):
        flow = gradient_flow(resolve_cell(name, 4), x)
        assert table[name][1:3] == [flow.verdict, f"{flow.ratio:.3g}"], name
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_verdict_of_a_long_simple_rnn_is_vanishing(capsys):
    # tanh SimpleRNN, orthogonal U, unit inputs over 200 steps: the gradient reaching step 0
    # shrinks ~0.6x per step (measured ratio < 1e-40, far below the 1e-4 threshold).
    assert main(["diagnose", "--no-plot", "--cell", "SimpleRNN", "--timesteps", "200",
                 "--units", "4"]) == 0
    row = [line.split() for line in capsys.readouterr().out.splitlines()
           if line.startswith("SimpleRNN")][0]
    assert row[1] == "vanishing" and float(row[2]) < 1e-4


def test_says_what_to_install_without_matplotlib(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    plot = tmp_path / "flow.png"
    status = main(["diagnose", "--cell", "GRU", "--timesteps", "5", "--units", "2",
                   "--plot", str(plot)])
    captured = capsys.readouterr()
    assert status == 0 and "GRU" in captured.out
    assert PLOT_HINT in captured.err and 'pip install "rnncells[plot]"' in captured.err
    assert not plot.exists()


@pytest.mark.parametrize("argv, message", [
    (["--cell", "NoSuchCell"], "NoSuchCell"),
    (["--cell", "ConvLSTMCell"], "cannot be built from `units` alone"),
    (["--cell", "LSTM", "--timesteps", "1"], "--timesteps"),
    (["--cell", "Zoneout"], "Zoneout wraps another cell"),
    (["--cell", "LSTM", "--input-scale", "nan"], "`--input-scale`: expected a finite number > 0"),
    (["--cell", "LSTM", "--input-scale", "inf"], "received inf"),
    (["--cell", "LSTM", "--input-scale", "0"], "received 0.0"),
    (["--cell", "LSTM", "--input-scale", "-1"], "received -1.0"),
])
def test_bad_arguments(argv, message, capsys):
    assert main(["diagnose", "--no-plot", *argv]) == 2
    assert message in capsys.readouterr().err


def test_zoneout_error_does_not_blame_units(capsys):
    assert main(["diagnose", "--no-plot", "--cell", "Zoneout", "--units", "32"]) == 2
    err = capsys.readouterr().err
    assert "cell=32" not in err and "--cell LayerNormLSTMCell" in err


def test_echo_state_cell_with_its_bare_state(capsys):
    status = main(["diagnose", "--no-plot", "--cell", "ESNCell", "--timesteps", "6", "--units",
                   "3", "--features", "2", "--batch-size", "1"])
    assert status == 0
    assert any(line.split()[:1] == ["ESNCell"] for line in capsys.readouterr().out.splitlines())


def test_the_cells_listed_on_a_bad_name_are_the_ones_it_can_build():
    with pytest.raises(ValueError, match="expected an rnncells cell") as caught:
        resolve_cell("Foo", 4)
    listed = caught.value.args[0].split("(")[1].split(")")[0].split(", ")
    assert "LayerNormLSTMCell" in listed
    for name in ("RecurrentCell", "Zoneout", "ConvGRUCell", "ConvLSTMCell"):
        assert name not in listed
    for name in listed:
        assert resolve_cell(name, 4).state_size is not None  # every listed cell builds
