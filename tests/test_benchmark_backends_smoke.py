"""Smoke test of `python -m benchmarks.backends` on the test run's backend (tiny sizes, one
round): the rows and the JSON it writes. Nothing here measures speed."""

import json

import keras
import pytest

from benchmarks import backends


def test_a_tiny_run_writes_one_row_per_cell_and_mode(tmp_path, capsys):
    backend = keras.backend.backend()
    result = backends.main(["--backend", backend, "--cells", "LayerNormGRUCell",
                            "--batch", "2", "--timesteps", "3", "--input", "2", "--units", "2",
                            "--warmup", "1", "--repeats", "1", "--out", str(tmp_path)])
    written = list(tmp_path.glob(f"backends_{backend}_cpu_*.json"))
    assert len(written) == 1
    assert json.loads(written[0].read_text())["rows"] == json.loads(json.dumps(result["rows"]))
    assert [(r["cell"], r["mode"]) for r in result["rows"]] == [
        ("LayerNormGRUCell", "train"), ("LayerNormGRUCell", "infer")]
    for row in result["rows"]:
        assert set(row["median_ms"]) == {"rnn", "fused", "keras"}
        assert all(ms > 0 for ms in row["median_ms"].values())
        assert row["fused_over_rnn"] == pytest.approx(
            row["median_ms"]["fused"] / row["median_ms"]["rnn"])
    assert "fused/rnn" in capsys.readouterr().out


def test_torch_compile_is_refused_off_pytorch():
    with pytest.raises(SystemExit):
        backends._parse(["--backend", "jax", "--torch-compile"])
