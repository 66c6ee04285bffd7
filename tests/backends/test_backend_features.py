"""On JAX and PyTorch: dropout, Zoneout and stateful layers, mixed precision, batch-norm
statistics, the diagnostics, streaming and export behave as on TensorFlow.

What is compared with TensorFlow's numbers lives in `test_cross_backend.py`; these check the
features whose numbers are random draws or whose result is a property (batch invariance,
statistics kept out of padding, dropout inactive at inference, a clear error).
"""

import keras
import numpy as np
import pytest

import rnncells
from rnncells import diagnostics


def _x(batch=4, steps=6, features=3, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, steps, features)).astype("float32")


def _model(layer, steps=6, features=3):
    inputs = keras.Input((steps, features))
    return keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))


def _fit(model, x, epochs=2):
    y = np.ones((len(x), 1), "float32")
    model.compile(keras.optimizers.Adam(0.01), "mse")
    return model.fit(x, y, batch_size=len(x) // 2, epochs=epochs, verbose=0).history["loss"]


@pytest.mark.parametrize("make_cell", [
    lambda: rnncells.LayerNormLSTMCell(4, dropout=0.3, recurrent_dropout=0.3),
    lambda: rnncells.Zoneout(rnncells.LayerNormLSTMCell(4), rate=0.3),
    lambda: rnncells.LayerNormGRUCell(4, recurrent_dropconnect=0.3),
], ids=["dropout", "zoneout", "dropconnect"])
@pytest.mark.parametrize("layer", [keras.layers.RNN, rnncells.FusedRNN])
def test_random_draws_train_inside_compiled_loops_and_stop_at_inference(make_cell, layer):
    x = _x()
    model = _model(layer(make_cell()))
    if (keras.backend.backend() == "jax" and layer is keras.layers.RNN
            and isinstance(model.layers[1].cell, rnncells.Zoneout)):
        # a new mask per step cannot be drawn inside lax.scan: a clear error, naming FusedRNN
        with pytest.raises(RuntimeError, match="FusedRNN"):
            _fit(model, x)
        return
    losses = _fit(model, x)
    assert np.all(np.isfinite(losses))
    # inference is deterministic (no draw): two calls agree
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


def test_stateful_fused_rnn_continues_where_it_stopped():
    x = _x(batch=2, steps=6)
    whole = rnncells.FusedRNN(rnncells.LayerNormGRUCell(3), return_sequences=True)
    expected = keras.ops.convert_to_numpy(whole(x))
    stateful = rnncells.FusedRNN(rnncells.LayerNormGRUCell(3), return_sequences=True,
                                 stateful=True)
    stateful(x[:, :3])
    stateful.set_weights(whole.get_weights())
    stateful.reset_state()
    halves = [keras.ops.convert_to_numpy(stateful(x[:, :3])),
              keras.ops.convert_to_numpy(stateful(x[:, 3:]))]
    np.testing.assert_allclose(np.concatenate(halves, axis=1), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("make_cell", [lambda: rnncells.LayerNormLSTMCell(4),
                                       lambda: rnncells.BatchNormGRUCell(4)],
                         ids=["layer_norm", "batch_norm"])
def test_mixed_float16_fits(make_cell):
    keras.mixed_precision.set_global_policy("mixed_float16")
    model = _model(rnncells.FusedRNN(make_cell()))
    losses = _fit(model, _x(batch=8))
    assert np.all(np.isfinite(losses))
    assert model.layers[1].compute_dtype == "float16"


def test_batch_norm_inference_does_not_depend_on_the_batch_after_a_fit():
    x = _x(batch=8, seed=1)
    model = _model(rnncells.FusedRNN(rnncells.BatchNormLSTMCell(4, max_steps=6)))
    _fit(model, x)
    assert diagnostics.check_batch_invariance(model, x)


def test_batch_norm_statistics_leave_padding_out():
    """Statistics of a padded batch = those of the same rows without the padding."""
    x = _x(batch=4, steps=6, seed=2)
    padded = x.copy()
    padded[2:, 4:] = 0.0  # rows 2 and 3 are 4 steps long

    def moving(batch):
        keras.utils.set_random_seed(0)  # the same weights for every batch
        cell = rnncells.BatchNormGRUCell(3, max_steps=6, momentum=0.5)
        model = keras.Sequential([keras.Input((6, 3)), keras.layers.Masking(0.0),
                                  rnncells.FusedRNN(cell)])
        model(batch, training=True)
        return cell, [keras.ops.convert_to_numpy(v) for v in cell.non_trainable_weights]

    cell, padded_stats = moving(padded)
    _, full_stats = moving(x)
    _, first_rows = moving(x[:2])
    for name, p, f, s in zip([v.name for v in cell.non_trainable_weights], padded_stats,
                             full_stats, first_rows):
        # steps 0-3: every row is real, the same statistics as without padding
        np.testing.assert_allclose(p[:4], f[:4], rtol=1e-5, atol=1e-6, err_msg=name)
        if name.startswith("kernel_norm_moving"):  # x @ W at steps 4-5: rows 0 and 1 only
            np.testing.assert_allclose(p[4:6], s[4:6], rtol=1e-5, atol=1e-6, err_msg=name)


def test_batch_norm_skips_a_non_finite_batch_with_a_warning():
    cell = rnncells.BatchNormLSTMCell(3, max_steps=4)
    layer = rnncells.FusedRNN(cell)
    x = _x(batch=4, steps=4)
    layer(x, training=True)
    before = [keras.ops.convert_to_numpy(v) for v in cell.non_trainable_weights]
    bad = x.copy()
    bad[0, 0, 0] = np.nan  # non-finite from step 0 on (the state carries it)
    with pytest.warns(UserWarning, match="non-finite"):
        layer(bad, training=True)
    after = [keras.ops.convert_to_numpy(v) for v in cell.non_trainable_weights]
    for b, a in zip(before, after):
        np.testing.assert_array_equal(b, a)


def test_diagnostics_run_with_this_backends_gradients():
    x = _x()
    model = _model(rnncells.FusedRNN(rnncells.IndRNNCell(4)))
    flow = diagnostics.gradient_flow(model, x)
    assert flow.verdict in ("healthy", "vanishing", "exploding")
    assert np.all(np.isfinite(flow.state_grad_norms)) and flow.state_grad_norms[-1] > 0
    assert diagnostics.unit_health(model, x).relu_units == 4
    gap = diagnostics.train_inference_gap(
        _model(rnncells.FusedRNN(rnncells.BatchNormLSTMCell(4))), x)
    assert np.isfinite(gap.output_gap)
    watcher = diagnostics.GradientHealth(x[:2], np.ones((2, 1), "float32"), warn=False)
    model.compile(keras.optimizers.SGD(0.01), "mse")
    history = model.fit(x, np.ones((len(x), 1), "float32"), epochs=1, verbose=0,
                        callbacks=[watcher])
    assert history.history["weight_grad_norm"][0] > 0


def test_gradient_flow_norms_equal_a_finite_difference():
    """dL/dh_0 from this backend's autodiff against a central difference of the loss."""
    cell = rnncells.LayerNormSimpleRNNCell(3)
    x = _x(batch=1, steps=4)
    flow = diagnostics.gradient_flow(cell, x, loss="sum")
    layer = keras.layers.RNN(cell, return_sequences=True)
    eps, grads = 1e-2, []
    for i in range(3):
        values = []
        for sign in (1, -1):
            h0 = np.zeros((1, 3), "float32")
            h0[0, i] = sign * eps
            out = layer(x, initial_state=[keras.ops.convert_to_tensor(h0)])
            values.append(float(keras.ops.convert_to_numpy(keras.ops.sum(out))))
        grads.append((values[0] - values[1]) / (2 * eps))
    np.testing.assert_allclose(flow.state_grad_norms[0], np.linalg.norm(grads), rtol=1e-2)


def test_streaming_model_steps_as_predict():
    x = _x(batch=2, steps=5)
    model = keras.Sequential([keras.Input((5, 3)), rnncells.FusedRNN(
        rnncells.LayerNormLSTMCell(4), return_sequences=True), keras.layers.Dense(2)])
    expected = model.predict(x, verbose=0)
    step = rnncells.streaming_model(model)
    states = rnncells.streaming.initial_states(step, 2)
    outputs = []
    for t in range(5):  # NumPy steps, tensor states: the documented loop as written
        y_t, *states = step([x[:, t], *states])
        outputs.append(keras.ops.convert_to_numpy(y_t))
    np.testing.assert_allclose(np.stack(outputs, 1), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX's ONNX converter")
def test_onnx_export_on_jax_without_jax2onnx_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "jax2onnx", None)
    model = _model(rnncells.FusedRNN(rnncells.MinGRUCell(3)))
    with pytest.raises(ImportError, match="pip install jax2onnx"):
        rnncells.export(model, tmp_path / "m.onnx", format="onnx")


def test_export_of_a_tensorflow_format_names_the_backend_to_use(tmp_path):
    model = _model(rnncells.FusedRNN(rnncells.LayerNormGRUCell(3)))
    with pytest.raises(ValueError, match="KERAS_BACKEND=tensorflow"):
        rnncells.export(model, tmp_path / "m.tflite", format="litert")


def test_onnx_export_runs_in_onnxruntime(tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    model = _model(rnncells.FusedRNN(rnncells.LayerNormGRUCell(3), return_sequences=True))
    x = _x()
    path = rnncells.export(model, tmp_path / "m.onnx", format="onnx")
    session = onnxruntime.InferenceSession(str(path))
    y = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(y, model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


def test_projection_inside_or_before_the_loop_gives_the_same_numbers():
    """`ops_loop.run_sequence` with the projection hoisted (GPUs, PyTorch) and inside the loop
    (a JAX CPU): outputs and input gradients agree; Zoneout always hoists (its draws)."""
    from rnncells.diagnostics.autodiff import input_gradient
    from rnncells.kernels import ops_loop

    cell = rnncells.LayerNormGRUCell(4)
    layer = keras.layers.RNN(cell)
    x = _x()
    layer(x)
    states = [keras.ops.zeros((4, 4))]
    results = []
    for hoist in (True, False):
        def loss(inputs, hoist=hoist):
            _, outputs, _ = ops_loop.run_sequence(cell, inputs, states, hoist=hoist)
            return keras.ops.sum(outputs * keras.ops.arange(4, dtype="float32")), outputs
        outputs, grad = input_gradient(loss, x)
        results.append((keras.ops.convert_to_numpy(outputs), keras.ops.convert_to_numpy(grad)))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    zoneout = rnncells.Zoneout(rnncells.LayerNormGRUCell(4), rate=0.2)
    assert ops_loop.hoists_projection(zoneout)
    expected = keras.backend.backend() != "jax"  # on this CPU: JAX keeps it in the loop
    assert ops_loop.hoists_projection(cell) is expected


def test_a_users_cell_on_the_public_protocol_runs_fused_with_rnn_numbers():
    from rnncells.diagnostics.autodiff import input_gradient
    from tests.user_cell import LayerNormIndRNN

    x = _x()
    fused = rnncells.FusedRNN(LayerNormIndRNN(5), return_sequences=True, use_fused=True)
    fused(x)
    rnn = keras.layers.RNN(LayerNormIndRNN(5), return_sequences=True)
    rnn(x)
    rnn.set_weights(fused.get_weights())
    results = []
    for layer in (fused, rnn):
        def loss(inputs, layer=layer):
            y = layer(inputs)
            return keras.ops.sum(y * keras.ops.arange(5, dtype="float32")), y
        y, grad = input_gradient(loss, x)
        results.append((keras.ops.convert_to_numpy(y), keras.ops.convert_to_numpy(grad)))
    assert fused.last_plan.route == "loop"
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_check_cell_passes_a_user_cell():
    from rnncells.testing import check_cell
    from tests.user_cell import LayerNormIndRNN

    report = check_cell(lambda: LayerNormIndRNN(3), max_examples=2)
    assert report.passed and report.backend == keras.backend.backend()
    assert report.skipped == ["memory"]


def test_check_cell_masking_and_fused_equality_on_a_conv_cell():
    # masks on convolutional states: Keras's JAX loop needs one mask axis per state axis
    from rnncells.testing import check_cell

    report = check_cell(lambda: rnncells.ConvGRUCell(1, 2, 3, padding="same"), (4, 3),
                        max_examples=2, properties=["masking", "fused_equals_rnn"])
    assert report["masking"].passed and report["fused_equals_rnn"].passed


def test_check_cell_catches_a_batch_statistics_mutant():
    from rnncells.testing import check_cell
    from tests.testing.broken_cells import BatchStatisticsCell

    with pytest.raises(AssertionError, match="property 'batch_independence'"):
        check_cell(lambda: BatchStatisticsCell(3), properties=["batch_independence"],
                   max_examples=2)


def test_diagnose_command_runs_on_this_backend():
    import os
    import subprocess
    import sys

    env = {**os.environ, "KERAS_BACKEND": keras.backend.backend()}
    result = subprocess.run(
        [sys.executable, "-m", "rnncells", "diagnose", "--cell", "LSTM", "--cell",
         "LayerNormLSTMCell", "--timesteps", "20", "--units", "4", "--no-plot"],
        capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "LayerNormLSTMCell" in result.stdout and "LSTM" in result.stdout


def test_check_batch_invariance_flags_batch_statistics_at_inference():
    from tests.testing.broken_cells import BatchStatisticsCell

    x = _x(batch=6, seed=2)
    report = diagnostics.check_batch_invariance(_model(keras.layers.RNN(BatchStatisticsCell(3))),
                                                x)
    assert not report.passed and report.max_abs_diff > report.tolerance


def test_torch_compile_option_gives_the_uncompiled_numbers_and_round_trips(monkeypatch):
    """FusedRNN(torch_compile=True): on PyTorch the loop's step goes through torch.compile
    (a C++ compiler builds it), elsewhere nothing changes; either way the outputs and one
    training step agree with the plain layer (inductor may reorder float32 sums), and the
    option survives get_config / from_config."""
    compiled_steps = []
    if keras.backend.backend() == "torch":
        import torch

        real_compile = torch.compile
        monkeypatch.setattr(torch, "compile", lambda fn, **kw: (
            compiled_steps.append(fn), real_compile(fn, **kw))[1])
    x = _x()
    y = np.ones((4, 1), "float32")
    models, layers = [], []
    for torch_compile in (False, True):
        keras.utils.set_random_seed(0)
        layer = rnncells.FusedRNN(rnncells.LayerNormLSTMCell(5), torch_compile=torch_compile)
        model = _model(layer)
        model.compile(keras.optimizers.SGD(0.1), "mse")
        models.append(model)
        layers.append(layer)
    models[1].set_weights(models[0].get_weights())
    plain = keras.ops.convert_to_numpy(models[0](x))
    assert compiled_steps == []
    compiled = keras.ops.convert_to_numpy(models[1](x))
    assert len(compiled_steps) == (1 if keras.backend.backend() == "torch" else 0)
    np.testing.assert_allclose(compiled, plain, atol=5e-4)
    for model in models:
        model.train_on_batch(x, y)
    for a, b in zip(models[0].get_weights(), models[1].get_weights()):
        np.testing.assert_allclose(b, a, atol=5e-4)
    assert rnncells.FusedRNN.from_config(layers[1].get_config()).torch_compile is True
    assert "torch_compile" not in layers[0].get_config()
    with pytest.raises(ValueError, match="torch_compile"):
        rnncells.FusedRNN(rnncells.LayerNormLSTMCell(5), torch_compile="yes")
