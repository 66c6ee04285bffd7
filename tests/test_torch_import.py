"""`from_torch`: torch nn.LSTM / nn.GRU / nn.RNN as Keras models with the same outputs."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import keras  # noqa: E402

from rnncells.torch_import import from_torch  # noqa: E402

BATCH, STEPS, FEATURES, HIDDEN = 3, 5, 4, 6
ATOL = 1e-5

CELLS = {
    "lstm": lambda **kw: torch.nn.LSTM(FEATURES, HIDDEN, **kw),
    "gru": lambda **kw: torch.nn.GRU(FEATURES, HIDDEN, **kw),
    "rnn_tanh": lambda **kw: torch.nn.RNN(FEATURES, HIDDEN, nonlinearity="tanh", **kw),
    "rnn_relu": lambda **kw: torch.nn.RNN(FEATURES, HIDDEN, nonlinearity="relu", **kw),
}

# (num_layers, bidirectional, bias, batch_first): each option value appears at least once
# for every cell type, and the last row has them all at their non-default value together.
OPTIONS = [
    (1, False, True, True),
    (1, True, False, True),
    (2, False, False, False),
    (2, True, True, False),
]


def _torch_module(cell, seed=0, **kwargs):
    torch.manual_seed(seed)
    return CELLS[cell](**kwargs).eval()


def _inputs(seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((BATCH, STEPS, FEATURES)).astype("float32")


def _run_torch(module, x_batch_first):
    """torch `output` and `h_n` for a batch-first numpy input, output made batch-first."""
    x = torch.from_numpy(x_batch_first)
    if not module.batch_first:
        x = x.transpose(0, 1)
    with torch.no_grad():
        output, state = module(x)
    h_n = state[0] if isinstance(state, tuple) else state
    output = output.numpy()
    if not module.batch_first:
        output = np.swapaxes(output, 0, 1)
    return output, h_n.numpy()


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize(
    "num_layers,bidirectional,bias,batch_first", OPTIONS,
    ids=["l1", "l1-bidir-nobias", "l2-nobias-timefirst", "l2-bidir-timefirst"],
)
def test_outputs_match_torch(cell, num_layers, bidirectional, bias, batch_first):
    module = _torch_module(
        cell, num_layers=num_layers, bidirectional=bidirectional, bias=bias,
        batch_first=batch_first,
    )
    x = _inputs()
    expected, _ = _run_torch(module, x)
    model = from_torch(module)

    directions = 2 if bidirectional else 1
    assert model.output_shape == (None, None, directions * HIDDEN)
    assert len(model.layers) == num_layers
    actual = keras.ops.convert_to_numpy(model(x))
    assert actual.shape == expected.shape == (BATCH, STEPS, directions * HIDDEN)
    np.testing.assert_allclose(actual, expected, atol=ATOL, rtol=0)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_return_sequences_false_is_last_step(cell):
    module = _torch_module(cell, num_layers=2, batch_first=True)
    x = _inputs()
    expected, h_n = _run_torch(module, x)
    actual = keras.ops.convert_to_numpy(from_torch(module, return_sequences=False)(x))
    np.testing.assert_allclose(actual, expected[:, -1], atol=ATOL, rtol=0)
    np.testing.assert_allclose(actual, h_n[-1], atol=ATOL, rtol=0)


def test_return_sequences_false_bidirectional_is_final_states():
    module = _torch_module("gru", num_layers=2, bidirectional=True, batch_first=True)
    x = _inputs()
    _, h_n = _run_torch(module, x)
    actual = keras.ops.convert_to_numpy(from_torch(module, return_sequences=False)(x))
    np.testing.assert_allclose(actual, np.concatenate([h_n[-2], h_n[-1]], -1), atol=ATOL)


def test_dropout_becomes_keras_dropout_between_layers():
    module = _torch_module("lstm", num_layers=3, dropout=0.4, batch_first=True)
    model = from_torch(module, name="imported")
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["LSTM", "Dropout", "LSTM", "Dropout", "LSTM"]
    assert [model.layers[i].rate for i in (1, 3)] == [0.4, 0.4]
    assert model.name == "imported"
    assert model.layers[0].name == "imported_l0"
    x = _inputs()
    expected, _ = _run_torch(module, x)  # eval(): dropout inactive, as in Keras inference
    actual = keras.ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(actual, expected, atol=ATOL, rtol=0)


def test_double_precision_module_is_converted():
    module = _torch_module("gru", batch_first=True).double()
    x = _inputs()
    with torch.no_grad():
        expected = module(torch.from_numpy(x).double())[0].numpy()
    actual = keras.ops.convert_to_numpy(from_torch(module)(x))
    np.testing.assert_allclose(actual, expected, atol=ATOL, rtol=0)


def test_weights_are_copied_not_shared():
    module = _torch_module("rnn_tanh", batch_first=True)
    x = _inputs()
    model = from_torch(module)
    before = keras.ops.convert_to_numpy(model(x))
    with torch.no_grad():
        module.weight_ih_l0.add_(1.0)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(x)), before)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_relu"])
def test_keras_file_round_trip(cell, tmp_path):
    module = _torch_module(cell, num_layers=2, bidirectional=True, dropout=0.2)
    model = from_torch(module, name=f"{cell}_from_torch")
    x = _inputs()
    path = tmp_path / f"{cell}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)),
        atol=1e-7, rtol=0,
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x)), _run_torch(module, x)[0],
        atol=ATOL, rtol=0,
    )


def test_proj_size_raises():
    module = torch.nn.LSTM(FEATURES, HIDDEN, proj_size=3)
    with pytest.raises(ValueError, match=r"proj_size=3"):
        from_torch(module)


@pytest.mark.parametrize(
    "module",
    [torch.nn.Linear(FEATURES, HIDDEN), torch.nn.LSTMCell(FEATURES, HIDDEN), "lstm"],
    ids=["Linear", "LSTMCell", "str"],
)
def test_other_objects_raise_naming_module(module):
    with pytest.raises(ValueError, match=r"`module`.*torch\.nn\.LSTM, torch\.nn\.GRU"):
        from_torch(module)


def test_bad_return_sequences_raises():
    with pytest.raises(ValueError, match="return_sequences"):
        from_torch(_torch_module("gru"), return_sequences="yes")


def test_torch_not_imported_at_module_import():
    import ast
    import inspect

    import rnncells.torch_import as torch_import

    tree = ast.parse(inspect.getsource(torch_import))
    top_level = [
        node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
    ]
    names = {alias.name.split(".")[0] for node in top_level for alias in node.names}
    names |= {node.module.split(".")[0] for node in top_level
              if isinstance(node, ast.ImportFrom) and node.module}
    assert "torch" not in names
