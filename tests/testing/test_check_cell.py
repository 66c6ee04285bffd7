"""`rnncells.testing.check_cell`: it passes every shipped cell (dogfood), and each property
fails on a cell broken the way a real mistake breaks it (tests/testing/broken_cells.py)."""

import keras
import numpy as np
import pytest
from hypothesis import given, settings

import rnncells
from rnncells.testing import PROPERTIES, check_cell, strategies
from tests.properties.registry import MEMORY_SPECS, SPECS
from tests.testing import broken_cells as broken
from tests.user_cell import LayerNormIndRNN


def _scales(spec):
    return (max(spec.min_scale, min(0.1, spec.max_scale / 10)), min(10.0, spec.max_scale))


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_shipped_cell_passes(spec):
    # Two drawn inputs besides the two extremes: the full draw is tests/properties' job.
    report = check_cell(lambda: spec.make(spec.min_units + 1), spec.step_shape(3),
                        input_scale=_scales(spec), max_examples=2)
    assert report.passed
    assert report.skipped == ["memory"]
    assert [r.name for r in report.results] == list(PROPERTIES)
    for result in report.results:
        if result.passed:
            assert result.examples >= (1 if result.name.endswith("round_trip") else 3)


@pytest.mark.parametrize("spec", MEMORY_SPECS, ids=lambda s: s.name)
def test_shipped_cells_at_a_memory_initialization_remember(spec):
    report = check_cell(lambda: spec.make(max(4, spec.min_units)), spec.step_shape(3),
                        input_scale=_scales(spec), expect_memory=True, properties=["memory"])
    assert report["memory"].passed and "min ||d o_T/d s_0||_F" in report["memory"].detail


@pytest.mark.parametrize("make", [lambda: keras.layers.LSTMCell(3),
                                  lambda: keras.layers.GRUCell(3),
                                  lambda: LayerNormIndRNN(3)], ids=["LSTMCell", "GRUCell",
                                                                    "user cell"])
def test_keras_cells_and_a_user_cell_pass(make):
    report = check_cell(make)
    assert report.passed, report
    text = str(report)
    assert "fused_equals_rnn    passed" in text and "memory              skipped" in text


MUTANTS = [
    ("finite", lambda: keras.layers.SimpleRNNCell(
        4, activation=None, recurrent_initializer=keras.initializers.Orthogonal(gain=10.0)),
     {}, "non-finite"),
    ("no_explosion", lambda: rnncells.IndRNNCell(
        4, recurrent_initializer=keras.initializers.Constant(1.5), bias_initializer="ones"),
     {}, "> jacobian_bound"),
    ("bounded_state", lambda: broken.LoudCell(4), {}, "> state_bound"),
    ("memory", lambda: keras.layers.SimpleRNNCell(
        4, recurrent_initializer=keras.initializers.Orthogonal(gain=0.1)),
     {"expect_memory": True}, "< memory_threshold"),
    ("batch_independence", lambda: broken.BatchStatisticsCell(4), {}, "row by row"),
    ("fused_equals_rnn", lambda: broken.FalseClaimGRUCell(4), {}, "gradient"),
    ("masking", lambda: broken.SideEffectCell(4), {}, "unmasked steps alone"),
    ("config_round_trip", lambda: broken.ForgetfulConfigCell(4, gain=3.0), {},
     "leaves out an argument"),
    ("keras_round_trip", lambda: broken.LazySublayerCell(4), {}, "never built"),
]


def test_every_property_has_a_mutant():
    assert sorted(name for name, *_ in MUTANTS) == sorted(PROPERTIES)


@pytest.mark.parametrize("prop,make,options,says", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_each_property_fails_on_its_mutant(prop, make, options, says):
    with pytest.raises(AssertionError) as caught:
        check_cell(make, properties=[prop], **options)
    message = str(caught.value)
    assert message.startswith(f"property '{prop}'") and says in message, message
    if not prop.endswith("round_trip"):
        assert "smallest failing example: steps=" in message


def test_the_healthy_twin_of_the_mutants_passes():
    assert check_cell(lambda: broken.TanhCell(4), properties=[
        "bounded_state", "batch_independence", "masking", "config_round_trip"]).passed


def test_a_failure_is_shrunk_and_repeats_under_its_seed():
    def make():
        return keras.layers.SimpleRNNCell(
            4, recurrent_initializer=keras.initializers.Orthogonal(gain=0.1))

    messages = []
    for _ in range(2):
        with pytest.raises(AssertionError) as caught:
            check_cell(make, properties=["memory"], expect_memory=True, seed=3)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    steps = int(messages[0].split("smallest failing example: steps=")[1].split(",")[0])
    assert steps < 40  # shrunk below the explicit longest case


def test_a_user_bound_is_used():
    make = lambda: rnncells.IndRNNCell(  # noqa: E731
        4, recurrent_initializer=keras.initializers.Constant(1.2), bias_initializer="ones")
    with pytest.raises(AssertionError, match="jacobian_bound 1e\\+03"):
        check_cell(make, properties=["no_explosion"])
    report = check_cell(make, properties=["no_explosion"], jacobian_bound=1e6)
    assert report["no_explosion"].passed and "jacobian_bound 1e+06" in report[
        "no_explosion"].detail


@pytest.mark.parametrize("kwargs,says", [
    ({"properties": ["finit"]}, "`properties`"),
    ({"max_steps": 0}, "`max_steps`"),
    ({"input_scale": (10.0, 0.1)}, "`input_scale`"),
    ({"jacobian_bound": -1.0}, "`jacobian_bound`"),
    ({"step_shape": (0,)}, "`step_shape`"),
])
def test_bad_arguments_name_the_argument(kwargs, says):
    with pytest.raises(ValueError, match=says):
        check_cell(lambda: broken.TanhCell(2), **kwargs)


def test_make_cell_must_be_a_factory():
    with pytest.raises(TypeError, match="`make_cell`.*lambda"):
        check_cell(broken.TanhCell(2))
    with pytest.raises(TypeError, match="`make_cell`.*returned int"):
        check_cell(lambda: 3)


@settings(max_examples=20, deadline=None)
@given(strategies.cases(max_steps=9, max_batch=4, input_scale=(0.5, 2.0)))
def test_cases_stay_in_their_ranges_and_masks_keep_a_step_per_row(case):
    x = case.inputs((2, 3))
    assert x.shape == (case.batch, case.steps, 2, 3) and x.dtype == np.float32
    assert 1 <= case.steps <= 9 and 1 <= case.batch <= 4 and 0.5 <= case.scale <= 2.0
    mask = case.mask()
    assert mask.shape == (case.batch, case.steps) and mask.any(axis=1).all()
    np.testing.assert_array_equal(case.inputs((2, 3)), x)  # a case is its arrays


@settings(max_examples=5, deadline=None)
@given(strategies.sequences((3,), max_steps=4))
def test_sequences_are_arrays(x):
    assert x.ndim == 3 and x.shape[2] == 3 and x.shape[1] <= 4


def test_without_hypothesis_the_import_error_names_the_extra():
    import subprocess
    import sys

    code = "import sys\nsys.modules['hypothesis'] = None\nimport rnncells.testing\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0 and 'rnncells[testing]' in result.stderr, result.stderr
