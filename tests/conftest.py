"""Shared test settings: hypothesis profiles, quiet TensorFlow, deterministic seeds.

The suite runs on TensorFlow (`KERAS_BACKEND` unset or "tensorflow"); `tests/backends` is
the cross-backend suite, collected only on JAX and PyTorch (`make test` runs it on both).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# `ci`: bounded, derandomized, no deadline (TensorFlow traces are slow and uneven on 2 cores).
settings.register_profile(
    "ci",
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
# `dev`: more examples for a local deep run: pytest --hypothesis-profile=dev
settings.register_profile("dev", max_examples=100, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


#: directories collected only on another backend than TensorFlow.
collect_ignore = ["backends"] if keras.backend.backend() == "tensorflow" else []


@pytest.fixture(autouse=True)
def _reset_keras_state():
    """Every test starts from float32 and a fixed seed, whatever the previous test set."""
    keras.mixed_precision.set_global_policy("float32")
    keras.utils.set_random_seed(1234)
    yield
    keras.mixed_precision.set_global_policy("float32")
