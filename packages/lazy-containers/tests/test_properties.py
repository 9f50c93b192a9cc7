"""Property tests: any container's JSON link rebuilds the same container, credentials never leak."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from spatialdata.transformations import Affine, Identity, Scale, Sequence, Translation

from spatialdata_plugins.lazy_containers import (
    CSVPointsContainer,
    H5ADTableContainer,
    LazyContainer,
    OMETiffImageContainer,
    ParquetPointsContainer,
    ParquetShapesContainer,
)

names = st.text(alphabet=st.characters(categories=("L", "N"), include_characters="_-"), min_size=1, max_size=12)
numbers = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False).filter(lambda v: abs(v) > 1e-3)
transformations = st.one_of(
    st.none(),
    st.just(Identity()),
    st.builds(lambda a, b: Scale([a, b], axes=("x", "y")), numbers, numbers),
    st.builds(lambda a, b: Translation([a, b], axes=("x", "y")), numbers, numbers),
    st.builds(
        lambda a, b, c, d: Affine([[a, b, c], [b, a, d], [0, 0, 1]], input_axes=("x", "y"), output_axes=("x", "y")),
        numbers,
        numbers,
        numbers,
        numbers,
    ),
    st.builds(
        lambda a, b: Sequence([Scale([a, a], axes=("x", "y")), Translation([b, b], axes=("x", "y"))]), numbers, numbers
    ),
)
# a valid mapping names each column for one role at most
mappings = st.dictionaries(st.sampled_from(["x", "y", "z", "gene", "instance"]), names, max_size=5).filter(
    lambda m: len(set(m.values())) == len(m)
)
locations = st.one_of(
    names.map(lambda n: f"/data/{n}.file"),
    st.tuples(names, names).map(lambda t: f"s3://{t[0].lower()}-bucket/{t[1]}.file"),
)


@st.composite
def containers(draw):
    common = {
        "key": draw(names),
        "coordinate_system": draw(names),
        "transformation": draw(transformations),
        "storage_options": draw(st.dictionaries(st.sampled_from(["anon", "endpoint_url", "key", "secret"]), names)),
        "integrity": draw(st.sampled_from(["stat", "checksum", "none"])),
        "on_change": draw(st.sampled_from([None, "warn", "raise", "ignore"])),
    }
    location = draw(locations)
    kind = draw(st.sampled_from(["shapes", "points", "csv", "image", "table"]))
    if kind == "shapes":
        return ParquetShapesContainer(location, radius=draw(st.one_of(st.none(), numbers, names)), **common)
    if kind == "points":
        return ParquetPointsContainer(location, columns=draw(mappings), **common)
    if kind == "csv":
        return CSVPointsContainer(
            location, columns=draw(mappings), sep=draw(st.sampled_from([",", "\t", ";"])), **common
        )
    if kind == "image":
        channels = draw(st.one_of(st.none(), st.lists(names, min_size=1, max_size=4)))
        return OMETiffImageContainer(location, level=draw(st.integers(0, 5)), channel_names=channels, **common)
    region = draw(st.one_of(st.none(), names))
    keys = {"region": region, "region_key": "region", "instance_key": "cell"} if region else {}
    return H5ADTableContainer(location, **keys, **common)


@settings(max_examples=150, deadline=None)
@given(containers())
def test_json_round_trip(container):
    text = container.to_json()
    spec = json.loads(text)
    assert "key" not in spec["storage_options"] and "secret" not in spec["storage_options"]
    again = LazyContainer.from_json(text)
    assert type(again) is type(container)
    assert again == container
    assert again.to_dict() == container.to_dict()
    assert again.describe() == container.describe()
