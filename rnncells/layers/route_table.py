"""The measured route table of `rnncells.layers.routes` (generated; do not edit).

Regenerate: python -m benchmarks.sweep --routes  (--cells NAME ...: only those cells)
Each entry: (batch, units, fastest route, its speed-up over keras.layers.RNN(cell)),
training step / inference at T=25, medians of interleaved rounds.
"""

MACHINE = 'AMD EPYC, 2 cores, TensorFlow 2.21.0'

#: cell -> UTC times of the runs its points come from
MEASURED_AT = {
    'BatchNormGRUCell': '2026-12-01T14:18; 2026-12-01T15:22',
    'BatchNormLSTMCell': '2026-12-01T14:18; 2026-12-01T15:22',
    'ConvGRUCell': '2026-12-01T14:18; 2026-12-01T15:22',
    'ConvLSTMCell': '2026-12-01T14:18; 2026-12-01T15:22',
    'ESNCell': '2026-12-01T14:18; 2026-12-01T15:22',
    'IndRNNCell': '2026-12-01T14:18; 2026-12-01T15:22',
    'LayerNormGRUCell': '2026-12-01T14:18; 2026-12-01T14:58; 2026-12-01T15:22',
    'LayerNormLSTMCell': '2026-12-01T14:18; 2026-12-01T15:22',
    'LayerNormSimpleRNNCell': '2026-12-01T14:18; 2026-12-01T15:22',
    'MinGRUCell': '2026-12-01T14:18; 2026-12-01T15:22',
    'MinLSTMCell': '2026-12-01T14:18; 2026-12-01T15:22',
    'NASCell': '2026-12-01T14:18; 2026-12-01T15:22',
    'PeepholeLSTMCell': '2026-12-01T14:18; 2026-12-01T15:22',
    'Zoneout': '2026-12-01T14:18; 2026-12-01T15:22',
}

#: cell -> mode -> [(batch, units, route, speed-up), ...]
MEASURED = {
    'BatchNormGRUCell': {
        'infer': [
            (1, 32, 'per_step', 1.0), (1, 128, 'fused_xla', 1.14), (1, 512, 'fused', 1.39),
            (32, 32, 'fused', 1.06), (32, 128, 'per_step', 1.0), (32, 512, 'per_step', 1.0),
            (256, 32, 'fused', 1.05), (256, 128, 'fused', 1.2), (256, 512, 'per_step', 1.0),
        ],
        'train': [
            (1, 32, 'fused', 1.63), (1, 128, 'fused', 1.62), (1, 512, 'fused', 1.65),
            (32, 32, 'fused', 1.44), (32, 128, 'fused_xla', 2.09), (32, 512, 'fused', 1.02),
            (256, 32, 'fused', 3.31), (256, 128, 'fused', 1.47), (256, 512, 'per_step', 1.0),
        ],
    },
    'BatchNormLSTMCell': {
        'infer': [
            (1, 32, 'fused', 1.05), (1, 128, 'fused', 1.12), (1, 512, 'fused', 1.24),
            (32, 32, 'fused_xla', 1.41), (32, 128, 'fused_xla', 1.49), (32, 512, 'fused', 1.02),
            (256, 32, 'fused', 1.45), (256, 128, 'fused', 1.02), (256, 512, 'per_step', 1.0),
        ],
        'train': [
            (1, 32, 'fused_xla', 1.62), (1, 128, 'fused', 1.34), (1, 512, 'fused', 1.87),
            (32, 32, 'fused', 1.7), (32, 128, 'per_step', 1.0), (32, 512, 'fused', 1.5),
            (256, 32, 'per_step', 1.0), (256, 128, 'fused', 1.07), (256, 512, 'per_step', 1.0),
        ],
    },
    'ConvGRUCell': {
        'infer': [
            (1, 32, 'fused_xla', 3.4), (1, 128, 'fused_xla', 2.13),
            (32, 32, 'fused_xla', 1.16), (32, 128, 'fused', 1.08),
        ],
        'train': [
            (1, 32, 'fused_xla', 3.92), (1, 128, 'fused', 1.27),
            (32, 32, 'fused', 1.12), (32, 128, 'per_step', 1.0),
        ],
    },
    'ConvLSTMCell': {
        'infer': [
            (1, 32, 'fused_xla', 3.84), (1, 128, 'fused_xla', 2.04),
            (32, 32, 'fused_xla', 1.4), (32, 128, 'per_step', 1.0),
        ],
        'train': [
            (1, 32, 'fused_xla', 5.68), (1, 128, 'fused_xla', 1.37),
            (32, 32, 'fused', 2.09), (32, 128, 'per_step', 1.0),
        ],
    },
    'ESNCell': {
        'infer': [
            (1, 32, 'fused', 1.04), (1, 128, 'fused', 1.06), (1, 512, 'fused', 1.12),
            (32, 32, 'fused', 1.17), (32, 128, 'fused_xla', 1.29), (32, 512, 'fused', 1.99),
            (256, 32, 'per_step', 1.0), (256, 128, 'per_step', 1.0), (256, 512, 'per_step', 1.0),
        ],
        'train': [
            (1, 32, 'fused', 1.01), (1, 128, 'per_step', 1.0), (1, 512, 'fused', 1.09),
            (32, 32, 'fused_batched', 1.13), (32, 128, 'fused_batched', 1.49),
            (32, 512, 'fused_batched', 1.06),
            (256, 32, 'per_step', 1.0), (256, 128, 'fused', 1.39), (256, 512, 'per_step', 1.0),
        ],
    },
    'IndRNNCell': {
        'infer': [
            (1, 32, 'fused_xla', 1.85), (1, 128, 'fused_xla', 1.46), (1, 512, 'fused_xla', 1.59),
            (32, 32, 'fused', 1.26), (32, 128, 'fused_xla', 1.58), (32, 512, 'fused', 1.13),
            (256, 32, 'fused', 1.04), (256, 128, 'fused', 1.94), (256, 512, 'per_step', 1.0),
        ],
        'train': [
            (1, 32, 'fused_xla', 1.82), (1, 128, 'fused_xla', 2.0), (1, 512, 'fused_xla', 5.42),
            (32, 32, 'fused_xla', 2.08), (32, 128, 'fused_xla', 1.5), (32, 512, 'fused', 1.69),
            (256, 32, 'fused', 1.0), (256, 128, 'fused', 1.01), (256, 512, 'per_step', 1.0),
        ],
    },
    'LayerNormGRUCell': {
        'infer': [
            (1, 32, 'fused_xla', 2.37), (1, 128, 'fused_xla', 1.91), (1, 512, 'fused_xla', 2.17),
            (32, 32, 'per_step', 1.0), (32, 128, 'per_step', 1.0), (32, 512, 'per_step', 1.0),
            (256, 32, 'per_step', 1.0), (256, 128, 'per_step', 1.0), (256, 512, 'per_step', 1.0),
        ],
        'train': [
            (1, 32, 'fused_xla', 4.68), (1, 128, 'fused_xla', 3.53), (1, 512, 'fused_xla', 2.88),
            (32, 32, 'fused_xla', 2.69), (32, 128, 'fused', 1.41), (32, 512, 'per_step', 1.0),
            (256, 32, 'fused', 1.12), (256, 128, 'per_step', 1.0), (256, 512, 'per_step', 1.0),
        ],
    },
    'LayerNormLSTMCell': {
        'infer': [
            (1, 32, 'fused_xla', 2.35), (1, 128, 'fused_xla', 2.05), (1, 512, 'fused_xla', 2.08),
            (32, 32, 'fused_xla', 1.88), (32, 128, 'per_step', 1.0), (32, 512, 'fused', 1.46),
            (256, 32, 'per_step', 1.0), (256, 128, 'fused', 1.37), (256, 512, 'per_step', 1.0),
        ],
        'train': [
            (1, 32, 'fused_xla', 4.23), (1, 128, 'fused_xla', 2.81), (1, 512, 'fused_xla', 3.45),
            (32, 32, 'fused_xla', 1.98), (32, 128, 'per_step', 1.0), (32, 512, 'fused', 1.11),
            (256, 32, 'fused', 1.22), (256, 128, 'fused', 1.03), (256, 512, 'per_step', 1.0),
        ],
    },
    'LayerNormSimpleRNNCell': {
        'infer': [
            (1, 32, 'fused_xla', 1.97), (1, 128, 'fused_xla', 2.09), (1, 512, 'fused_xla', 1.52),
            (32, 32, 'fused_xla', 1.63), (32, 128, 'fused_xla', 1.53), (32, 512, 'per_step', 1.0),
            (256, 32, 'fused', 3.3), (256, 128, 'per_step', 1.0), (256, 512, 'per_step', 1.0),
        ],
        'train': [
            (1, 32, 'fused_xla', 3.68), (1, 128, 'fused_xla', 3.18), (1, 512, 'fused_xla', 2.76),
            (32, 32, 'fused_xla', 1.93), (32, 128, 'fused', 1.01), (32, 512, 'fused', 1.19),
            (256, 32, 'fused', 1.86), (256, 128, 'fused_batched', 1.48),
            (256, 512, 'per_step', 1.0),
        ],
    },
    'MinGRUCell': {
        'infer': [
            (1, 32, 'fused', 1.99), (1, 128, 'fused', 1.88), (1, 512, 'fused', 3.53),
            (32, 32, 'fused', 2.28), (32, 128, 'fused', 1.48), (32, 512, 'fused', 1.57),
            (256, 32, 'fused', 1.17), (256, 128, 'per_step', 1.0), (256, 512, 'per_step', 1.0),
        ],
        'train': [
            (1, 32, 'fused', 2.83), (1, 128, 'fused', 2.99), (1, 512, 'fused', 5.46),
            (32, 32, 'fused', 3.16), (32, 128, 'fused', 1.73), (32, 512, 'fused', 1.04),
            (256, 32, 'fused', 2.01), (256, 128, 'per_step', 1.0), (256, 512, 'per_step', 1.0),
        ],
    },
    'MinLSTMCell': {
        'infer': [
            (1, 32, 'fused', 2.01), (1, 128, 'fused', 1.84), (1, 512, 'fused', 3.67),
            (32, 32, 'fused', 1.94), (32, 128, 'per_step', 1.0), (32, 512, 'fused', 1.08),
            (256, 32, 'fused', 1.25), (256, 128, 'per_step', 1.0), (256, 512, 'per_step', 1.0),
        ],
        'train': [
            (1, 32, 'fused', 3.09), (1, 128, 'fused', 3.46), (1, 512, 'fused', 5.02),
            (32, 32, 'fused', 1.95), (32, 128, 'fused', 1.17), (32, 512, 'fused', 1.07),
            (256, 32, 'per_step', 1.0), (256, 128, 'per_step', 1.0), (256, 512, 'per_step', 1.0),
        ],
    },
    'NASCell': {
        'infer': [
            (1, 32, 'fused_xla', 2.43), (1, 128, 'fused_xla', 1.44), (1, 512, 'fused_xla', 1.88),
            (32, 32, 'fused', 1.06), (32, 128, 'per_step', 1.0), (32, 512, 'per_step', 1.0),
            (256, 32, 'per_step', 1.0), (256, 128, 'per_step', 1.0), (256, 512, 'per_step', 1.0),
        ],
        'train': [
            (1, 32, 'fused_xla', 4.16), (1, 128, 'fused_xla', 3.42), (1, 512, 'fused_xla', 3.8),
            (32, 32, 'fused_xla', 1.41), (32, 128, 'fused_batched', 1.34),
            (32, 512, 'per_step', 1.0),
            (256, 32, 'per_step', 1.0), (256, 128, 'per_step', 1.0), (256, 512, 'per_step', 1.0),
        ],
    },
    'PeepholeLSTMCell': {
        'infer': [
            (1, 32, 'fused_xla', 2.33), (1, 128, 'fused_xla', 1.89), (1, 512, 'fused_xla', 2.14),
            (32, 32, 'fused_xla', 1.15), (32, 128, 'fused_xla', 1.4), (32, 512, 'per_step', 1.0),
            (256, 32, 'per_step', 1.0), (256, 128, 'per_step', 1.0), (256, 512, 'per_step', 1.0),
        ],
        'train': [
            (1, 32, 'fused_xla', 3.92), (1, 128, 'fused_xla', 1.96), (1, 512, 'fused_xla', 3.8),
            (32, 32, 'per_step', 1.0), (32, 128, 'per_step', 1.0),
            (32, 512, 'fused_batched', 1.28),
            (256, 32, 'per_step', 1.0), (256, 128, 'per_step', 1.0), (256, 512, 'per_step', 1.0),
        ],
    },
    'Zoneout': {
        'infer': [
            (1, 32, 'fused_xla', 2.57), (1, 128, 'fused_xla', 2.18), (1, 512, 'fused_xla', 2.4),
            (32, 32, 'per_step', 1.0), (32, 128, 'fused_xla', 1.34), (32, 512, 'per_step', 1.0),
            (256, 32, 'fused', 1.15), (256, 128, 'per_step', 1.0), (256, 512, 'per_step', 1.0),
        ],
        'train': [
            (1, 32, 'fused_xla', 4.26), (1, 128, 'fused_xla', 2.82), (1, 512, 'fused_xla', 3.45),
            (32, 32, 'fused_xla', 2.17), (32, 128, 'fused_xla', 1.11), (32, 512, 'per_step', 1.0),
            (256, 32, 'per_step', 1.0), (256, 128, 'per_step', 1.0), (256, 512, 'per_step', 1.0),
        ],
    },
}
