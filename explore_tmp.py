import keras, numpy as np, tensorflow as tf, rnncells
from rnncells import FusedRNN
keras.utils.set_random_seed(1234)
x = np.random.default_rng(6).normal(size=(2, 5, 3)).astype("float32")
reference = keras.layers.RNN(rnncells.LayerNormLSTMCell(4), return_sequences=True); reference(x)
keras.mixed_precision.set_global_policy("mixed_float16")
layer = FusedRNN(rnncells.LayerNormLSTMCell(4), return_sequences=True, use_fused=True); layer(x)
layer.set_weights(reference.get_weights())
with tf.GradientTape() as tape:
    loss = tf.reduce_sum(tf.cast(layer(x, training=True), "float32") ** 2)
grads = tape.gradient(loss, layer.trainable_weights)
keras.mixed_precision.set_global_policy("float32")
with tf.GradientTape() as tape:
    loss32 = tf.reduce_sum(reference(x, training=True) ** 2)
print(max(float(np.abs(np.asarray(a, 'float32') - np.asarray(b)).max() / np.abs(np.asarray(b)).max()) for a, b in zip(grads, tape.gradient(loss32, reference.trainable_weights))))
