"""``view`` without a browser: layers, placement by transformations, in-memory data, the docs example."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from viewer_helpers import make_sdata

from spatialdata_plugins.core import InvalidArgumentError
from spatialdata_plugins.viewer import gene_shader, view

DOCS = Path(__file__).resolve().parents[3] / "docs" / "viewer.md"


def _matrix(layer) -> np.ndarray | None:
    source = layer.to_json()["source"]
    source = source[0] if isinstance(source, list) else source
    if isinstance(source, str) or "transform" not in source:
        return None
    return np.asarray(source["transform"]["matrix"])


def test_layers_placed_by_their_transformations():
    from spatialdata.transformations import Affine, Scale, set_transformation

    sdata = make_sdata()
    set_transformation(sdata.images["image"], Scale([2.0, 3.0], axes=("x", "y")), to_coordinate_system="scaled")
    rot = Affine(np.array([[0.0, -1.0, 10.0], [1.0, 0.0, 5.0], [0.0, 0.0, 1.0]]), ("x", "y"), ("x", "y"))
    set_transformation(sdata.points["transcripts"], rot, to_coordinate_system="scaled")
    with view(sdata, coordinate_system="scaled", build_index=True, progress=False) as session:
        assert session.layers == {"image": "images", "transcripts": "points"}  # the others have no "scaled"
        state = session.viewer.state
        image = _matrix(state.layers["image"])
        np.testing.assert_allclose(image[:2, :2], [[2, 0], [0, 3]])
        points = _matrix(state.layers["transcripts"])
        np.testing.assert_allclose(points[:2], [[0, -1, 0, 10], [1, 0, 0, 5]])
        assert "<iframe" in session._repr_html_() and session.url in session._repr_html_()
        body = urllib.request.urlopen(f"{session.server.url}/points/transcripts/info", timeout=30).read()
        assert b'"enum_labels": ["A", "B", "C"]' in body
    with pytest.raises(OSError):  # stopped: the data server's socket is closed
        urllib.request.urlopen(f"{session.server.url}/points/transcripts/info", timeout=5)
    with pytest.raises(InvalidArgumentError, match="nowhere"):
        view(sdata, coordinate_system="nowhere")


def test_gene_shader():
    shader = gene_shader(["A", "B", "C"], ["C", "A"])
    assert "g == 2u" in shader and "g == 0u" in shader and "discard" in shader
    assert "discard" not in gene_shader(["A", "B"], None)


def test_docs_example_runs():
    if not DOCS.exists():
        pytest.skip("docs/viewer.md is not beside this package")
    code = re.search(r"```python\n(.*?)```", DOCS.read_text(), flags=re.DOTALL).group(1)
    exec(compile(code, str(DOCS), "exec"), {})
