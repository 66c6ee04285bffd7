# Two entry points, each works on a fresh clone: `make demo`, `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# CPU build of TensorFlow by default; `make TF_EXTRA=and-cuda test` on a CUDA machine.
TF_EXTRA ?= cpu
# The cross-backend tests need PyTorch: this release's CPU build (a plain `torch` from the
# registry brings several GB of CUDA libraries). Installed once per venv, before the extras.
TORCH ?= torch==2.13.0
# TensorFlow's numbers for the cross-backend suite, written once per `make test` and read by
# the JAX and the PyTorch runs.
TF_REFERENCE := .test-reference
# Where `make test` builds the documentation site to check it (a broken link fails).
DOCS_CHECK := .test-site

.PHONY: demo test docs docs-serve bench mutants dist clean

$(VENV)/.installed-%: setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(if $(filter test,$*),$(PY) -m pip install --quiet "$(TORCH)")
	$(PY) -m pip install --quiet -e ".[$(TF_EXTRA),$*]"
	touch $@

demo: $(VENV)/.installed-demo
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m rnncells demo

# The whole suite on TensorFlow (two workers) and, beside it, TensorFlow's numbers for the
# cross-backend suite (measured in the CPU time the suite leaves idle; its log is printed if
# it fails), which then runs (with the 0.1.0 files) on JAX and on PyTorch against them.
# Two workers on two cores: each TensorFlow and PyTorch worker on one thread (`THREADS`),
# measured 6-9% (TensorFlow) and 16% (PyTorch) faster than their default thread pools
# there; three TensorFlow workers were slower (docs/development.md).
BACKEND_TESTS := tests/backends tests/test_legacy_files.py tests/test_sequence_errors.py \
	tests/test_precise_statistics.py tests/cells/test_batch_norm_math.py \
	tests/kernels/test_statistics_contract.py
THREADS := TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=2 OMP_NUM_THREADS=1
test: $(VENV)/.installed-test
	$(PY) -m ruff check rnncells tests benchmarks examples scripts
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir $(DOCS_CHECK)
	rm -rf $(TF_REFERENCE) $(TF_REFERENCE).log
	$(THREADS) TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m tests.backends.tf_reference measure \
		$(TF_REFERENCE) > $(TF_REFERENCE).log 2>&1 & measure=$$!; \
	$(THREADS) TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m pytest -p no:cacheprovider \
		--hypothesis-profile=ci -n 2; \
	status=$$?; \
	if ! wait $$measure; then cat $(TF_REFERENCE).log; echo "tf_reference measure failed"; \
		exit 1; fi; \
	exit $$status
	RNNCELLS_TF_REFERENCE=$(TF_REFERENCE) KERAS_BACKEND=jax $(PY) -m pytest -p no:cacheprovider \
		--hypothesis-profile=ci -n 2 $(BACKEND_TESTS)
	$(THREADS) RNNCELLS_TF_REFERENCE=$(TF_REFERENCE) KERAS_BACKEND=torch $(PY) -m pytest \
		-p no:cacheprovider --hypothesis-profile=ci -n 2 $(BACKEND_TESTS)

# The documentation site (docs/, mkdocs.yml) into site/, in strict mode: a broken link, a
# missing page or an API name that does not resolve fails the build.
docs: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

docs-serve: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs serve

# Mutation testing: a kept list of one-line source mutations (tests/mutants/run.py), each run
# against its test files in a temporary copy; prints which mutants survive (~10-15 minutes).
mutants: $(VENV)/.installed-test
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m tests.mutants.run

bench: $(VENV)/.installed-test
	$(PY) -m benchmarks.sweep --quick

# The long-memory tasks, every task small (docs/tasks.md; minutes on a 2-core CPU).
.PHONY: tasks
tasks: $(VENV)/.installed-test
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m benchmarks.tasks --quick

# sdist + wheel in dist/, checked by twine (metadata, README rendering).
dist: $(VENV)/.installed-test
	$(PY) -m pip install --quiet build twine
	rm -rf dist
	$(PY) -m build --outdir dist .
	$(PY) -m twine check --strict dist/*

clean:
	rm -rf $(VENV) build dist site *.egg-info $(TF_REFERENCE) $(TF_REFERENCE).log $(DOCS_CHECK)
