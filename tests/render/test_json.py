"""JSON: values that sympy reads back, floats beside them, null for undefined, booleans as such."""

from __future__ import annotations

import json

import solver
from solver.render import json as json_render

from ..conftest import PROBLEMS


def test_several_files_give_a_list_and_one_file_an_object():
    one = json.loads(json_render.render(solver.solve_paths([PROBLEMS / "coms573-cnn.yaml"])))
    assert isinstance(one, dict)
    two = json.loads(
        json_render.render(
            solver.solve_paths([PROBLEMS / "coms573-cnn.yaml", PROBLEMS / "ist597-batchnorm.yaml"])
        )
    )
    assert isinstance(two, list) and len(two) == 2


def test_values_and_floats_of_a_batchnorm():
    doc = json.loads(json_render.render(solver.solve_paths([PROBLEMS / "coms573-cnn.yaml"])))
    bn = next(p for p in doc["problems"] if p["id"] == "batchnorm-neurons")
    assert bn["answers"]["mean"] == {
        "value": ["13", "5", "0"],
        "float": [13.0, 5.0, 0.0],
        "latex": r"\begin{bmatrix} 13 & 5 & 0 \end{bmatrix}",
        "type": "vector",
    }
    assert bn["answers"]["output"]["value"][0] == ["-1", "-11", "9"]


def test_steps_can_be_left_out():
    doc = json.loads(
        json_render.render(solver.solve_paths([PROBLEMS / "coms573-cnn.yaml"]), steps=False)
    )
    assert all("steps" not in p for p in doc["problems"])
