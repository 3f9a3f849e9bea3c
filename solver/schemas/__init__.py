"""JSON Schema files of the JSON dlsolve writes, shipped with the package.

``solve`` is what ``dlsolve solve --format json`` prints, ``check`` what
``dlsolve check --format json`` prints, ``report`` the REPORT.json that
``dlsolve reproduce`` writes. The documentation's format pages are generated
from these files and the tests validate real output against them, so a change
to an output that is not made here too fails the suite.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

NAMES = ("solve", "check", "report")


def text(name: str) -> str:
    """The schema file ``<name>.schema.json`` as shipped."""
    return resources.files(__package__).joinpath(f"{name}.schema.json").read_text("utf-8")


def load(name: str) -> dict[str, Any]:
    """The schema ``name`` as a dict."""
    return json.loads(text(name))
