"""Run tensorflow-addons' rnn tests and Keras's ConvLSTM tests against rnncells.

    python scripts/run_upstream_tests.py --tfa ../addons --keras ../keras [-- pytest args]

`--tfa`: a checkout of github.com/tensorflow/addons (its last commit); `--keras`: a checkout of
github.com/keras-team/keras at the installed Keras's tag (e.g. v3.15.1). Either may be left
out. The test files are copied to a temporary directory (never into this repository) with only
the imports swapped, every expected number kept:

- tfa: `from tensorflow_addons.rnn import X` -> `from rnncells import X`,
  `import tensorflow.keras as keras` -> `import keras`, `tf.keras.` -> `keras.`, and Keras 2's
  variable names `"scope/name:0"` compared with `.name` -> Keras 3's `.path` `"scope/name"`.
- Keras: `from keras.src import layers` -> `import rnncells as layers` (so `layers.ConvLSTM2D`
  is rnncells'), `ConvLSTMCell` -> `rnncells.ConvLSTMCell`, and the internal
  `ConvLSTM(rank=...)` base class -> rnncells.ConvLSTM1D/2D/3D by rank.

Expected (see docs/migrating_from_tfa.md): every Keras test passes; every tfa test passes
except the three that compare whole Keras 2 config dicts (and one tfa itself skips on
TensorFlow >= 2.13).
"""

import argparse
import os
import pathlib
import re
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[1]

TFA_RULES = [
    (r"^from tensorflow_addons\.rnn import ", "from rnncells import "),
    (r"^import tensorflow\.keras as keras$", "import keras"),
    (r"tf\.keras\.", "keras."),
    (r'\.name == "([^"]*):0"', r'.path == "\1"'),
]
KERAS_RULES = [
    (r"^from keras\.src import layers$", "import rnncells as layers"),
    (r"^from keras\.src\.layers\.rnn\.conv_lstm import ConvLSTM$",
     "from conv_lstm_by_rank import ConvLSTM"),
    (r"^from keras\.src\.layers\.rnn\.conv_lstm import ConvLSTMCell$",
     "from rnncells import ConvLSTMCell"),
]
CONV_LSTM_BY_RANK = '''import rnncells


def ConvLSTM(rank, **kwargs):
    return {1: rnncells.ConvLSTM1D, 2: rnncells.ConvLSTM2D, 3: rnncells.ConvLSTM3D}[rank](
        **kwargs)
'''


def swap(source, rules):
    for pattern, replacement in rules:
        source = re.sub(pattern, replacement, source, flags=re.MULTILINE)
    return source


def copy_tests(files, rules, target):
    target.mkdir(parents=True)
    for path in files:
        (target / path.name).write_text(swap(path.read_text(), rules))
    return sorted(files)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tfa", type=pathlib.Path, help="checkout of tensorflow/addons")
    parser.add_argument("--keras", type=pathlib.Path, help="checkout of keras-team/keras")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)
    if args.tfa is None and args.keras is None:
        parser.error("give --tfa and/or --keras")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        suites = []
        if args.tfa is not None:
            files = list((args.tfa / "tensorflow_addons" / "rnn" / "tests").glob("*_test.py"))
            copy_tests(files, TFA_RULES, tmp / "tfa")
            suites.append(tmp / "tfa")
        if args.keras is not None:
            files = list((args.keras / "keras" / "src" / "layers" / "rnn").glob(
                "conv_lstm*_test.py"))
            copy_tests(files, KERAS_RULES, tmp / "keras")
            (tmp / "keras" / "conv_lstm_by_rank.py").write_text(CONV_LSTM_BY_RANK)
            suites.append(tmp / "keras")
        status = 0
        for suite in suites:
            command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                       "--rootdir", str(suite), str(suite), *args.pytest_args]
            env_path = f"{REPO}:{suite}"
            print(f"== {suite.name}: {' '.join(command)}", flush=True)
            result = subprocess.run(command, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
                                                  "PYTHONPATH": env_path})
            status = status or result.returncode
        return status


if __name__ == "__main__":
    sys.exit(main())
