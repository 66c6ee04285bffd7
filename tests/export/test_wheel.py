"""The built wheel installs into a fresh virtualenv and imports (not the source tree's copy)."""

import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_virtualenv_and_imports(tmp_path):
    if not (ROOT / "setup.cfg").exists():
        pytest.skip("needs the project root (setup.cfg) to build the wheel")
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--wheel-dir", str(wheels), str(ROOT)],
                   check=True, cwd=tmp_path)
    (wheel,) = wheels.glob("rnncells-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith("/LICENSE")
               for n in names), names
    assert "rnncells/streaming.py" in names and not any(n.startswith("tests/") for n in names)

    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; "
                              "print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    # TensorFlow, Keras and NumPy come from this environment (no download); rnncells only
    # from the wheel: a path in a .pth file does not run that directory's own .pth files,
    # so an editable install of rnncells here stays out of the new environment.
    pathlib.Path(purelib, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", purelib, str(wheel)], check=True)
    out = subprocess.run(
        [str(python), "-c", "import rnncells; print(rnncells.__file__); "
         "print(callable(rnncells.streaming_model), callable(rnncells.export))"],
        check=True, capture_output=True, text=True, cwd=tmp_path,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ""}).stdout.split()
    assert pathlib.Path(out[0]).is_relative_to(env_dir), out
    assert out[1:] == ["True", "True"]


#: what the sdist must carry besides the package: the whole test suite, docs, examples,
#: benchmarks (so `pytest` in an unpacked sdist collects what it collects here).
SDIST_TREES = ("tests", "docs", "examples", "benchmarks")
SKIPPED = ("__pycache__", ".hypothesis", ".pytest_cache")


def _missing_from_sdist(root, outdir):
    """Files of `root`'s test suite, docs, examples, benchmarks that its sdist lacks."""
    subprocess.run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir",
                    str(outdir), str(root)], check=True, capture_output=True)
    (sdist,) = pathlib.Path(outdir).glob("rnncells-*.tar.gz")
    with tarfile.open(sdist) as archive:
        members = {pathlib.PurePosixPath(*pathlib.PurePosixPath(n).parts[1:]).as_posix()
                   for n in archive.getnames()}
    expected = {"LICENSE", "README.md", "Makefile", "setup.cfg", "pyproject.toml"}
    for tree in SDIST_TREES:
        for path in (root / tree).rglob("*"):
            if path.is_file() and not any(part in SKIPPED for part in path.parts) \
                    and path.suffix != ".pyc":
                expected.add(path.relative_to(root).as_posix())
    return sorted(expected - members)


@pytest.mark.slow
def test_sdist_carries_the_test_suite_docs_examples_and_benchmarks(tmp_path):
    pytest.importorskip("build", reason="`build` builds the sdist (the test extra has it)")
    if not (ROOT / "MANIFEST.in").exists():
        pytest.skip("needs the project root (MANIFEST.in) to build the sdist")
    assert _missing_from_sdist(ROOT, tmp_path / "dist") == []
    # The mutant: the same project without MANIFEST.in ships no docs, examples, benchmarks.
    copy = tmp_path / "copy"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", *SKIPPED))
    (copy / "MANIFEST.in").unlink()
    missing = _missing_from_sdist(copy, tmp_path / "dist_mutant")
    assert any(m.startswith("docs/") for m in missing), missing
