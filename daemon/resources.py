"""Where the package's data lies: rules/, templates/ and demo/.

In the source tree (and an editable install) they are top-level folders beside daemon/; an installed
wheel carries them inside the package as daemon/_data/<name> (pyproject maps them there). Either
way the code asks here, so `pip install .` gives a working `ribao` run from any folder.
"""
from __future__ import annotations

import importlib.resources
from pathlib import Path

_SOURCE = Path(__file__).resolve().parent.parent


def data_dir(name: str) -> Path:
    """The folder of package data `name` ("rules", "templates", "demo")."""
    packaged = Path(str(importlib.resources.files("daemon").joinpath("_data", name)))
    if packaged.is_dir():
        return packaged
    return _SOURCE / name
