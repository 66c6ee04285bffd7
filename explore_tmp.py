import sys
import keras, numpy as np
from tests.properties import checks
from tests.properties.registry import SPECS
SPEC = {s.name: s for s in SPECS}

def build(cell, spec):
    keras.layers.RNN(cell)(np.zeros((1, 2, *spec.step_shape(3)), "float32"))
    return cell

def scaled(spec, units, sub, k):
    cell = build(spec.make(units), spec)
    inner = getattr(cell, "cell", cell)
    hit = 0
    vals = []
    for w in cell.weights:
        v = w.numpy()
        if all(s in w.path for s in sub):
            v = v * k; hit += 1
        vals.append(v)
    assert hit, (sub, [w.path for w in cell.weights])
    cell.set_weights(vals)
    return cell

GRID = lambda spec: [(u, s, T) for u in (spec.min_units, spec.min_units + 3)
                     for s in sorted({max(spec.min_scale, 0.1), 1.0, min(spec.max_scale, 10.0)}) for T in (100,)]
MUT = {
 "LayerNormSimpleRNNCell": (["gamma"], 2.0),
 "LayerNormLSTMCell": (["recurrent_norm", "gamma"], 2.0),
 "LayerNormGRUCell": (["recurrent_norm", "gamma"], 2.0),
 "ESNCell": (["recurrent_kernel"], 3.0),
 "IndRNNCell": (["recurrent_kernel"], 1.5),
 "ConvLSTMCell": (["recurrent_kernel"], 3.0),
 "ConvGRUCell": (["recurrent_kernel"], 3.0),
 "PeepholeLSTMCell": (["recurrent_kernel"], 3.0),
 "NASCell": (["recurrent_kernel"], 3.0),
 "BatchNormLSTMCell": (["recurrent_norm", "gamma"], 30.0),
 "BatchNormGRUCell": (["recurrent_norm", "gamma"], 30.0),
 "Zoneout": (["recurrent_kernel"], 3.0),
}
for name in sys.argv[1:] or MUT:
    spec = SPEC[name]; sub, k = MUT[name]
    for kk in (k, 2*k):
      worst = 0; wh = []
      for u, s, T in GRID(spec):
        keras.utils.set_random_seed(0)
        healthy = build(spec.make(u), spec)
        keras.utils.set_random_seed(0)
        cell = scaled(spec, u, sub, kk)
        x = (s * np.random.default_rng(0).standard_normal((2, T, *spec.step_shape(3)))).astype("float32")
        r = checks.trace(cell, x).state_jacobian[:, 1:].max() / spec.jacobian_bound(cell, x)
        h = checks.trace(healthy, x).state_jacobian[:, 1:].max() / spec.jacobian_bound(cell, x)
        wh.append(f"{r:.2g}/{h:.2g}")
      print(name, sub, kk, " ".join(wh), flush=True)
