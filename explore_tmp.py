import time, keras, numpy as np
from tests.cells import test_indrnn_long_jacobian as m
keras.utils.set_random_seed(0)
h = m.Harness(m.IndRNNCell(m.UNITS, max_timesteps=m.T))
m_check = h.check
import tensorflow as tf
rng = np.random.default_rng(0)
for args in (([0.0, 0.0, 0.0, 2.0], 0, 0.01, 0.1), ([1.0, -1.0, 0.5, 2.0], 5, 0.1, 1.0)):
    t = time.time()
    try:
        print(h.check(*args), time.time() - t)
    except AssertionError as e:
        print(str(e)[:600], time.time() - t)
