"""Fixtures of the transforms tests: the vendored OME-Zarr 0.6rc0 examples and schemas (see data/SOURCE.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import zarr

DATA = Path(__file__).parent / "data"
EXAMPLES = DATA / "examples"
SCHEMAS = DATA / "schemas"


def load_example(name: str) -> dict[str, Any]:
    """A vendored example, ``"transformations/scale.json"``."""
    return json.loads((EXAMPLES / name).read_text())


def example_transformation(name: str, index: int = 0) -> dict[str, Any]:
    """The ``index``-th transformation of a vendored example."""
    return load_example(f"transformations/{name}")["coordinateTransformations"][index]


@pytest.fixture(scope="session")
def schema_validator():
    """``validate(instance, "scene.schema")`` with the vendored 0.6rc0 schemas (refs resolved offline)."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    resources = []
    for path in SCHEMAS.glob("*.schema"):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    registry = Registry().with_resources(resources)

    def validate(instance: Any, schema_name: str, definition: str | None = None) -> None:
        schema = json.loads((SCHEMAS / schema_name).read_text())
        if definition is not None:
            schema = {"$ref": f"{schema['$id']}#/$defs/{definition}"}
        Draft202012Validator(schema, registry=registry).validate(instance)

    return validate


def make_image(
    root: zarr.Group, path: str, system: dict[str, Any], transform: dict[str, Any], shape=(4, 5)
) -> zarr.Group:
    """A one-level RFC-5 multiscales group at ``path`` with array ``s0``."""
    g = root.create_group(path)
    g.create_array("s0", shape=shape, dtype="uint8", fill_value=0)
    t = dict(transform, input={"path": "s0"}, output={"name": system["name"]})
    g.attrs["ome"] = {
        "version": "0.6rc0",
        "multiscales": [
            {"coordinateSystems": [system], "datasets": [{"path": "s0", "coordinateTransformations": [t]}]}
        ],
    }
    return g


def space(name: str, axes: str = "yx") -> dict[str, Any]:
    """A coordinate system with space axes named by the letters of ``axes``."""
    return {"name": name, "axes": [{"name": a, "type": "space", "unit": "micrometer"} for a in axes]}


@pytest.fixture(name="example", scope="session")
def _example():
    """``example(name, index=0)``: the ``index``-th transformation of a vendored example (a dict)."""
    return example_transformation


@pytest.fixture(name="load_example", scope="session")
def _load_example():
    """``load_example("scene/scene_stitching.json")``: a whole vendored example."""
    return load_example


@pytest.fixture(name="make_image", scope="session")
def _make_image():
    """``make_image(root, path, system, transform, shape)``: a one-level RFC-5 multiscales group."""
    return make_image


@pytest.fixture(name="space", scope="session")
def _space():
    """``space(name, "yx")``: a coordinate system of space axes."""
    return space
