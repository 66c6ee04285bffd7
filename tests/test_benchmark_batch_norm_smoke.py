"""Smoke test of benchmarks/batch_norm.py on a tiny shape (seconds; timings never asserted)."""

import io

from benchmarks import batch_norm


def test_batch_norm_benchmark_times_the_paths_and_prints_the_ratios():
    out = io.StringIO()
    medians = batch_norm.main(["--batch", "2", "--timesteps", "3", "--features", "2",
                               "--units", "2", "--warmup", "0", "--repeats", "1", "--paths",
                               "RNN(BatchNormGRUCell)", "FusedRNN(BatchNormGRUCell)"], out=out)
    assert set(medians) == {"RNN(BatchNormGRUCell)", "FusedRNN(BatchNormGRUCell)"}
    assert all(seconds > 0 for seconds in medians.values())
    assert "FusedRNN(BatchNormGRUCell) / RNN(BatchNormGRUCell)" in out.getvalue()
