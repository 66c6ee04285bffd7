"""The package's layering, read from the imports (see docs/architecture.md).

Dependencies point down: layers -> kernels -> cells -> building blocks -> helpers (`_*.py`);
diagnostics and data sit beside and take models, never the package's front door. The rules
are checked on the source with `ast` (nothing is imported), and each rule is shown to catch a
deliberately broken module ("mutant") below.
"""

import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "rnncells"

#: subpackages / modules a layer may not import, by layer (a path prefix under rnncells/).
FORBIDDEN = {
    "cells": ("kernels", "layers", "diagnostics", "datasets", "demo", "cli"),
    "kernels": ("layers", "diagnostics", "datasets", "demo", "cli"),
}
#: the one module allowed to name private TensorFlow / Keras internals.
COMPAT = "_compat.py"
PRIVATE = re.compile(r"^(keras\.src|tensorflow\.python)(\.|$)")
#: the external design notes no repository file may point at (built so this file does not).
OUTSIDE_DOCUMENT = "DESIGN" + ".md"


def submodules():
    """Names importable as `rnncells.<name>` (modules and subpackages)."""
    return {p.stem for p in PACKAGE.glob("*.py")} | {
        p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}


def imported_modules(tree, module_name):
    """(line, imported module, names) for every import of `tree`, relative ones resolved."""
    package = module_name.rsplit(".", 1)[0] if "." in module_name else module_name
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            found.append((node.lineno, base, tuple(alias.name for alias in node.names)))
    return found


def violations(relative_path, source, modules=None):
    """The layering rules `source` (the file rnncells/<relative_path>) breaks, as strings."""
    modules = submodules() if modules is None else modules
    parts = pathlib.PurePosixPath(relative_path).parts
    module_name = ".".join(("rnncells", *parts[:-1], pathlib.PurePosixPath(parts[-1]).stem))
    tree = ast.parse(source)
    layer = parts[0] if len(parts) > 1 else None
    found = []
    for line, module, names in imported_modules(tree, module_name):
        where = f"rnncells/{relative_path}:{line}"
        targets = [module] + [f"{module}.{name}" for name in names]
        inside = [t[len("rnncells."):].split(".")[0] for t in targets
                  if t.startswith("rnncells.")]
        for banned in FORBIDDEN.get(layer, ()):
            if banned in inside:
                found.append(f"{where}: {layer} imports rnncells.{banned}")
        if layer == "diagnostics" and (
                module == "rnncells" and (not names or any(n not in modules for n in names))):
            found.append(f"{where}: diagnostics import the package's front door")
        helper = len(parts) == 1 and parts[0].startswith("_") and not parts[0].startswith("__")
        if helper and (module == "rnncells" and not names
                       or any(not name.startswith("_") for name in inside)):
            found.append(f"{where}: a helper imports a rnncells module above the helpers")
        if relative_path != COMPAT and any(PRIVATE.match(t) for t in targets):
            found.append(f"{where}: private TensorFlow/Keras module {module}")
    if relative_path != COMPAT:
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and PRIVATE.match(
                    node.value):
                found.append(f"rnncells/{relative_path}:{node.lineno}: private name "
                             f"{node.value!r} (dynamic import?)")
    return found


def package_files():
    return sorted(PACKAGE.rglob("*.py"))


def test_the_package_keeps_its_layering():
    modules = submodules()
    found = []
    for path in package_files():
        relative = path.relative_to(PACKAGE).as_posix()
        found += violations(relative, path.read_text(encoding="utf-8"), modules)
    assert found == []
    assert len(package_files()) > 20  # the walk did read the package


# Each mutant breaks one rule; the checker must name it.
MUTANTS = [
    ("cells/mutant.py", "from rnncells.kernels.loop import run\n",
     "cells imports rnncells.kernels"),
    ("cells/mutant.py", "from rnncells import layers\n", "cells imports rnncells.layers"),
    ("cells/mutant.py", "from ..diagnostics import probe\n",
     "cells imports rnncells.diagnostics"),
    ("cells/mutant.py", "import rnncells.datasets.watch\n", "cells imports rnncells.datasets"),
    ("kernels/mutant.py", "from rnncells.layers.fused_rnn import FusedRNN\n",
     "kernels imports rnncells.layers"),
    ("kernels/mutant.py", "from .. import diagnostics\n", "kernels imports rnncells.diagnostics"),
    ("diagnostics/mutant.py", "import rnncells\n", "front door"),
    ("diagnostics/mutant.py", "from rnncells import LayerNormLSTMCell\n", "front door"),
    ("_mutant.py", "from rnncells.cells.dense import split_gates\n", "above the helpers"),
    ("_mutant.py", "from rnncells import activations\n", "above the helpers"),
    ("_mutant.py", "import rnncells\n", "above the helpers"),
    ("cells/mutant.py", "from keras.src.layers import LSTMCell\n", "private"),
    ("kernels/mutant.py", "import tensorflow.python.ops.control_flow_util\n", "private"),
    ("cells/mutant.py", "import importlib\nimportlib.import_module('keras.src.ops')\n",
     "private"),
]


@pytest.mark.parametrize("path, source, expected", MUTANTS)
def test_each_rule_catches_its_mutant(path, source, expected):
    found = violations(path, source)
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize("path, source", [
    ("cells/ok.py", "from rnncells import _validation\nfrom rnncells.cells.base import X\n"),
    ("diagnostics/ok.py", "from rnncells import _validation\nfrom rnncells.cells import base\n"),
    ("kernels/ok.py", "from rnncells.cells.base import RecurrentCell\nfrom . import scan\n"),
    ("_ok.py", "from rnncells import _validation\nfrom rnncells._shapes import as_shape\n"),
    ("_compat.py", "from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell\n"),
])
def test_allowed_imports_pass(path, source):
    assert violations(path, source) == []


def repository_texts():
    """Every text file of the package, tests, benchmarks, examples, docs, and the README."""
    roots = [ROOT / name for name in ("rnncells", "tests", "benchmarks", "examples", "docs")]
    files = [p for root in roots if root.exists() for p in root.rglob("*")
             if p.is_file() and p.suffix in {".py", ".md", ".rst", ".txt", ".cfg", ".toml"}]
    return files + [ROOT / "README.md"]


def points_outside(text):
    return OUTSIDE_DOCUMENT in text


def test_no_file_points_at_documents_outside_the_repository():
    files = repository_texts()
    assert ROOT / "tests" / "test_architecture.py" in files
    mentions = [str(p.relative_to(ROOT)) for p in files
                if points_outside(p.read_text(encoding="utf-8", errors="replace"))]
    assert mentions == []


def test_the_outside_document_check_catches_a_mention():
    assert points_outside("as the notes say (see " + OUTSIDE_DOCUMENT + ")")
    assert not points_outside("see docs/architecture.md")
