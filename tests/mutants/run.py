"""Mutation testing of the package: `make mutants` (or `python -m tests.mutants.run`).

Each mutant in MUTANTS is a one-line change of rnncells' source (a swapped gate, a hard-wired
activation, a dropped norm, an off-by-one, ...). For each, the repository's `rnncells/`,
`tests/` and pytest settings are copied to a temporary directory, the line is changed there
(never in the working tree), and the test files named for that mutant run against the copy
(`-x`, the `ci` hypothesis profile). A mutant is *killed* when a test fails, *survives* when
every test passes; a mutant whose original line is no longer in the source is reported as
*stale* (update the list). A test run that ends without a test failing (pytest's exit codes
2-5: interrupted, an internal or usage error, no test collected, e.g. a `-k` that matches
nothing) kills nothing: the mutant is reported as an *error*. Prints one line per mutant and
a summary; exits 1 if any mutant survives, times out or errs. The healthy suite is
`make test`; a mutant's tests must pass there.

    python -m tests.mutants.run [--list] [name ...]
"""

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class Mutant:
    name: str
    path: str  # file under the repository root
    original: str  # exact text of the line's code (stripped), unique in the file
    mutated: str
    tests: tuple  # pytest arguments (files, -k expressions)


MUTANTS = [
    Mutant("gru_candidate_tanh_hard_wired", "rnncells/cells/updates.py",
           "candidate = activation(x_h + r * h_h)",
           "candidate = __import__(\"keras\").activations.tanh(x_h + r * h_h)",
           ("tests/cells/test_cell_activations.py",)),
    Mutant("ln_simple_rnn_tanh_hard_wired", "rnncells/cells/layer_norm.py",
           "h = self.activation(h)", "h = __import__(\"keras\").activations.tanh(h)",
           ("tests/cells/test_cell_activations.py",)),
    Mutant("lstm_input_forget_swapped", "rnncells/cells/updates.py",
           "c = recurrent_activation(z_f) * c_tm1 + recurrent_activation(z_i) * activation(z_g)",
           "c = recurrent_activation(z_i) * c_tm1 + recurrent_activation(z_f) * activation(z_g)",
           ("tests/cells/test_layer_norm.py",)),
    Mutant("gru_update_gate_flipped", "rnncells/cells/updates.py",
           "return z * h_tm1 + (1 - z) * candidate", "return (1 - z) * h_tm1 + z * candidate",
           ("tests/cells/test_conv.py",)),
    Mutant("ln_lstm_input_norm_dropped", "rnncells/cells/layer_norm.py",
           "z = layer_norm(self.input_projection(inputs, training), self.kernel_norm_gamma,",
           "z = (lambda v, *a: v)(self.input_projection(inputs, training), "
           "self.kernel_norm_gamma,",
           ("tests/cells/test_layer_norm.py",)),
    Mutant("peephole_output_gate_reads_old_c", "rnncells/cells/peephole.py",
           "o = self.recurrent_activation(z_o + p_o * c)",
           "o = self.recurrent_activation(z_o + p_o * c_tm1)",
           ("tests/cells/test_peephole.py",)),
    Mutant("bn_statistics_index_off_by_one", "rnncells/cells/batch_norm_statistics.py",
           "return ops.clip(step, 0, max_steps - 1)",
           "return ops.clip(step, 0, max_steps - 2)",
           ("tests/cells/test_batch_norm.py",)),
    Mutant("bn_moving_update_rate_is_momentum", "rnncells/cells/batch_norm_statistics.py",
           "coef = ops.take(ops.reshape(present * (1.0 - momentum) * later, (-1,)), keys, axis=0)",
           "coef = ops.take(ops.reshape(present * momentum * later, (-1,)), keys, axis=0)",
           ("tests/cells/test_batch_norm.py", "tests/cells/test_batch_norm_training.py")),
    Mutant("bn_synchronized_records_local_rows", "rnncells/cells/batch_norm.py",
           "if groups is not None:", "if False:",
           ("tests/cells/test_batch_norm_training.py", "-k", "mirrored")),
    Mutant("min_gru_gate_sign", "rnncells/cells/minimal.py",
           "a = ops.sigmoid(-k_z)", "a = ops.sigmoid(k_z)", ("tests/cells/test_minimal.py",)),
    Mutant("esn_leak_swapped", "rnncells/cells/esn.py",
           "h = (1 - self.leaky) * h_tm1 + self.leaky * candidate",
           "h = self.leaky * h_tm1 + (1 - self.leaky) * candidate",
           ("tests/cells/test_esn.py",)),
    Mutant("indrnn_bound_exponent", "rnncells/cells/indrnn.py",
           "max_abs = None if max_steps is None else 2.0 ** (1.0 / max_steps)",
           "max_abs = None if max_steps is None else 2.0 ** (2.0 / max_steps)",
           ("tests/cells/test_indrnn.py", "tests/cells/test_indrnn_long_jacobian.py")),
    Mutant("zoneout_inference_expectation_swapped", "rnncells/cells/zoneout.py",
           "return rate * previous + (1 - rate) * new",
           "return (1 - rate) * previous + rate * new",
           ("tests/cells/test_zoneout_dropconnect.py",)),
    Mutant("dropout_mask_redrawn_every_step", "rnncells/cells/base.py",
           "if self._dropout_mask is None and self.dropout > 0:", "if self.dropout > 0:",
           ("tests/cells/test_layer_norm.py", "-k", "dropout")),
    Mutant("leaky_relu_slope_ignored", "rnncells/activations.py",
           "return keras.ops.leaky_relu(x, negative_slope=self.negative_slope)",
           "return keras.ops.leaky_relu(x, negative_slope=0.2)",
           ("tests/cells/test_cell_activations.py",)),
    Mutant("scan_masked_step_resets_state", "rnncells/kernels/ops_loop.py",
           "a = ops.where(step_mask, a, ops.ones_like(a))",
           "a = ops.where(step_mask, a, ops.zeros_like(a))",
           ("tests/test_combinations.py", "-k", "masking")),
    Mutant("scan_masked_prefix_off_by_one", "rnncells/kernels/ops_loop.py",
           'keep = ops.cumsum(ops.cast(step_mask, "int32"), axis=1) > 0',
           'keep = ops.cumsum(ops.cast(step_mask, "int32"), axis=1) >= 0',
           ("tests/kernels/test_fused.py",)),
    Mutant("statistics_resolve_mask_dropped", "rnncells/cells/batch_norm.py",
           "resolve_mask=self.resolve_mask)", "resolve_mask=None)",
           ("tests/cells/test_batch_norm_statistics.py", "-k",
            "masking_layer_in_front_of_fused_rnn")),
    Mutant("go_backwards_ignored", "rnncells/kernels/inputs.py",
           "return ops.flip(x, axis=axis) if go_backwards else x", "return x",
           ("tests/kernels/test_fused.py",)),
    Mutant("fused_go_backwards_ignored", "rnncells/layers/fused_rnn.py",
           "sequences, mask = kernel_inputs.prepare(self.cell, sequences, mask, self.go_backwards)",
           "sequences, mask = kernel_inputs.prepare(self.cell, sequences, mask, False)",
           ("tests/kernels/test_fused.py",)),
    Mutant("export_go_backwards_ignored", "rnncells/kernels/export_loop.py",
           "sequences, mask = kernel_inputs.prepare(layer.cell, sequences, mask, "
           "layer.go_backwards)",
           "sequences, mask = kernel_inputs.prepare(layer.cell, sequences, mask, False)",
           ("tests/export/test_export_loop.py",)),
    Mutant("unit_health_dead_if_any_zero", "rnncells/diagnostics/unit_health.py",
           "site_dead = int((y <= 0).all(axis=(0, 1)).sum())",
           "site_dead = int((y <= 0).any(axis=(0, 1)).sum())",
           ("tests/diagnostics/test_unit_health.py",)),
    Mutant("verdict_exploding_reported_healthy", "rnncells/diagnostics/gradient_flow.py",
           'return "exploding"', 'return "healthy"',
           ("tests/diagnostics/test_gradient_flow.py", "tests/diagnostics/test_cli.py")),
    Mutant("route_timesteps_ignored", "rnncells/layers/routes.py",
           "return sum((math.log2(max(c, 1)) - math.log2(p)) ** 2 "
           "for c, p in zip(call, point[:3]))",
           "return sum((math.log2(max(c, 1)) - math.log2(p)) ** 2 "
           "for c, p in zip(call, point[:2]))",
           ("tests/kernels/test_routes.py",)),
    Mutant("keras_export_not_detected", "rnncells/_compat.py",
           "found = EXPORT_TRACING_MODULES.get(frame.f_globals.get(\"__name__\"))",
           "found = None",
           ("tests/export/test_export.py", "tests/test_compat.py")),
    Mutant("inherited_step_vjp_kept", "rnncells/cells/base.py",
           "if spec.step_vjp is not None and not fast_path_holds(",
           "if False and not fast_path_holds(",
           ("tests/kernels/test_inherited_fast_paths.py", "-k", "not mutant")),
    Mutant("inherited_scan_kept", "rnncells/cells/base.py",
           "if spec.scan and not fast_path_holds(", "if False and not fast_path_holds(",
           ("tests/kernels/test_inherited_fast_paths.py", "-k", "not mutant")),
    Mutant("unit_health_unmeasured_is_zero", "rnncells/diagnostics/unit_health.py",
           "dead_fraction=dead / relu_units if relu_units else None,",
           "dead_fraction=dead / relu_units if relu_units else 0.0,",
           ("tests/diagnostics/test_unit_health.py",)),
]


def _copy_tree(dest):
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", "*.keras")
    for name in ("rnncells", "tests"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    for name in ("pyproject.toml", "setup.cfg"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, dest / name)


def apply(mutant, dest):
    """Change the mutant's line in the copy; False when the original line is not found once."""
    path = dest / mutant.path
    lines = path.read_text().splitlines(keepends=True)
    hits = [i for i, line in enumerate(lines) if line.strip() == mutant.original.strip()
            or line.strip().startswith(mutant.original.strip()) and mutant.original.endswith(",")]
    if len(hits) != 1:
        return False
    i = hits[0]
    indent = lines[i][:len(lines[i]) - len(lines[i].lstrip())]
    lines[i] = indent + lines[i].strip().replace(mutant.original.strip(),
                                                 mutant.mutated.strip()) + "\n"
    path.write_text("".join(lines))
    return True


def run_tests(dest, tests, timeout):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(dest),
           "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
               "--hypothesis-profile=ci", *tests]
    try:
        done = subprocess.run(command, cwd=dest, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timeout"
    tail = [line for line in done.stdout.splitlines() if line.strip()][-1:]
    return done.returncode, tail[0] if tail else ""


def check_copy_is_imported(dest):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(dest)}
    out = subprocess.run([sys.executable, "-c", "import rnncells; print(rnncells.__file__)"],
                         cwd=dest, env=env, capture_output=True, text=True, check=True).stdout
    if not Path(out.strip()).resolve().is_relative_to(dest.resolve()):
        raise SystemExit(f"the copy's rnncells is not the one imported: {out.strip()}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="run only these mutants")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per mutant")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.names or m.name in args.names]
    if args.list:
        for m in chosen:
            print(f"{m.name}: {m.path}: {m.original!r} -> {m.mutated!r}")
        return 0
    results = {"killed": [], "survived": [], "stale": [], "timeout": [], "error": []}
    with tempfile.TemporaryDirectory(prefix="rnncells-mutants-") as tmp:
        base = Path(tmp) / "base"
        _copy_tree(base)
        check_copy_is_imported(base)
        for m in chosen:
            work = Path(tmp) / m.name
            shutil.copytree(base, work)
            start = time.perf_counter()
            if not apply(m, work):
                results["stale"].append(m.name)
                print(f"STALE     {m.name}: {m.original!r} not found once in {m.path}",
                      flush=True)
                continue
            code, tail = run_tests(work, m.tests, args.timeout)
            seconds = time.perf_counter() - start
            # pytest exits 1 when a test failed; 2-5 mean no test could fail (see above)
            status = ("timeout" if code is None else "survived" if code == 0
                      else "killed" if code == 1 else "error")
            results[status].append(m.name)
            print(f"{status.upper():9} {m.name} ({seconds:.0f} s; {' '.join(m.tests)}): {tail}",
                  flush=True)
            shutil.rmtree(work, ignore_errors=True)
    print(f"\n{len(results['killed'])} killed, {len(results['survived'])} survived, "
          f"{len(results['stale'])} stale, {len(results['timeout'])} timed out, "
          f"{len(results['error'])} errors "
          f"of {len(chosen)} mutants")
    for status in ("survived", "stale", "timeout", "error"):
        if results[status]:
            print(f"{status}: {', '.join(results[status])}")
    return 1 if results["survived"] or results["timeout"] or results["error"] else 0


if __name__ == "__main__":
    sys.exit(main())
