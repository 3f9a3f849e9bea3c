"""Everything that needs PyTorch lives below this package, and PyTorch is imported lazily.

``import solver`` and ``import cli`` must work on a machine without torch (a
student checking answers needs no GPU stack), so nothing here imports torch,
matplotlib, scikit-learn or tqdm at module level. Code that needs one of them
asks :func:`require` for it and gets the module or a one-line
:class:`~solver.errors.DlsolveError` that says how to install it.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..errors import DlsolveError

if TYPE_CHECKING:
    import torch

#: the pip command for each optional package, by the extra that declares it
INSTALL_HINTS = {
    "torch": 'pip install "dlsolve[torch]" (or pip install torch==2.13.0 on this machine)',
    "matplotlib": 'pip install "dlsolve[train]"',
    "sklearn": 'pip install "dlsolve[train]"',
    "tqdm": 'pip install "dlsolve[train]"',
}

DEVICES = ("auto", "cpu", "cuda")


def require(module: str) -> ModuleType:
    """Import an optional dependency, or raise a DlsolveError that says how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        hint = INSTALL_HINTS.get(top, f"pip install {top}")
        raise DlsolveError(f"this needs {top}, which is not installed: {hint}") from None


def require_torch() -> Any:
    """The ``torch`` module, or a DlsolveError with the install command."""
    return require("torch")


def pick_device(name: str = "auto") -> torch.device:
    """``auto``: CUDA when it is available, else the CPU; ``cuda`` without CUDA is an error."""
    torch = require_torch()
    if name not in DEVICES:
        raise DlsolveError(
            f"unknown device {name!r}: use one of {', '.join(DEVICES)}", field="device"
        )
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    elif name == "cuda" and not torch.cuda.is_available():
        raise DlsolveError(
            "--device cuda was asked for, but this PyTorch sees no CUDA device "
            "(use --device cpu or auto)",
            field="device",
        )
    return torch.device(name)
