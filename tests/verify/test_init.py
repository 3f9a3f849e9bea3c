"""Optional dependencies are imported lazily, and their absence is one clear sentence."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from solver.errors import DlsolveError
from solver.verify import pick_device, require, require_torch

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_cli_and_solver_never_imports_torch() -> None:
    code = (
        "import sys, cli, solver, solver.verify, solver.verify.data, solver.verify.report, "
        "solver.verify.experiments, solver.verify.theory, solver.verify.runner, "
        "solver.verify.crosscheck\n"
        "heavy = [m for m in ('torch', 'matplotlib', 'sklearn', 'tqdm') if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_missing_torch_is_one_line_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    with pytest.raises(DlsolveError) as err:
        require_torch()
    message = str(err.value)
    assert "\n" not in message
    assert 'pip install "dlsolve[torch]"' in message and "torch==2.13.0" in message


def test_missing_training_packages_point_to_the_train_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(
        DlsolveError,
        match=r"matplotlib, which is not installed: pip install "
        r'"dlsolve\[train\]"',
    ):
        require("matplotlib")


def test_device_auto_follows_cuda_availability(monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    assert pick_device("cpu").type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device("auto").type == "cpu"
    with pytest.raises(DlsolveError, match="sees no CUDA device"):
        pick_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto").type == "cuda"
    with pytest.raises(DlsolveError, match="unknown device 'tpu'"):
        pick_device("tpu")
