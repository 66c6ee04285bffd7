"""`python -m rnncells diagnose`: verdict table, PNG, and what to install without matplotlib."""

import sys

import pytest

from rnncells.__main__ import main
from rnncells.cli import PLOT_HINT


def test_table_and_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "flow.png"
    status = main(["diagnose", "--cell", "SimpleRNN", "--cell", "LayerNormLSTMCell",
                   "--timesteps", "12", "--units", "4", "--features", "2", "--batch-size", "2",
                   "--plot", str(plot)])
    out = capsys.readouterr().out
    assert status == 0
    rows = [line.split() for line in out.splitlines()]
    table = {r[0]: r for r in rows if r and r[0] in ("SimpleRNN", "LayerNormLSTMCell")}
    assert set(table) == {"SimpleRNN", "LayerNormLSTMCell"}
    assert all(r[1] in ("healthy", "vanishing", "exploding", "nan") for r in table.values())
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


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
