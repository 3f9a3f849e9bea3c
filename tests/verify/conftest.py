"""One torch thread for these tests: the models are tiny, and on a shared 2-core CI machine
a second intra-op thread that gets descheduled makes every step wait for it (measured here:
20 to 50 times slower under load, never faster)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread() -> Iterator[None]:
    try:
        import torch
    except ImportError:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
