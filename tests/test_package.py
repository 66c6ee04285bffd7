"""Package-level behaviour: the public API, and a clear error without TensorFlow."""

import subprocess
import sys

import rnncells


def test_public_api_is_exported():
    for name in rnncells.__all__:
        assert getattr(rnncells, name) is not None


def test_import_without_tensorflow_names_what_to_install():
    code = (
        "import sys, importlib.util\n"
        "real = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda n, *a: None if n == 'tensorflow' else real(n, *a)\n"
        "import rnncells\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0
    assert "rnncells[cpu]" in result.stderr and "tensorflow[and-cuda]" in result.stderr


def test_import_with_another_keras_backend_is_refused():
    code = "import os; os.environ['KERAS_BACKEND'] = 'numpy'\nimport rnncells\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0
    assert "KERAS_BACKEND" in result.stderr
    assert all(name in result.stderr for name in ("'tensorflow'", "'jax'", "'torch'"))


def test_import_on_a_backend_whose_package_is_missing_names_the_extra():
    code = (
        "import os, sys, importlib.util\n"
        "os.environ['KERAS_BACKEND'] = 'jax'\n"
        "real = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda n, *a: None if n == 'jax' else real(n, *a)\n"
        "import rnncells\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0
    assert "rnncells[jax]" in result.stderr
