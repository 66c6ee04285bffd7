"""`check_cell`: the package's property checks, run on anyone's cell (see `rnncells.testing`)."""

import copy
import dataclasses
import math
import os
import tempfile

import keras
import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, example, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Flaky
from keras import ops

from rnncells import _validation as validation
from rnncells.diagnostics.autodiff import gradients
from rnncells.diagnostics.batch_invariance import check_batch_invariance
from rnncells.diagnostics.probe import SequenceProbe
from rnncells.testing import strategies

#: Every property `check_cell` knows, in the order it runs them.
PROPERTIES = ("finite", "no_explosion", "bounded_state", "memory", "batch_independence",
              "fused_equals_rnn", "masking", "config_round_trip", "keras_round_trip")

_DESCRIPTIONS = {
    "finite": "outputs, states and gradients are finite",
    "no_explosion": "||d o_T/d s_t||_F / sqrt(n) <= jacobian_bound for every t >= 1",
    "bounded_state": "|output| and |state| <= state_bound at every step",
    "memory": "||d o_T/d s_0||_F >= memory_threshold (the gradient reaches step 1)",
    "batch_independence": "a row's inference output does not depend on the other rows",
    "fused_equals_rnn": "FusedRNN(cell) == keras.layers.RNN(cell): outputs and gradients",
    "masking": "a masked step leaves the state unchanged (it is skipped)",
    "config_round_trip": "from_config(get_config()): same config, same outputs",
    "keras_round_trip": "a .keras file saves and loads with the same outputs",
}


@dataclasses.dataclass
class PropertyResult:
    """The outcome of one property.

    Attributes:
        name: the property (one of `PROPERTIES`).
        passed: True, or None when the property was not run (`detail` says why). A failed
            property raises instead of returning.
        examples: how many inputs it was checked on.
        detail: the worst value measured against its limit, or why it was skipped.
    """

    name: str
    passed: bool | None
    examples: int = 0
    detail: str = ""


@dataclasses.dataclass
class CellReport:
    """What `check_cell` found: one `PropertyResult` per property, in `PROPERTIES` order."""

    cell: str
    backend: str
    seed: int
    results: list

    @property
    def passed(self):
        """Every property that ran passed (skipped ones are listed in `skipped`)."""
        return all(r.passed is not False for r in self.results)

    @property
    def skipped(self):
        return [r.name for r in self.results if r.passed is None]

    def __getitem__(self, name):
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(name)

    def __str__(self):
        lines = [f"check_cell({self.cell}) on {self.backend}, seed {self.seed}:"]
        for r in self.results:
            status = "passed" if r.passed else "skipped"
            count = f"{r.examples} example{'s' if r.examples != 1 else ''}" if r.passed else ""
            lines.append(f"  {r.name:<19} {status:<8} {count:<12} {r.detail}".rstrip())
        return "\n".join(lines)


class _Failed(Exception):
    """Raised inside a Hypothesis search: the property does not hold on this case."""


@dataclasses.dataclass
class _Options:
    step_shape: tuple
    max_steps: int
    max_batch: int
    input_scale: tuple
    expect_memory: bool
    memory_threshold: float
    jacobian_bound: float
    state_bound: float
    rtol: float
    atol: float
    max_examples: int
    seed: int


def _numpy(value):
    return np.asarray(ops.convert_to_numpy(ops.cast(value, "float32")), "float64")


def _close(actual, expected, opts):
    """(ok, worst difference, tolerance): |a - e| <= atol + rtol * max|e| elementwise."""
    actual, expected = _numpy(actual), _numpy(expected)
    if actual.shape != expected.shape:
        return False, float("inf"), 0.0
    tolerance = opts.atol + opts.rtol * (float(np.max(np.abs(expected))) if expected.size
                                         else 0.0)
    with np.errstate(invalid="ignore"):
        worst = float(np.max(np.abs(actual - expected))) if actual.size else 0.0
    if not np.isfinite(worst):
        worst = float("inf")
    return worst <= tolerance, worst, tolerance


def _seeded(make_cell, seed):
    """A new cell from the factory, its weights drawn under `seed`."""
    keras.utils.set_random_seed(seed)
    cell = make_cell()
    if not (hasattr(cell, "state_size") and callable(getattr(cell, "call", None))):
        raise TypeError(
            "Invalid value for argument `make_cell`: expected a function returning a new "
            "Keras recurrent cell (a layer with `state_size` and `call(inputs, states)`), "
            f"received one that returned {type(cell).__name__}.")
    return cell


def _compile(fn, step_shape, masked=False):
    """`fn(x)` (or `fn(x, mask)`) in one `tf.function` on TensorFlow, traced once for any
    batch and length; `fn` itself on the other backends."""
    if keras.backend.backend() != "tensorflow":
        return fn
    import tensorflow as tf

    signature = [tf.TensorSpec((None, None, *step_shape), tf.float32)]
    if masked:
        signature.append(tf.TensorSpec((None, None), tf.bool))
    return tf.function(fn, input_signature=signature)


def _build(layer, opts):
    layer(np.zeros((1, 2, *opts.step_shape), "float32"), training=False)
    return layer


def _reference(cell, step_shape, **kwargs):
    """`keras.layers.RNN(cell, **kwargs)`; `rnncells.ConvRNN` (the same loop, with shaped
    outputs) for a cell whose output has more than one axis (a convolutional cell), which
    keras.layers.RNN refuses."""
    if not cell.built:
        cell.build((None, *step_shape))
    size = getattr(cell, "output_size", None)
    if size is None or isinstance(size, int):
        return keras.layers.RNN(cell, **kwargs)
    from rnncells.layers.conv_rnn import ConvRNN

    return ConvRNN(cell, **kwargs)


def _rnn(cell, step_shape):
    return _reference(cell, step_shape, return_sequences=True, return_state=True)


class _Searches:
    """Runs the properties on cells made by one factory, sharing what can be shared."""

    def __init__(self, make_cell, opts):
        self.make_cell = make_cell
        self.opts = opts
        self._traces = {}
        self._probe = None
        self._pair = None
        self._gradient_fns = {}
        self._forward_fns = {}

    # -- Hypothesis --------------------------------------------------------------------------

    def search(self, name, check, min_batch=1):
        """Run `check(case) -> (ok, value, message)` on drawn cases; raise AssertionError
        with the smallest failing case, or return a PropertyResult with the worst value."""
        opts = self.opts
        batch = max(opts.max_batch, min_batch)
        low, high = opts.input_scale
        # The longest sequences at both ends of the input range are always tried.
        extremes = [strategies.Case(opts.max_steps, batch, float(scale), case_seed)
                    for scale, case_seed in ((high, opts.seed), (low, opts.seed + 1))]
        seen = {"count": 0, "worst": None, "message": ""}
        failure = self._hypothesis(check, min_batch, extremes, seen)
        if failure is not None and failure["case"] in extremes:
            # Explicit examples are not shrunk: search again without them for a smaller one.
            smaller = self._hypothesis(check, min_batch, [], {"count": 0, "worst": None})
            failure = smaller or failure
        if failure is not None:
            case = failure["case"]
            flaky = (" (flaky: the same input passed on another run; does the cell keep state "
                     "outside `states` or draw random numbers?)") if failure["flaky"] else ""
            raise AssertionError(
                f"property '{name}' ({_DESCRIPTIONS[name]}) fails{flaky}: "
                f"{failure['message']}\n  smallest failing example: {case.describe()} "
                f"(inputs: rnncells.testing.strategies.Case({case.steps}, {case.batch}, "
                f"{case.scale!r}, {case.seed}).inputs({opts.step_shape}))")
        return PropertyResult(name, True, seen["count"], seen["message"])

    def _hypothesis(self, check, min_batch, explicit, seen):
        """One Hypothesis search; the smallest failure `{case, message, flaky}` or None."""
        opts = self.opts
        failure = {}
        strategy = strategies.cases(max_steps=opts.max_steps,
                                    max_batch=max(opts.max_batch, min_batch),
                                    min_batch=min_batch, input_scale=opts.input_scale)

        def body(case):
            try:
                ok, value, message = check(case)
            except Exception as error:  # a crash is a failure of the property, shrunk too
                ok, value, message = False, None, f"raised {type(error).__name__}: {error}"
            if not ok:
                failure.update(case=case, message=message)
                raise _Failed(message)
            seen["count"] += 1
            if value is not None and (seen["worst"] is None or value > seen["worst"]):
                seen["worst"], seen["message"] = value, message

        test = given(strategy)(body)
        for case in explicit:
            test = example(case)(test)
        phases = (Phase.explicit, Phase.generate, Phase.shrink) if explicit else (
            Phase.generate, Phase.shrink)
        test = settings(max_examples=opts.max_examples, deadline=None, database=None,
                        verbosity=Verbosity.quiet, phases=phases,
                        suppress_health_check=list(HealthCheck))(test)
        test = hypothesis_seed(opts.seed)(test)
        try:
            test()
        except (_Failed, Flaky) as error:
            if not failure:
                raise
            return {**failure, "flaky": isinstance(error, Flaky)}
        return None

    # -- the Jacobian trace: finite, no_explosion, bounded_state, memory ----------------------

    def trace(self, case):
        if self._probe is None:
            cell = _seeded(self.make_cell, self.opts.seed)
            self._probe = SequenceProbe(cell, self.opts.step_shape)
            self._state_norm = math.sqrt(sum(self._probe.wrapper.state_sizes))
        key = dataclasses.astuple(case)
        if key not in self._traces:
            x = case.inputs(self.opts.step_shape)
            self._traces[key] = self._probe.run(x, jacobian=True, compiled=True)
        return self._traces[key]

    def finite(self, case):
        tr = self.trace(case)
        return tr["finite"], None, ("every value finite" if tr["finite"] else
                                    "a non-finite output, state or gradient")

    def no_explosion(self, case):
        tr = self.trace(case)
        states = tr["state_jacobian"][:, 1:]
        worst = float(np.max(states)) / self._state_norm if states.size else 0.0
        if not np.isfinite(states).all():
            worst = float("inf")
        bound = self.opts.jacobian_bound
        ok = worst <= bound
        return ok, worst, (f"max ||d o_T/d s_t||_F / sqrt(n) = {worst:.3g} "
                           f"{'<=' if ok else '>'} jacobian_bound {bound:.3g}")

    def bounded_state(self, case):
        tr = self.trace(case)
        states = tr["final_states"]
        if _counts_steps(self._probe.cell):
            states = states[:-1]  # the step index the cell carries, not a value it computes
        parts = [("output", tr["outputs"])] + [("final state", s) for s in states]
        worst, where = 0.0, "output"
        for label, values in parts:
            value = float(np.max(np.abs(values))) if np.isfinite(values).all() else float("inf")
            if value > worst:
                worst, where = value, label
        bound = self.opts.state_bound
        ok = worst <= bound
        return ok, worst, (f"max |{where}| = {worst:.3g} {'<=' if ok else '>'} "
                           f"state_bound {bound:.3g}")

    def memory(self, case):
        tr = self.trace(case)
        reached = float(np.min(tr["state_jacobian"][:, 0]))
        if not np.isfinite(reached):
            reached = float("nan")
        threshold = self.opts.memory_threshold
        ok = bool(reached >= threshold)
        # the smallest value reached is the one to report: negate for the "worst" tracking
        return ok, -reached if np.isfinite(reached) else None, (
            f"min ||d o_T/d s_0||_F = {reached:.3g} {'>=' if ok else '<'} memory_threshold "
            f"{threshold:.3g} at T={case.steps}")

    # -- the layers: batch_independence, fused_equals_rnn, masking ----------------------------

    def pair(self):
        """keras.layers.RNN and FusedRNN over two cells of the factory, with equal weights."""
        if self._pair is None:
            from rnncells.layers.fused_rnn import FusedRNN, can_fuse

            rnn = _build(_rnn(_seeded(self.make_cell, self.opts.seed), self.opts.step_shape),
                         self.opts)
            cell = _seeded(self.make_cell, self.opts.seed)
            fused = _build(FusedRNN(cell, return_sequences=True, return_state=True,
                                    use_fused=True if can_fuse(cell) else "auto"), self.opts)
            fused.set_weights(rnn.get_weights())
            self._pair = (rnn, fused)
        return self._pair

    def forward(self, layer, masked=False, compiled=True):
        """`layer(x[, mask], training=False)` as a list of NumPy arrays; on TensorFlow in one
        `tf.function` per layer unless `compiled=False`."""
        key = (id(layer), masked, compiled)
        if key not in self._forward_fns:
            def run(x, mask=None):
                return list(layer(x, mask=mask, training=False))

            self._forward_fns[key] = (_compile(run, self.opts.step_shape, masked) if compiled
                                      else run)
        fn = self._forward_fns[key]

        def call(x, *mask):
            return [_numpy(t) for t in fn(ops.convert_to_tensor(x, "float32"), *mask)]
        return call

    def batch_independence(self, case):
        rnn, _ = self.pair()
        forward = self.forward(rnn)
        report = check_batch_invariance(lambda x, training=False: forward(x)[0],
                                        case.inputs(self.opts.step_shape), shuffles=1,
                                        seed=case.seed, atol=self.opts.atol,
                                        rtol=self.opts.rtol)
        return report.passed, report.max_abs_diff, (
            f"max |whole batch - row by row or shuffled| = {report.max_abs_diff:.3g} "
            f"{'<=' if report.passed else '>'} {report.tolerance:.3g}")

    def _modes(self, cell):
        """The training flags FusedRNN and keras.layers.RNN are compared in, and why a flag
        is left out."""
        from rnncells import _backend
        from rnncells.cells.base import fused_spec_of

        rates = [getattr(cell, name, 0) or 0 for name in ("dropout", "recurrent_dropout",
                                                           "rate")]
        inner = getattr(cell, "cell", None)
        if inner is not None:
            rates += [getattr(inner, n, 0) or 0 for n in ("dropout", "recurrent_dropout")]
        if any(isinstance(r, (int, float)) and r > 0 for r in rates):
            return (False,), "inference only: the cell draws random masks in training"
        spec = fused_spec_of(cell)
        if spec is not None and spec.running_statistics and not _backend.is_tensorflow():
            return (False,), ("inference only: keras.layers.RNN cannot update running "
                              "statistics on this backend")
        return (False, True), ""

    def fused_equals_rnn(self, case):
        rnn, fused = self.pair()
        modes, _ = self._modes(fused.cell)
        x = ops.convert_to_tensor(case.inputs(self.opts.step_shape))
        names = ["outputs and final states", "input gradient"] + [
            f"gradient of {w.path}" for w in rnn.trainable_weights]
        worst_ratio, message = 0.0, ""
        # The reference compiled (it is only the reference); FusedRNN eager and compiled on
        # TensorFlow, where each runs its own code.
        for training in modes:
            expected = self._outputs_and_gradients(rnn, x, training, compiled=True)
            for compiled in ((False, True) if keras.backend.backend() == "tensorflow" else
                             (False,)):
                actual = self._outputs_and_gradients(fused, x, training, compiled)
                for name, e, a in zip(names, expected, actual):
                    ok, worst, tolerance = _close(a, e, self.opts)
                    label = (f"{name}, {'training' if training else 'inference'}, "
                             f"{'compiled' if compiled else 'eager'}")
                    if not ok:
                        return False, None, (f"{label}: max |FusedRNN - keras.layers.RNN| = "
                                             f"{worst:.3g} > {tolerance:.3g}")
                    ratio = worst / tolerance if tolerance else 0.0
                    if ratio >= worst_ratio:
                        worst_ratio, message = ratio, (
                            f"max difference {worst:.3g} ({label}), tolerance {tolerance:.3g}")
        return True, worst_ratio, message

    def _outputs_and_gradients(self, layer, x, training, compiled):
        """[outputs and final states (flattened), d loss/d x, d loss/d each weight] for
        loss = <outputs and final states, a fixed pattern>; running statistics restored."""
        key = (id(layer), training, compiled)
        if key not in self._gradient_fns:
            def flat(x):
                outputs, *states = layer(x, training=training)
                return ops.concatenate([ops.reshape(ops.cast(t, "float32"), (-1,))
                                        for t in (outputs, *states)])

            def forward(x):
                values = flat(x)
                pattern = ops.cos(ops.arange(ops.shape(values)[0], dtype="float32") * 0.7
                                  + 0.3)
                return ops.sum(values * pattern), values

            def run(x):
                values, grad_x, grads = gradients(forward, x, layer.trainable_weights)
                return [values, grad_x, *grads]

            self._gradient_fns[key] = _compile(run, self.opts.step_shape) if compiled else run
        saved = [ops.convert_to_numpy(v.value) for v in layer.non_trainable_weights]
        try:
            return self._gradient_fns[key](x)
        finally:
            for variable, value in zip(layer.non_trainable_weights, saved):
                variable.assign(value)

    def masking(self, case):
        rnn, fused = self.pair()
        x, mask = case.inputs(self.opts.step_shape), case.mask()
        for label, layer, compiled in (("keras.layers.RNN", rnn, True),
                                       ("FusedRNN", fused, False)):
            masked, plain = (self.forward(layer, True, compiled),
                             self.forward(layer, False, compiled))
            outputs, *states = masked(x, ops.convert_to_tensor(mask))
            for b in range(case.batch):
                alone, *alone_states = plain(x[b:b + 1, mask[b]])
                alone = alone[0].reshape(int(mask[b].sum()), -1)
                for s, s_alone in zip(states, alone_states):
                    ok, worst, tolerance = _close(s[b:b + 1], s_alone, self.opts)
                    if not ok:
                        return False, None, (
                            f"{label}: row {b}'s final state under its mask differs from the "
                            f"state of its unmasked steps alone by {worst:.3g} > "
                            f"{tolerance:.3g} (mask {mask[b].astype(int).tolist()})")
                # a masked step repeats the previous output (zeros before the first kept one)
                index = np.cumsum(mask[b]) - 1
                expected = np.where((index >= 0)[:, None], alone[np.maximum(index, 0)], 0.0)
                ok, worst, tolerance = _close(outputs[b].reshape(len(index), -1), expected,
                                              self.opts)
                if not ok:
                    return False, None, (
                        f"{label}: row {b}'s outputs under its mask differ from those of its "
                        f"unmasked steps alone (held at masked steps) by {worst:.3g} > "
                        f"{tolerance:.3g} (mask {mask[b].astype(int).tolist()})")
        return True, None, "masked steps skipped (keras.layers.RNN and FusedRNN)"

    # -- single-case properties --------------------------------------------------------------

    def _fixed_case(self):
        return strategies.Case(min(5, self.opts.max_steps), 2, 1.0, self.opts.seed)

    def config_round_trip(self):
        opts = self.opts
        cell = _seeded(self.make_cell, opts.seed)
        layer = _build(_rnn(cell, opts.step_shape), opts)
        config = cell.get_config()
        try:
            clone = type(cell).from_config(copy.deepcopy(config))
        except Exception as error:
            return False, (f"{type(cell).__name__}.from_config(get_config()) raised "
                           f"{type(error).__name__}: {error}")
        clone_config = clone.get_config()
        if _plain(clone_config) != _plain(config):
            keys = sorted(set(config) | set(clone_config))
            differ = [k for k in keys if _plain(config.get(k)) != _plain(clone_config.get(k))]
            return False, (f"the clone's get_config() differs in {differ}: "
                           + "; ".join(f"{k}: {config.get(k)!r} -> {clone_config.get(k)!r}"
                                       for k in differ[:3]))
        twin = _build(_rnn(clone, opts.step_shape), opts)
        try:
            twin.set_weights(layer.get_weights())
        except ValueError as error:
            return False, f"the clone's weights do not match the original's: {error}"
        x = self._fixed_case().inputs(opts.step_shape)
        for a, b in zip(layer(x, training=False), twin(x, training=False)):
            ok, worst, tolerance = _close(b, a, opts)
            if not ok:
                return False, (f"with the same weights the clone's outputs differ by "
                               f"{worst:.3g} > {tolerance:.3g}: get_config() leaves out an "
                               "argument that changes what the cell computes")
        return True, "same config, same outputs"

    def keras_round_trip(self):
        opts = self.opts
        cell = _seeded(self.make_cell, opts.seed)
        case = self._fixed_case()
        model = keras.Sequential([keras.Input((case.steps, *opts.step_shape)),
                                  _reference(cell, opts.step_shape, return_sequences=True)])
        x = case.inputs(opts.step_shape)
        expected = model(x, training=False)
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "cell.keras")
            try:
                model.save(path)
                loaded = keras.saving.load_model(path)
            except Exception as error:
                hint = ""
                if "register_keras_serializable" in str(error) or "locate" in str(error):
                    hint = (" (decorate the cell's class with "
                            "@keras.saving.register_keras_serializable())")
                return False, f"save/load raised {type(error).__name__}: {error}{hint}"
        ok, worst, tolerance = _close(loaded(x, training=False), expected, opts)
        if not ok:
            return False, (f"the loaded model's outputs differ by {worst:.3g} > "
                           f"{tolerance:.3g}: a weight was not saved or not restored (a "
                           "sublayer created outside build()?)")
        return True, "saved and loaded, same outputs"


def _counts_steps(cell):
    """Whether the cell's last state is the step index (batch-norm cells: statistics per
    step), which grows with T by design."""
    from rnncells.cells.base import fused_spec_of

    return fused_spec_of(cell).project_start_step


def _plain(value):
    """A config made comparable: tuples as lists, NumPy scalars as Python numbers."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def check_cell(make_cell, step_shape=(3,), *, max_steps=40, max_batch=3,
               input_scale=(0.1, 10.0), expect_memory=False, memory_threshold=1e-3,
               jacobian_bound=1e3, state_bound=1e3, rtol=1e-3, atol=1e-5, properties=None,
               max_examples=4, seed=0):
    """Check a recurrent cell against the properties rnncells' own cells are tested for.

    `make_cell` is called (several times) to get new cells; each is seeded with
    `keras.utils.set_random_seed(seed)` first, so cells from one check have equal weights
    and a check repeats exactly under its seed. Inputs are drawn by Hypothesis
    (`rnncells.testing.strategies.cases`): `steps` in 1..max_steps, `batch` in
    1..max_batch, entries N(0, scale^2) with scale log-uniform in `input_scale`; the longest
    sequence at both ends of the scale range is always tried. The properties (`PROPERTIES`):

    - finite: outputs, final states and gradients are finite;
    - no_explosion: the Jacobian of the last output with respect to the state entering each
      step t >= 1, ||d o_T/d s_t||_F / sqrt(n) (n: the total state size), stays below
      `jacobian_bound`: how much a unit perturbation of the state can grow over T - t steps
      (t = 0, the zero initial state, is left to `memory`: a layer norm of zeros has an
      unbounded gain there);
    - bounded_state: every output and final state |value| <= `state_bound`;
    - memory (only with `expect_memory=True`): ||d o_T/d s_0||_F >= `memory_threshold`, the
      gradient still reaches step 1 after T steps;
    - batch_independence: in inference a row's outputs do not depend on the rest of its batch
      (`rnncells.diagnostics.check_batch_invariance`);
    - fused_equals_rnn: `FusedRNN(cell)` (its fused kernel when the cell has one) equals
      `keras.layers.RNN(cell)` with the same weights: outputs, final states and the gradients
      with respect to the inputs and every trainable weight, in inference and (for cells
      without dropout) in training mode;
    - masking: under a mask with masked steps anywhere, each row's final state equals that of
      its unmasked steps alone, and a masked step repeats the previous output (both layers);
    - config_round_trip: `type(cell).from_config(cell.get_config())` has the same config and,
      with the same weights, the same outputs;
    - keras_round_trip: a model holding `keras.layers.RNN(cell)` saves to `.keras` and loads
      with the same outputs (the cell's class must be registered with
      `@keras.saving.register_keras_serializable()`).

    Every computation is in inference mode unless said otherwise. Inputs are float32;
    differences are compared against `atol + rtol * max |reference|`.

    Args:
        make_cell: a function of no arguments returning a new, unbuilt cell.
        step_shape: the shape of one input step (default `(3,)`; `(rows, channels)` for a
            1D convolutional cell).
        max_steps: the longest sequence drawn (default 40).
        max_batch: the largest batch drawn (default 3).
        input_scale: `(low, high)` range of the input's standard deviation (default
            `(0.1, 10.0)`).
        expect_memory: check `memory` (default False: skipped).
        memory_threshold: the smallest ||d o_T/d s_0||_F allowed (default 1e-3).
        jacobian_bound: the largest ||d o_T/d s_t||_F / sqrt(n) allowed (default 1e3).
        state_bound: the largest |output| or |state| allowed (default 1e3; `None` skips
            `bounded_state`, e.g. for an unbounded linear cell).
        rtol, atol: tolerances of the comparisons (defaults 1e-3, 1e-5): float32 round-off
            grows with the gradients' size over T steps.
        properties: the names of the properties to run (default: all of `PROPERTIES`).
        max_examples: the number of drawn inputs per property (default 4; each property also
            runs its two fixed extreme inputs, and a failure is shrunk further).
        seed: seeds the weights and Hypothesis (default 0).

    Returns:
        A `CellReport`; `print(report)` gives one line per property.

    Raises:
        AssertionError: a property fails; the message names it, says by how much, and gives
            the smallest failing input Hypothesis found.

    Examples:
        >>> report = check_cell(lambda: rnncells.IndRNNCell(4), expect_memory=False)
        >>> report.passed
        True
    """
    if not callable(make_cell) or isinstance(make_cell, keras.layers.Layer):
        raise TypeError(
            "Invalid value for argument `make_cell`: expected a function of no arguments "
            "that returns a new cell (e.g. `lambda: MyCell(8)`), received "
            f"{type(make_cell).__name__}.")
    step_shape = tuple(step_shape) if isinstance(step_shape, (list, tuple)) else (step_shape,)
    for size in step_shape:
        validation.positive_int("step_shape", size)
    if properties is None:
        properties = PROPERTIES
    properties = [properties] if isinstance(properties, str) else list(properties)
    for name in properties:
        validation.one_of("properties", name, PROPERTIES)
    if len(input_scale) != 2:
        raise ValueError("Invalid value for argument `input_scale`: expected (low, high), "
                         f"received {input_scale!r}.")
    opts = _Options(
        step_shape=step_shape, max_steps=validation.positive_int("max_steps", max_steps),
        max_batch=validation.positive_int("max_batch", max_batch),
        input_scale=tuple(validation.positive_float("input_scale", s) for s in input_scale),
        expect_memory=bool(expect_memory),
        memory_threshold=validation.positive_float("memory_threshold", memory_threshold),
        jacobian_bound=validation.positive_float("jacobian_bound", jacobian_bound),
        state_bound=(None if state_bound is None
                     else validation.positive_float("state_bound", state_bound)),
        rtol=float(rtol), atol=float(atol),
        max_examples=validation.positive_int("max_examples", max_examples),
        seed=int(seed))
    if opts.input_scale[0] > opts.input_scale[1]:
        raise ValueError("Invalid value for argument `input_scale`: expected low <= high, "
                         f"received {input_scale!r}.")
    runs = _Searches(make_cell, opts)
    name = type(_seeded(make_cell, opts.seed)).__name__
    results = []
    for prop in PROPERTIES:
        if prop not in properties:
            results.append(PropertyResult(prop, None, 0, "not requested"))
        elif prop == "memory" and not opts.expect_memory:
            results.append(PropertyResult(prop, None, 0, "expect_memory=False"))
        elif prop == "bounded_state" and opts.state_bound is None:
            results.append(PropertyResult(prop, None, 0, "state_bound=None"))
        elif prop in ("config_round_trip", "keras_round_trip"):
            ok, message = getattr(runs, prop)()
            if not ok:
                raise AssertionError(f"property '{prop}' ({_DESCRIPTIONS[prop]}) fails: "
                                     f"{message}")
            results.append(PropertyResult(prop, True, 1, message))
        else:
            min_batch = 2 if prop == "batch_independence" else 1
            result = runs.search(prop, getattr(runs, prop), min_batch=min_batch)
            if prop == "fused_equals_rnn":
                _, why = runs._modes(runs.pair()[1].cell)
                result.detail = "; ".join(p for p in (result.detail, why) if p)
            results.append(result)
    return CellReport(name, keras.backend.backend(), opts.seed, results)
