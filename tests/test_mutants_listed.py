"""The kept mutants (`tests/mutants/run.py`) still apply: each one's line is in the source
exactly once and its test files exist, so a refactor cannot leave a mutant stale unnoticed
until someone runs `make mutants`."""

import shutil

import pytest

from tests.mutants.run import MUTANTS, ROOT, apply


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_the_mutant_applies_to_the_source_and_names_existing_tests(mutant, tmp_path):
    copy = tmp_path / mutant.path
    copy.parent.mkdir(parents=True)
    shutil.copy(ROOT / mutant.path, copy)
    assert apply(mutant, tmp_path), f"{mutant.name}: its line is not in {mutant.path} once"
    assert copy.read_text() != (ROOT / mutant.path).read_text()
    files = [t.split("::")[0] for t in mutant.tests if t.endswith(".py") or "::" in t]
    assert files, mutant.name
    for name in files:
        assert (ROOT / name).is_file(), f"{mutant.name}: no test file {name}"


def test_a_stale_mutant_is_told_apart(tmp_path):
    mutant = MUTANTS[0]
    copy = tmp_path / mutant.path
    copy.parent.mkdir(parents=True)
    copy.write_text("nothing of the original line here\n")
    assert not apply(mutant, tmp_path)
