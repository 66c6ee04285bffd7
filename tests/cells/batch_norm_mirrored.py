"""Helper run in a subprocess by test_batch_norm_training.py (not a test module itself).

Configures 2 logical CPU devices (must happen before TensorFlow runs any op), trains
RNN(BatchNormLSTMCell(synchronized=True), unroll=True) for one epoch under MirroredStrategy
and on one device from the same initial weights and global batches, the same for a
BatchNormGRUCell(mask_value=0.0) on pre-padded rows (rows at different steps), and prints one
JSON line with the largest differences.
"""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])

import keras  # noqa: E402
import numpy as np  # noqa: E402

from rnncells import BatchNormGRUCell, BatchNormLSTMCell  # noqa: E402

TIMESTEPS, FEATURES, UNITS = 4, 3, 4


def make_model(cell_class=BatchNormLSTMCell, mask_value=None):
    masking = [] if mask_value is None else [keras.layers.Masking(mask_value)]
    model = keras.Sequential([
        keras.Input((TIMESTEPS, FEATURES)),
        *masking,
        keras.layers.RNN(cell_class(UNITS, synchronized=True, momentum=0.5, max_steps=3,
                                    mask_value=mask_value), unroll=True),
        keras.layers.Dense(2),
    ])
    model.compile(keras.optimizers.SGD(0.5), "mse")
    return model


def moving(model):
    return [v.numpy() for v in model.layers[-2].cell.non_trainable_weights]


def single_and_mirrored(strategy, x, y, **model_args):
    """Largest weight and moving-statistics differences after one epoch on one device and on
    the strategy's replicas from the same weights, and the single-device moving statistics."""
    keras.utils.set_random_seed(0)
    single = make_model(**model_args)
    with strategy.scope():
        mirrored = make_model(**model_args)
    mirrored.set_weights(single.get_weights())
    single.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    mirrored.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    weight_diff = max(np.abs(a.numpy() - b.numpy()).max()
                      for a, b in zip(single.trainable_weights, mirrored.trainable_weights))
    moving_diff = max(np.abs(a - b).max() for a, b in zip(moving(single), moving(mirrored)))
    return weight_diff, moving_diff, moving(single)


def main():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, TIMESTEPS, FEATURES)).astype("float32")
    y = rng.normal(size=(32, 2)).astype("float32")
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    weight_diff, moving_diff, statistics = single_and_mirrored(strategy, x, y)
    changed = all(np.abs(m).max() > 0 for m in statistics[::2])

    # GRU, rows at different steps: the first 4 rows of every batch of 8 (the first replica's
    # shard) start with 2 padded steps, which do not advance their counters, so at some
    # positions a replica has no rows at a step that the other replica's rows are at.
    padded = x.copy()
    padded[(np.arange(len(x)) % 8) < 4, :2] = 0.0
    gru_weight_diff, gru_moving_diff, _ = single_and_mirrored(
        strategy, padded, y, cell_class=BatchNormGRUCell, mask_value=0.0)

    # Default (synchronized=False, rolled loop): each replica updates its own ON_READ copy
    # inside the while loop; read outside the replicas, the statistics are their mean.
    with strategy.scope():
        local = keras.Sequential([
            keras.Input((TIMESTEPS, FEATURES)),
            keras.layers.RNN(BatchNormLSTMCell(UNITS, momentum=0.5, max_steps=3)),
            keras.layers.Dense(2)])
        local.compile(keras.optimizers.SGD(0.5), "mse")
    local_before = moving(local)
    local.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    local_after = moving(local)
    local_updated = all(np.all(np.isfinite(a)) and not np.array_equal(a, b)
                        for a, b in zip(local_after, local_before))
    replica_means = all(
        np.allclose(np.mean([r.numpy() for r in v.value.values], axis=0), v.numpy(), atol=1e-6)
        for v in local.layers[0].cell.non_trainable_weights)

    # Inside keras.layers.RNN's while loop TensorFlow forbids the all-reduce: a clear error.
    with strategy.scope():
        looped = keras.layers.RNN(BatchNormLSTMCell(UNITS, synchronized=True))
        looped.build((None, TIMESTEPS, FEATURES))
    message = ""
    try:
        strategy.run(tf.function(lambda v: looped(v, training=True)), args=(x[:4],))
    except RuntimeError as err:
        message = str(err)
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "max_weight_difference": float(weight_diff),
        "max_moving_statistics_difference": float(moving_diff),
        "gru_masked_max_weight_difference": float(gru_weight_diff),
        "gru_masked_max_moving_statistics_difference": float(gru_moving_diff),
        "moving_statistics_changed": bool(changed),
        "loop_error_mentions_unroll": "unroll=True" in message,
        "unsynchronized_loop_updates_statistics": bool(local_updated),
        "unsynchronized_read_is_replica_mean": bool(replica_means),
    }))


if __name__ == "__main__":
    main()
