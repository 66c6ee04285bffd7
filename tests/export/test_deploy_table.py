"""benchmarks/deploy.py on one cell: every path (.keras, SavedModel, LiteRT, ONNX, streaming
in Keras and LiteRT) agrees with predict, and the results file is written."""

import io
import json

import pytest

pytest.importorskip("ai_edge_litert", reason="the export extra: pip install 'rnncells[export]'")
pytest.importorskip("onnxruntime", reason="the export extra: pip install 'rnncells[export]'")

from benchmarks import deploy  # noqa: E402

PATHS = ("keras_file", "saved_model", "litert", "onnx", "streaming", "streaming_litert")


@pytest.mark.slow
def test_deploy_table_for_one_cell(tmp_path):
    out = io.StringIO()
    rows, path = deploy.main(["--cells", "BatchNormGRUCell", "--steps", "4", "--repeats", "3",
                              "--out", str(tmp_path)], out=out)
    (row,) = rows
    for key in PATHS:
        assert row[key] <= 1e-5, (key, row[key])
    assert row["litert_kb"] > 0 and row["step_us"] > 0
    assert json.loads(path.read_text())["rows"] == rows
    assert "| BatchNormGRUCell |" in out.getvalue()
