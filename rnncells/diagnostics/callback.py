"""`GradientHealth`: a Keras callback that watches gradients and units while a model trains."""

import math
import warnings

import keras
import numpy as np

from rnncells import _validation as validation
from rnncells.diagnostics.autodiff import weight_gradients
from rnncells.diagnostics.gradient_flow import gradient_flow
from rnncells.diagnostics.probe import SequenceProbe, find_recurrent_cell, recurrent_inputs
from rnncells.diagnostics.train_inference_gap import train_inference_gap
from rnncells.diagnostics.unit_health import unit_health

EVENTS = ("nan", "exploding", "vanishing", "dead", "zero_gradients", "train_inference_gap")


class GradientHealthWarning(UserWarning):
    """Warned by `GradientHealth` when gradients vanish, explode, go NaN, or units die."""


class GradientHealth(keras.callbacks.Callback):
    """Log gradient and unit health during `fit`; warn, and optionally stop, when it goes bad.

    After every training batch the loss and the weights are checked for NaN/inf (cheap). Every
    `every` batches and at the end of each epoch, on the probe batch `x` (and `y`):

    - `gradient_flow` of the model's first RNN layer (loss: sum of its last output) ->
      `grad_ratio` (||dL/dh_0|| / ||dL/dh_{T-1}||) and `grad_decay_rate` (per step);
    - `unit_health` of that layer -> `dead_fraction`, `saturated_fraction` (each left out of
      the logs when the cell gave nothing to measure: "not measured" is never logged as 0);
    - when `y` is given, the gradient of the model's compiled loss w.r.t. the trainable
      weights (training mode; moving statistics such as batch norm's are restored afterwards)
      -> `weight_grad_norm` and `zero_grad_fraction` (share of
      weight entries whose gradient is exactly 0: the "Adam returns all-zero gradients"
      symptom);
    - when the model has non-trainable variables (moving statistics: batch norm),
      `train_inference_gap` of the probe batch -> `train_inference_gap` (relative gap of the
      model's output between training and inference mode; statistics left unchanged).

    These values are written into the epoch's `logs` (prefixed by `prefix`), so `History` and
    a `keras.callbacks.TensorBoard` placed AFTER this callback in the list record them. They
    are also kept in `self.history` (one dict per check, with epoch and batch).

    Events: "nan" (loss, weights, outputs or gradients not finite), "exploding" / "vanishing"
    (gradient_flow verdict, thresholds `exploding_ratio` / `vanishing_ratio`), "dead"
    (dead_fraction > `dead_threshold`), "zero_gradients" (zero_grad_fraction >
    `dead_threshold`), "train_inference_gap" (a layer with moving statistics whose training-
    and inference-mode outputs differ by more than `gap_threshold`: its statistics do not
    describe the data, the unstable-validation symptom). Each event is warned
    (`GradientHealthWarning`) once per epoch when `warn=True`; an event in `stop_on` sets
    `model.stop_training = True` at the end of the batch where it is seen, and is recorded
    in `self.stopped_reason` / `self.stopped_at` ((epoch, batch)).

    Args:
        x: probe inputs (batch, T, ...) of the model (a few rows is enough), or None to check
            only for NaN after every batch.
        y: probe targets for the weight-gradient check (optional).
        every: run the probe checks every this many batches (default None: at epoch end
            only); the NaN check runs after every batch regardless.
        stop_on: events that stop training (default ("nan",)); a string or a tuple from
            "nan", "exploding", "vanishing", "dead", "zero_gradients".
        vanishing_ratio, exploding_ratio: see `gradient_flow` (defaults 1e-4, 1e4).
        dead_threshold: fraction of dead units (or zero gradients) that counts as an event
            (default 0.5).
        saturation_threshold: see `unit_health` (default 0.01).
        gap_threshold: see `train_inference_gap` (default 0.25).
        warn: emit `GradientHealthWarning`s (default True).
        prefix: prefix of the log keys (default "").

    Examples:
        >>> health = GradientHealth(x_train[:8], y_train[:8], stop_on=("nan", "exploding"))
        >>> model.fit(x_train, y_train, callbacks=[health, keras.callbacks.TensorBoard(logdir)])
        >>> health.stopped_reason
    """

    def __init__(self, x=None, y=None, every=None, stop_on=("nan",), vanishing_ratio=1e-4,
                 exploding_ratio=1e4, dead_threshold=0.5, saturation_threshold=0.01,
                 warn=True, prefix="", gap_threshold=0.25):
        super().__init__()
        self.x = None if x is None else np.asarray(keras.ops.convert_to_numpy(x))
        self.y = None if y is None else keras.ops.convert_to_numpy(y)
        self.every = None if every is None else validation.positive_int("every", every)
        stop_on = (stop_on,) if isinstance(stop_on, str) else tuple(stop_on or ())
        for event in stop_on:
            validation.one_of("stop_on", event, EVENTS)
        self.stop_on = stop_on
        self.vanishing_ratio = vanishing_ratio
        self.exploding_ratio = exploding_ratio
        self.dead_threshold = validation.unit_interval("dead_threshold", dead_threshold,
                                                       closed_high=True)
        self.saturation_threshold = saturation_threshold
        self.gap_threshold = validation.positive_float("gap_threshold", gap_threshold)
        self.warn = bool(warn)
        self.prefix = prefix
        self.history = []
        self.stopped_reason = None
        self.stopped_at = None
        self._probe = None
        self._latest = {}
        self._warned = set()
        self._epoch = 0

    # ------------------------------------------------------------------ Keras hooks
    def on_train_begin(self, logs=None):
        if self.x is not None:
            try:
                find_recurrent_cell(self.model)
            except ValueError:
                raise ValueError(
                    "GradientHealth(x=...) watches the model's first recurrent layer, but "
                    f"{self.model.name!r} has none (keras.layers.RNN, LSTM, GRU, SimpleRNN, "
                    "FusedRNN). Pass x=None to check only for NaN losses and weights."
                ) from None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._warned = set()

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self._event("nan", batch, f"the training loss is {float(loss)}")
        elif not all(np.isfinite(_numpy(w)).all() for w in self.model.trainable_weights):
            self._event("nan", batch, "a trainable weight is not finite")
        elif self.every is not None and (batch + 1) % self.every == 0:
            self._check(batch)

    def on_epoch_end(self, epoch, logs=None):
        if self.x is not None and self.stopped_reason != "nan":
            self._check("end")
        if logs is not None:
            logs.update({self.prefix + k: v for k, v in self._latest.items()})

    # ------------------------------------------------------------------ checks
    def _check(self, batch):
        if self.x is None:
            return
        values = {}
        cell, rnn_layer = find_recurrent_cell(self.model)
        rnn_x = np.asarray(keras.ops.convert_to_numpy(
            recurrent_inputs(self.model, rnn_layer, self.x)), "float32")
        if self._probe is None:
            self._probe = SequenceProbe(cell, rnn_x.shape[2:])
        flow = gradient_flow(cell, rnn_x, vanishing_ratio=self.vanishing_ratio,
                             exploding_ratio=self.exploding_ratio, probe=self._probe)
        values["grad_ratio"] = flow.ratio
        values["grad_decay_rate"] = flow.decay_rate
        health = unit_health(cell, rnn_x, threshold=self.saturation_threshold)
        # Logged only where measured (a cell with no ReLU site has no dead fraction).
        for key in ("dead_fraction", "saturated_fraction"):
            if getattr(health, key) is not None:
                values[key] = getattr(health, key)
        if self.y is not None:
            norm, zero = self._weight_gradients()
            values["weight_grad_norm"] = norm
            values["zero_grad_fraction"] = zero
        gap = None
        if self.model.non_trainable_weights:
            gap = train_inference_gap(self.model, self.x, threshold=self.gap_threshold)
            values["train_inference_gap"] = gap.output_gap
        self._latest = values
        self.history.append({"epoch": self._epoch, "batch": batch, **values})
        if flow.verdict == "nan" or not np.isfinite(values.get("weight_grad_norm", 0.0)):
            self._event("nan", batch, "a gradient is not finite")
        elif flow.verdict in ("exploding", "vanishing"):
            self._event(flow.verdict, batch,
                        f"||dL/dh_0|| / ||dL/dh_T-1|| = {flow.ratio:.3g} over "
                        f"{flow.timesteps} steps (decay rate {flow.decay_rate:.3g} per step)")
        if health.dead_fraction is not None and health.dead_fraction > self.dead_threshold:
            self._event("dead", batch, f"{health.dead_fraction:.0%} of the ReLU units are dead "
                        "on the probe batch")
        if gap is not None and gap.statistics_gap > self.gap_threshold:
            self._event("train_inference_gap", batch,
                        f"training- and inference-mode outputs differ by {gap.output_gap:.3g} "
                        f"(relative) on the probe batch, most in layer "
                        f"{gap.statistics_layer!r} ({gap.statistics_gap:.3g}): its moving "
                        "statistics do not describe "
                        "the data yet (see rnncells.diagnostics.train_inference_gap)")
        if values.get("zero_grad_fraction", 0.0) > self.dead_threshold:
            self._event("zero_gradients", batch, f"{values['zero_grad_fraction']:.0%} of the "
                        "weight gradients are exactly zero")

    def _weight_gradients(self):
        model = self.model
        weights = model.trainable_weights
        # A training-mode call updates moving statistics (batch norm): put them back after, so
        # watching the run does not change it.
        frozen = [(w, _numpy(w)) for w in model.non_trainable_weights]

        def loss():
            y_pred = model(self.x, training=True)
            return model.compute_loss(x=self.x, y=self.y, y_pred=y_pred, training=True)

        grads = weight_gradients(loss, weights)
        for w, value in frozen:
            w.assign(value)
        flat = np.concatenate([np.ravel(g).astype("float64") for g in grads]) if grads else (
            np.zeros(0))
        with np.errstate(over="ignore", invalid="ignore"):
            norm = float(np.sqrt((flat ** 2).sum()))
        zero = float((flat == 0).mean()) if flat.size else 0.0
        return norm, zero

    def _event(self, event, batch, message):
        key = event
        if self.warn and key not in self._warned:
            self._warned.add(key)
            warnings.warn(f"GradientHealth [{event}] at epoch {self._epoch}, batch {batch}: "
                          f"{message}.", GradientHealthWarning, stacklevel=1)
        if event in self.stop_on and self.model is not None:
            self.model.stop_training = True
            if self.stopped_reason is None:
                self.stopped_reason = event
                self.stopped_at = (self._epoch, batch)


def _numpy(variable):
    """A variable's value as a NumPy array, on every backend (without NumPy's copy-keyword
    warning that `np.array(variable)` gives)."""
    if keras.backend.backend() == "tensorflow":
        return variable.numpy()
    return keras.ops.convert_to_numpy(variable.value)
