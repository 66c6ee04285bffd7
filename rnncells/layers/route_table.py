"""The measured route table of `rnncells.layers.routes` (generated; do not edit).

Regenerate: python -m benchmarks.sweep --routes  (--cells NAME ...: only those cells)
Each entry: (batch, units, fastest route, its speed-up over keras.layers.RNN(cell)),
training step / inference at T=25, medians of interleaved rounds.
"""

MACHINE = 'AMD EPYC, 2 cores, TensorFlow 2.21.0'

#: cell -> UTC time of the run that measured it
MEASURED_AT = {
    'BatchNormGRUCell': '2026-12-01T14:18:42+00:00',
    'BatchNormLSTMCell': '2026-12-01T14:18:42+00:00',
    'ConvGRUCell': '2026-12-01T14:18:42+00:00',
    'ConvLSTMCell': '2026-12-01T14:18:42+00:00',
    'ESNCell': '2026-12-01T14:18:42+00:00',
    'IndRNNCell': '2026-12-01T14:18:42+00:00',
    'LayerNormGRUCell': '2026-12-01T14:58:10+00:00',
    'LayerNormLSTMCell': '2026-12-01T14:18:42+00:00',
    'LayerNormSimpleRNNCell': '2026-12-01T14:18:42+00:00',
    'MinGRUCell': '2026-12-01T14:18:42+00:00',
    'MinLSTMCell': '2026-12-01T14:18:42+00:00',
    'NASCell': '2026-12-01T14:18:42+00:00',
    'PeepholeLSTMCell': '2026-12-01T14:18:42+00:00',
    'Zoneout': '2026-12-01T14:18:42+00:00',
}

#: cell -> mode -> [(batch, units, route, speed-up), ...]
MEASURED = {
    'BatchNormGRUCell': {
        'infer': [
            (1, 32, 'fused', 1.07), (1, 128, 'per_step', 1.0), (1, 512, 'fused', 1.19),
            (32, 32, 'fused', 1.06), (32, 128, 'per_step', 1.0), (32, 512, 'per_step', 1.0),
            (256, 32, 'fused', 1.05), (256, 128, 'fused', 1.2), (256, 512, 'per_step', 1.0),
        ],
        'train': [
            (1, 32, 'fused', 1.53), (1, 128, 'fused_xla', 1.57), (1, 512, 'fused_xla', 1.77),
            (32, 32, 'fused_xla', 1.49), (32, 128, 'fused_xla', 2.09), (32, 512, 'fused', 1.02),
            (256, 32, 'fused', 3.31), (256, 128, 'fused', 1.47), (256, 512, 'per_step', 1.0),
        ],
    },
    'BatchNormLSTMCell': {
        'infer': [
            (1, 32, 'fused', 1.91), (1, 128, 'fused', 3.13), (1, 512, 'fused', 1.24),
            (32, 32, 'fused_xla', 1.41), (32, 128, 'fused_xla', 1.49), (32, 512, 'fused', 1.02),
            (256, 32, 'fused', 1.45), (256, 128, 'fused', 1.02), (256, 512, 'per_step', 1.0),
        ],
        'train': [
            (1, 32, 'fused', 1.86), (1, 128, 'fused', 1.33), (1, 512, 'fused_xla', 1.77),
            (32, 32, 'fused', 1.7), (32, 128, 'per_step', 1.0), (32, 512, 'fused', 1.5),
            (256, 32, 'per_step', 1.0), (256, 128, 'fused', 1.07), (256, 512, 'per_step', 1.0),
        ],
    },
    'ConvGRUCell': {
        'infer': [
            (1, 32, 'fused_xla', 3.5), (1, 128, 'fused_xla', 1.81),
            (32, 32, 'fused_xla', 1.16), (32, 128, 'fused', 1.08),
        ],
        'train': [
            (1, 32, 'fused_xla', 5.2), (1, 128, 'fused', 1.93),
            (32, 32, 'fused', 1.12), (32, 128, 'per_step', 1.0),
        ],
    },
    'ConvLSTMCell': {
        'infer': [
            (1, 32, 'fused_xla', 4.22), (1, 128, 'fused_xla', 1.2),
            (32, 32, 'fused_xla', 1.4), (32, 128, 'per_step', 1.0),
        ],
        'train': [
            (1, 32, 'fused_xla', 4.71), (1, 128, 'fused_xla', 1.57),
            (32, 32, 'fused', 2.09), (32, 128, 'per_step', 1.0),
        ],
    },
    'ESNCell': {
        'infer': [
            (1, 32, 'fused_xla', 4.67), (1, 128, 'fused', 1.12), (1, 512, 'fused_xla', 4.84),
            (32, 32, 'fused', 1.17), (32, 128, 'fused_xla', 1.29), (32, 512, 'fused', 1.99),
            (256, 32, 'per_step', 1.0), (256, 128, 'per_step', 1.0), (256, 512, 'per_step', 1.0),
        ],
        'train': [
            (1, 32, 'per_step', 1.0), (1, 128, 'fused', 5.24), (1, 512, 'fused_xla', 1.01),
            (32, 32, 'fused_batched', 1.13), (32, 128, 'fused_batched', 1.49),
            (32, 512, 'fused_batched', 1.06),
            (256, 32, 'per_step', 1.0), (256, 128, 'fused', 1.39), (256, 512, 'per_step', 1.0),
        ],
    },
    'IndRNNCell': {
        'infer': [
            (1, 32, 'fused_xla', 5.21), (1, 128, 'fused_xla', 13.82), (1, 512, 'fused_xla', 1.82),
            (32, 32, 'fused', 1.26), (32, 128, 'fused_xla', 1.58), (32, 512, 'fused', 1.13),
            (256, 32, 'fused', 1.04), (256, 128, 'fused', 1.94), (256, 512, 'per_step', 1.0),
        ],
        'train': [
            (1, 32, 'fused_xla', 2.42), (1, 128, 'fused_xla', 8.79), (1, 512, 'fused_xla', 4.49),
            (32, 32, 'fused_xla', 2.08), (32, 128, 'fused_xla', 1.5), (32, 512, 'fused', 1.69),
            (256, 32, 'fused', 1.0), (256, 128, 'fused', 1.01), (256, 512, 'per_step', 1.0),
        ],
    },
    'LayerNormGRUCell': {
        'infer': [
            (1, 32, 'fused', 1.31), (1, 128, 'fused_xla', 1.97), (1, 512, 'fused_xla', 1.81),
            (32, 32, 'per_step', 1.0), (32, 128, 'per_step', 1.0), (32, 512, 'per_step', 1.0),
            (256, 32, 'per_step', 1.0), (256, 128, 'per_step', 1.0), (256, 512, 'per_step', 1.0),
        ],
        'train': [
            (1, 32, 'fused_xla', 4.27), (1, 128, 'fused_xla', 5.59), (1, 512, 'fused_xla', 2.73),
            (32, 32, 'fused_xla', 2.69), (32, 128, 'fused', 1.41), (32, 512, 'per_step', 1.0),
            (256, 32, 'fused', 1.12), (256, 128, 'per_step', 1.0), (256, 512, 'per_step', 1.0),
        ],
    },
    'LayerNormLSTMCell': {
        'infer': [
            (1, 32, 'fused_xla', 2.01), (1, 128, 'fused_xla', 6.26), (1, 512, 'fused_xla', 1.87),
            (32, 32, 'fused_xla', 1.88), (32, 128, 'per_step', 1.0), (32, 512, 'fused', 1.46),
            (256, 32, 'per_step', 1.0), (256, 128, 'fused', 1.37), (256, 512, 'per_step', 1.0),
        ],
        'train': [
            (1, 32, 'fused_xla', 15.95), (1, 128, 'fused_xla', 3.33), (1, 512, 'fused_xla', 3.54),
            (32, 32, 'fused_xla', 1.98), (32, 128, 'fused_xla', 1.05), (32, 512, 'fused', 1.11),
            (256, 32, 'fused', 1.22), (256, 128, 'fused', 1.03), (256, 512, 'per_step', 1.0),
        ],
    },
    'LayerNormSimpleRNNCell': {
        'infer': [
            (1, 32, 'fused_xla', 1.83), (1, 128, 'fused_xla', 1.93), (1, 512, 'fused_xla', 1.64),
            (32, 32, 'fused_xla', 1.63), (32, 128, 'fused_xla', 1.53), (32, 512, 'per_step', 1.0),
            (256, 32, 'fused', 3.3), (256, 128, 'per_step', 1.0), (256, 512, 'per_step', 1.0),
        ],
        'train': [
            (1, 32, 'fused_xla', 5.06), (1, 128, 'fused_xla', 3.45), (1, 512, 'fused_xla', 1.85),
            (32, 32, 'fused_xla', 1.93), (32, 128, 'fused_xla', 1.06), (32, 512, 'fused', 1.19),
            (256, 32, 'fused', 1.86), (256, 128, 'fused_batched', 1.48),
            (256, 512, 'per_step', 1.0),
        ],
    },
    'MinGRUCell': {
        'infer': [
            (1, 32, 'fused', 6.41), (1, 128, 'per_step', 1.0), (1, 512, 'fused', 2.4),
            (32, 32, 'fused', 2.28), (32, 128, 'fused', 1.48), (32, 512, 'fused', 1.57),
            (256, 32, 'fused', 1.17), (256, 128, 'per_step', 1.0), (256, 512, 'per_step', 1.0),
        ],
        'train': [
            (1, 32, 'fused', 2.48), (1, 128, 'fused', 1.29), (1, 512, 'fused', 5.09),
            (32, 32, 'fused', 3.16), (32, 128, 'fused', 1.73), (32, 512, 'fused', 1.04),
            (256, 32, 'fused', 2.01), (256, 128, 'per_step', 1.0), (256, 512, 'per_step', 1.0),
        ],
    },
    'MinLSTMCell': {
        'infer': [
            (1, 32, 'fused', 1.55), (1, 128, 'fused', 1.81), (1, 512, 'fused', 2.78),
            (32, 32, 'fused', 1.94), (32, 128, 'per_step', 1.0), (32, 512, 'fused', 1.08),
            (256, 32, 'fused', 1.25), (256, 128, 'per_step', 1.0), (256, 512, 'per_step', 1.0),
        ],
        'train': [
            (1, 32, 'fused', 1.32), (1, 128, 'fused', 2.4), (1, 512, 'fused', 4.9),
            (32, 32, 'fused', 1.95), (32, 128, 'fused', 1.17), (32, 512, 'fused', 1.07),
            (256, 32, 'per_step', 1.0), (256, 128, 'per_step', 1.0), (256, 512, 'per_step', 1.0),
        ],
    },
    'NASCell': {
        'infer': [
            (1, 32, 'fused_xla', 6.76), (1, 128, 'fused_xla', 2.56), (1, 512, 'fused_xla', 1.99),
            (32, 32, 'fused', 1.06), (32, 128, 'per_step', 1.0), (32, 512, 'per_step', 1.0),
            (256, 32, 'per_step', 1.0), (256, 128, 'per_step', 1.0), (256, 512, 'per_step', 1.0),
        ],
        'train': [
            (1, 32, 'fused_xla', 9.23), (1, 128, 'fused_xla', 5.55), (1, 512, 'fused_xla', 4.17),
            (32, 32, 'fused_xla', 1.41), (32, 128, 'fused_batched', 1.34),
            (32, 512, 'per_step', 1.0),
            (256, 32, 'per_step', 1.0), (256, 128, 'per_step', 1.0), (256, 512, 'per_step', 1.0),
        ],
    },
    'PeepholeLSTMCell': {
        'infer': [
            (1, 32, 'fused_xla', 4.55), (1, 128, 'fused_xla', 2.6), (1, 512, 'fused_xla', 2.25),
            (32, 32, 'fused_xla', 1.15), (32, 128, 'fused_xla', 1.4), (32, 512, 'per_step', 1.0),
            (256, 32, 'per_step', 1.0), (256, 128, 'per_step', 1.0), (256, 512, 'per_step', 1.0),
        ],
        'train': [
            (1, 32, 'fused_xla', 1.33), (1, 128, 'fused_xla', 2.91), (1, 512, 'fused_xla', 3.41),
            (32, 32, 'fused_xla', 1.08), (32, 128, 'per_step', 1.0),
            (32, 512, 'fused_batched', 1.28),
            (256, 32, 'per_step', 1.0), (256, 128, 'per_step', 1.0), (256, 512, 'per_step', 1.0),
        ],
    },
    'Zoneout': {
        'infer': [
            (1, 32, 'fused_xla', 2.17), (1, 128, 'fused_xla', 2.46), (1, 512, 'fused_xla', 2.23),
            (32, 32, 'per_step', 1.0), (32, 128, 'fused_xla', 1.34), (32, 512, 'per_step', 1.0),
            (256, 32, 'fused', 1.15), (256, 128, 'per_step', 1.0), (256, 512, 'per_step', 1.0),
        ],
        'train': [
            (1, 32, 'fused_xla', 2.21), (1, 128, 'fused_xla', 4.19), (1, 512, 'fused_xla', 2.69),
            (32, 32, 'fused_xla', 2.17), (32, 128, 'fused_xla', 1.11), (32, 512, 'per_step', 1.0),
            (256, 32, 'per_step', 1.0), (256, 128, 'per_step', 1.0), (256, 512, 'per_step', 1.0),
        ],
    },
}
