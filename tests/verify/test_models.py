"""BatchNorm from scratch equals torch's; placements and dropout put layers where they say."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from solver.verify.models import (  # noqa: E402
    BatchNorm,
    BatchNormFunction,
    Variant,
    build,
)

F64 = torch.float64


def twin_layers(shape: tuple[int, ...], momentum: float = 0.1) -> tuple[nn.Module, nn.Module]:
    """Our BatchNorm and torch's, in float64, with the same random gamma and beta."""
    features = shape[1]
    ours = BatchNorm(features, eps=1e-5, momentum=momentum).to(F64)
    theirs = (nn.BatchNorm1d if len(shape) == 2 else nn.BatchNorm2d)(
        features, eps=1e-5, momentum=momentum
    ).to(F64)
    gamma, beta = torch.randn(features, dtype=F64), torch.randn(features, dtype=F64)
    with torch.no_grad():
        for layer in (ours, theirs):
            layer.weight.copy_(gamma)
            layer.bias.copy_(beta)
    return ours, theirs


@pytest.mark.parametrize("shape", [(16, 5), (4, 3, 5, 6)], ids=["2d-NF", "4d-NCHW"])
def test_scratch_batchnorm_equals_torch_in_training_and_eval(shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    ours, theirs = twin_layers(shape, momentum=0.3)
    for _ in range(4):  # several steps: the running estimates accumulate
        x = torch.randn(shape, dtype=F64) * 3 + 2
        upstream = torch.randn(shape, dtype=F64)
        grads = []
        for layer in (ours, theirs):
            layer.zero_grad()
            xi = x.clone().requires_grad_()
            y = layer(xi)
            (y * upstream).sum().backward()
            grads.append((y.detach(), xi.grad, layer.weight.grad, layer.bias.grad))
        for a, b in zip(*grads, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(ours.running_mean, theirs.running_mean, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(ours.running_var, theirs.running_var, rtol=1e-12, atol=1e-14)
    assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked) == 4
    assert not torch.allclose(ours.running_var, torch.ones(shape[1], dtype=F64))  # they moved
    ours.eval()
    theirs.eval()
    x = torch.randn(shape, dtype=F64)
    torch.testing.assert_close(ours(x), theirs(x), rtol=1e-12, atol=1e-12)


def test_training_step_matches_the_formulas_in_numpy() -> None:
    """Independent of torch: per-channel statistics over N·H·W, biased variance to normalize,
    unbiased variance (n − 1) in the running estimate."""
    x = np.random.default_rng(1).normal(2.0, 3.0, (2, 2, 2, 2))
    layer = BatchNorm(2, eps=0.0, momentum=0.25).to(F64)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([2.0, 0.5]))
        layer.bias.copy_(torch.tensor([1.0, -1.0]))
    y = layer(torch.tensor(x)).detach().numpy()
    mean = x.mean(axis=(0, 2, 3))
    var = x.var(axis=(0, 2, 3))
    expected = (x - mean[None, :, None, None]) / np.sqrt(var)[None, :, None, None]
    expected = (
        expected * np.array([2.0, 0.5])[None, :, None, None]
        + np.array([1.0, -1.0])[None, :, None, None]
    )
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    np.testing.assert_allclose(layer.running_mean.numpy(), 0.25 * mean, rtol=1e-12)
    np.testing.assert_allclose(layer.running_var.numpy(), 0.75 + 0.25 * var * 8 / 7, rtol=1e-12)


def test_hand_written_backward_passes_gradcheck() -> None:
    torch.manual_seed(2)
    for shape in ((6, 3), (3, 2, 2, 3)):
        x = torch.randn(shape, dtype=F64, requires_grad=True)
        gamma = torch.randn(shape[1], dtype=F64, requires_grad=True)
        beta = torch.randn(shape[1], dtype=F64, requires_grad=True)

        def f(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
            stats = torch.zeros(gamma.shape[0], dtype=F64), torch.ones(gamma.shape[0], dtype=F64)
            return BatchNormFunction.apply(x, gamma, beta, *stats, 0.1, 1e-5)

        assert torch.autograd.gradcheck(f, (x, gamma, beta))


def test_batchnorm_rejects_what_torch_rejects() -> None:
    layer = BatchNorm(3)
    with pytest.raises(ValueError, match="more than one value per feature"):
        layer(torch.randn(1, 3))
    with pytest.raises(ValueError, match=r"takes \[N, 3\] or \[N, 3, H, W\], got \[4, 5\]"):
        layer(torch.randn(4, 5))
    layer.eval()
    assert layer(torch.randn(1, 3)).shape == (1, 3)  # eval mode needs no batch


def executed(net: nn.Module, x: torch.Tensor) -> list[str]:
    """The leaf modules in the order they run, recorded by forward hooks."""
    order: list[str] = []
    for m in net.modules():
        if not list(m.children()):
            m.register_forward_hook(lambda mod, inp, out: order.append(type(mod).__name__))
    net(x)
    return order


@pytest.mark.parametrize(
    ("model", "variant", "layers"),
    [
        ("mlp", "none", "Flatten Linear ReLU Linear ReLU Linear"),
        ("mlp", "bn-pre", "Flatten Linear BatchNorm ReLU Linear BatchNorm ReLU Linear"),
        ("mlp", "bn-post", "Flatten Linear ReLU BatchNorm Linear ReLU BatchNorm Linear"),
        (
            "mlp",
            "bn-pre+dropout",
            "Flatten Linear BatchNorm ReLU Dropout Linear BatchNorm ReLU Dropout Linear",
        ),
        (
            "cnn",
            "baseline",
            "Conv2d ReLU MaxPool2d Conv2d ReLU MaxPool2d Flatten Linear ReLU Linear",
        ),
        (
            "cnn",
            "bn-post",
            "Conv2d ReLU BatchNorm MaxPool2d Conv2d ReLU BatchNorm MaxPool2d "
            "Flatten Linear ReLU BatchNorm Linear",
        ),
        (
            "cnn",
            "bn+dropout",
            "Conv2d BatchNorm ReLU MaxPool2d Conv2d BatchNorm ReLU MaxPool2d "
            "Flatten Dropout Linear BatchNorm ReLU Dropout Linear",
        ),
    ],
)
def test_placements_run_layers_in_the_stated_order(model: str, variant: str, layers: str) -> None:
    net = build(model, (1, 8, 8), 10, Variant.parse(variant))
    assert executed(net, torch.randn(5, 1, 8, 8)) == layers.split()


def test_bn_post_normalizes_activations_and_bn_pre_pre_activations() -> None:
    """What goes into BN: after ReLU (never negative) for bn-post, before it for bn-pre."""
    torch.manual_seed(3)
    for variant, negative in (("bn-post", False), ("bn-pre", True)):
        net = build("mlp", (1, 8, 8), 10, Variant.parse(variant))
        seen: list[float] = []

        def record(
            mod: nn.Module, inp: tuple[torch.Tensor], out: torch.Tensor, seen: list[float] = seen
        ) -> None:
            seen.append(float(inp[0].detach().min()))

        for m in net.modules():
            if isinstance(m, BatchNorm):
                m.register_forward_hook(record)
        net(torch.randn(32, 1, 8, 8))
        assert len(seen) == 2 and (min(seen) < 0) == negative


def test_models_are_sized_from_the_image() -> None:
    for shape in ((1, 28, 28), (1, 8, 8), (3, 12, 16)):
        for name in ("mlp", "cnn"):
            net = build(name, shape, 7, Variant.parse("bn"))
            assert net(torch.randn(4, *shape)).shape == (4, 7)
    assert build("mlp", (1, 28, 28), 10, Variant("none"))[1].in_features == 784
    assert build("cnn", (1, 28, 28), 10, Variant("none"))[7].in_features == 32 * 7 * 7
    with pytest.raises(ValueError, match="10x10 must be divisible by 4"):
        build("cnn", (1, 10, 10), 10, Variant("none"))


def test_torch_batchnorm_is_a_drop_in_with_the_same_state_dict() -> None:
    nets = {}
    for kind in ("scratch", "torch"):
        torch.manual_seed(4)  # BatchNorm draws no random numbers: same initialisation
        nets[kind] = build("cnn", (1, 8, 8), 10, Variant.parse("bn-post"), kind).to(F64)
    kinds = [type(m).__name__ for m in nets["torch"].modules() if "BatchNorm" in type(m).__name__]
    assert kinds == ["BatchNorm2d", "BatchNorm2d", "BatchNorm1d"]
    assert nets["scratch"].state_dict().keys() == nets["torch"].state_dict().keys()
    x = torch.randn(6, 1, 8, 8, dtype=F64)
    torch.testing.assert_close(nets["scratch"](x), nets["torch"](x), rtol=1e-10, atol=1e-12)
    for net in nets.values():
        net.eval()
    torch.testing.assert_close(nets["scratch"](x), nets["torch"](x), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("name", "placement", "dropout"),
    [
        ("none", "none", False),
        ("baseline", "none", False),
        ("bn", "bn-pre", False),
        ("BN-Post", "bn-post", False),
        ("bn+dropout", "bn-pre", True),
        ("none+dropout", "none", True),
    ],
)
def test_variant_names(name: str, placement: str, dropout: bool) -> None:
    assert Variant.parse(name) == Variant(placement, dropout)


@pytest.mark.parametrize("name", ["bn-middle", "bn+dropuot", "dropout", ""])
def test_unknown_variants_list_the_known_ones(name: str) -> None:
    with pytest.raises(ValueError, match="use one of none, baseline, bn, bn-pre, bn-post"):
        Variant.parse(name)
