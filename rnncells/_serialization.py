"""Serialization helpers shared by the whole package."""

import keras

#: Decorator registering a class with Keras under the package name "rnncells", so that
#: `.keras` files and configs refer to it as "rnncells>ClassName".
keras_serializable = keras.saving.register_keras_serializable(package="rnncells")
