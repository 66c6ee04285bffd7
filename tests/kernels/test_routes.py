"""FusedRNN(use_fused="auto") takes the route the measured table says is fastest.

The table itself is written by `python -m benchmarks.sweep --routes` (its smoke test is in
tests/test_benchmarks_smoke.py); here: the lookup, and that each call runs what it chose
(spies on the kernels and on the per-step cell call).
"""

import numpy as np
import pytest

import rnncells
from rnncells import FusedRNN
from rnncells.kernels import loop as loop_module
from rnncells.layers import fused_rnn, route_table, routes

TABLE = {"LayerNormGRUCell": {
    "train": [(1, 32, 25, "fused_xla", 9.0), (32, 32, 25, "fused", 1.2),
              (256, 512, 25, "per_step", 1.0)],
    "infer": [(1, 32, 25, "fused", 3.0)],
}}
#: The same point measured at two T (the route flips with T), and a 4-tuple entry of the
#: table's earlier format (measured at T=25).
T_TABLE = {"LayerNormLSTMCell": {
    "train": [(128, 128, 25, "fused", 1.3), (128, 128, 100, "per_step", 1.0),
              (8, 8, "fused_xla", 2.0)],
}}


@pytest.mark.parametrize("batch,units,training,expected", [
    (1, 32, True, "fused_xla"),       # a measured point
    (2, 16, True, "fused_xla"),       # nearest in log2(batch), log2(units)
    (24, 48, True, "fused"),
    (512, 1024, True, "per_step"),    # beyond the grid: the nearest corner
    (None, 32, True, "fused"),        # unknown batch: taken as 32
    (256, 512, False, "fused"),       # the inference points only
])
def test_the_nearest_measured_point_decides(batch, units, training, expected):
    assert routes.choose_route("LayerNormGRUCell", training, batch, units, "CPU",
                               TABLE, timesteps=25) == expected


@pytest.mark.parametrize("batch,units,timesteps,expected", [
    (128, 128, 25, "fused"),          # the measured points, each at its own T
    (128, 128, 100, "per_step"),
    (128, 128, 40, "fused"),          # nearer T=25 than T=100 in log2(T)
    (128, 128, 60, "per_step"),       # nearer T=100
    (256, 128, 800, "per_step"),      # beyond: the nearest T
    (128, 128, None, "per_step"),     # unknown T: taken as DEFAULT_TIMESTEPS (100)
    (8, 8, 25, "fused_xla"),          # a 4-tuple entry is a T=25 point
    (8, 8, 200, "fused_xla"),         # ... and still the nearest in batch and units
])
def test_the_nearer_timesteps_decide_between_points_of_one_shape(batch, units, timesteps,
                                                                   expected):
    assert routes.DEFAULT_TIMESTEPS == 100
    assert routes.choose_route("LayerNormLSTMCell", True, batch, units, "CPU", T_TABLE,
                               timesteps=timesteps) == expected


def test_table_entries_read_as_five_fields_and_bad_ones_are_rejected():
    assert routes.as_point((8, 16, "fused", 1.5)) == (8, 16, routes.LEGACY_TIMESTEPS,
                                                      "fused", 1.5)
    assert routes.as_point([8, 16, 100, "fused", 1.5]) == (8, 16, 100, "fused", 1.5)
    with pytest.raises(ValueError, match=r"4 or 5 fields.*\(8, 'fused'\)"):
        routes.as_point((8, "fused"))


def test_unmeasured_cells_and_gpus_get_no_route_and_the_kernel_defaults(monkeypatch):
    assert routes.choose_route("SomeNewCell", True, 32, 128, "CPU", TABLE) is None
    assert routes.choose_route("LayerNormGRUCell", True, 256, 512, "GPU", TABLE) is None
    monkeypatch.setattr(route_table, "MEASURED", {})
    layer = FusedRNN(rnncells.LayerNormGRUCell(3))
    layer(np.zeros((2, 4, 3), "float32"))
    assert layer.last_plan == fused_rnn.Plan("loop", "auto", "auto")


def test_the_shipped_table_names_only_known_routes_and_cells():
    for cell, modes in route_table.MEASURED.items():
        assert isinstance(getattr(rnncells, cell), type), cell
        for mode, points in modes.items():
            assert mode in ("train", "infer")
            points = [routes.as_point(p) for p in points]
            assert {p[3] for p in points} <= set(routes.ROUTES), (cell, mode)
            assert all(min(p[:3]) >= 1 for p in points), (cell, mode)
            assert len({p[:3] for p in points}) == len(points), (cell, mode)  # no duplicates


def _spies(monkeypatch, cell):
    calls = []
    for owner, name in ((loop_module, "run_sequence"), (cell, "call")):
        original = getattr(owner, name)

        def spy(*args, _name=name, _original=original, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(owner, name, spy)
    return calls


def test_auto_runs_the_route_of_the_table_and_use_fused_true_ignores_it(monkeypatch):
    monkeypatch.setattr(route_table, "MEASURED", {"LayerNormGRUCell": {
        "train": [(2, 3, "per_step", 1.0)], "infer": [(2, 3, "fused_batched", 1.0)]}})
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    auto = FusedRNN(rnncells.LayerNormGRUCell(3))
    forced = FusedRNN(rnncells.LayerNormGRUCell(3), use_fused=True)
    auto(x)
    forced(x)
    forced.set_weights(auto.get_weights())
    calls = _spies(monkeypatch, auto.cell)
    trained = auto(x, training=True)
    assert auto.last_plan == fused_rnn.Plan("per_step")
    assert set(calls) == {"call"} and len(calls) >= 4  # keras.layers.RNN's per-step loop
    calls.clear()
    inferred = auto(x, training=False)
    assert auto.last_plan == fused_rnn.Plan("loop", False, "batched")  # as measured
    assert calls == ["run_sequence"]
    forced_calls = _spies(monkeypatch, forced.cell)
    np.testing.assert_allclose(forced(x, training=True), trained, atol=1e-5)
    np.testing.assert_allclose(forced(x, training=False), inferred, atol=1e-5)
    assert forced.last_plan == fused_rnn.Plan("loop") and "call" not in forced_calls


def test_auto_passes_the_number_of_timesteps_of_the_call(monkeypatch):
    monkeypatch.setattr(route_table, "MEASURED", {"LayerNormGRUCell": {
        "infer": [(2, 3, 4, "per_step", 1.0), (2, 3, 64, "fused", 1.2)]}})
    layer = FusedRNN(rnncells.LayerNormGRUCell(3))
    layer(np.zeros((2, 4, 3), "float32"))
    assert layer.last_plan == fused_rnn.Plan("per_step")
    layer(np.zeros((2, 48, 3), "float32"))  # nearer T=64 than T=4
    assert layer.last_plan == fused_rnn.Plan("loop", False, "auto")


def test_batch_norm_cells_follow_the_table_except_with_a_mask(monkeypatch):
    """Running-statistics cells: the statistics kernel or, where it measured slower, the
    per-step loop; a masked call always takes the kernel (the only route that keeps padded
    entries out of the statistics), and so does use_fused=True."""
    monkeypatch.setattr(route_table, "MEASURED", {"BatchNormGRUCell": {
        "train": [(2, 3, 4, "fused", 2.0)], "infer": [(2, 3, 4, "per_step", 1.0)]}})
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    mask = np.array([[True] * 4, [True, True, False, False]])
    auto = FusedRNN(rnncells.BatchNormGRUCell(3), return_sequences=True)
    forced = FusedRNN(rnncells.BatchNormGRUCell(3), use_fused=True, return_sequences=True)
    auto(x)
    forced(x)
    forced.set_weights(auto.get_weights())
    expected = {}
    for training, route in ((True, "statistics"), (False, "per_step")):
        expected[training] = auto(x, training=training)
        assert auto.last_plan == fused_rnn.Plan(route), training
        auto(x, mask=mask, training=training)
        assert auto.last_plan == fused_rnn.Plan("statistics"), training
    forced.set_weights(auto.get_weights())  # the moving statistics moved in training
    np.testing.assert_allclose(forced(x, training=False), expected[False], atol=1e-5)
    assert forced.last_plan == fused_rnn.Plan("statistics")
