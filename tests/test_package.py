"""Package-level behaviour: the public API, and a clear error where the backend is missing."""

import subprocess
import sys

import pytest

import rnncells


def test_public_api_is_exported():
    for name in rnncells.__all__:
        assert getattr(rnncells, name) is not None


def _import_error(backend, hidden=None):
    """stderr of `import rnncells` in a new process on `backend`, with the package `hidden`
    made invisible to `importlib.util.find_spec` (as when it is not installed)."""
    code = f"import os, importlib.util\nos.environ['KERAS_BACKEND'] = {backend!r}\n"
    if hidden:
        code += ("real = importlib.util.find_spec\n"
                 f"importlib.util.find_spec = lambda n, *a: None if n == {hidden!r} "
                 "else real(n, *a)\n")
    code += "import rnncells\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0
    return result.stderr


def test_import_without_tensorflow_names_what_to_install():
    stderr = _import_error("tensorflow", hidden="tensorflow")
    assert "rnncells[cpu]" in stderr and "tensorflow[and-cuda]" in stderr


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_import_on_a_backend_whose_package_is_missing_names_the_extra(backend):
    assert f"rnncells[{backend}]" in _import_error(backend, hidden=backend)


def test_import_with_another_keras_backend_is_refused():
    stderr = _import_error("numpy")
    assert "KERAS_BACKEND" in stderr
    assert all(name in stderr for name in ("'tensorflow'", "'jax'", "'torch'"))
