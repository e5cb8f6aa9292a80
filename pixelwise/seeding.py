"""Models built from their own random generator, never torch's process-wide one.

``torch.manual_seed`` seeds one generator that every thread of the process shares: in the app a
training, a Segment fine-tune and a cost measurement run at the same time, and each reseeded it and
built its model from it, so one thread's draws moved another's initial weights (and a run filed
under its "deterministic" key in the replay cache was not). ``fork_rng`` does not help: it saves and
restores the same shared generator.

``own_generator(seed)`` makes every random draw made *on the calling thread* inside it (the layers'
``reset_parameters``: ``nn.init.kaiming_uniform_``, ``uniform_``, ``normal_``...) come from a private
``torch.Generator`` seeded with ``seed``. It is a TorchFunctionMode, which torch keeps per thread,
so other threads are untouched, and a module built inside it has bit for bit the weights that
``torch.manual_seed(seed)`` followed by the same construction gives when nothing else runs.
"""
import contextlib

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

# Everything that draws random numbers while layers initialise, by name: tensor methods, torch
# functions and nn.init's (which pass their generator on to the tensor methods).
RANDOM_DRAWS = frozenset({
    "uniform_", "normal_", "random_", "bernoulli_", "exponential_", "geometric_", "cauchy_", "log_normal_",
    "rand", "randn", "randint", "randperm", "multinomial", "bernoulli", "normal", "poisson",
    "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_", "xavier_normal_", "trunc_normal_",
    "orthogonal_", "sparse_",
})
# Draws that take no generator: they would silently use the shared one, so they are refused here.
UNSEEDABLE = frozenset({"rand_like", "randn_like", "randint_like", "dropout", "dropout_", "feature_dropout",
                        "alpha_dropout", "rrelu", "rrelu_"})


class _OwnGenerator(TorchFunctionMode):
    def __init__(self, generator: torch.Generator) -> None:
        super().__init__()
        self.generator = generator

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        name = getattr(func, "__name__", "")
        if name in UNSEEDABLE:
            raise RuntimeError(f"{name} draws from torch's shared generator; not allowed inside own_generator")
        if name in RANDOM_DRAWS and kwargs.get("generator") is None:
            kwargs["generator"] = self.generator
        return func(*args, **kwargs)


@contextlib.contextmanager
def own_generator(seed: int):
    """Random draws on this thread come from a private generator seeded with ``seed`` (yielded)."""
    generator = torch.Generator().manual_seed(int(seed))
    with _OwnGenerator(generator):
        yield generator


class SeededDropout(nn.Module):
    """nn.Dropout drawing its mask from ``generator``: torch's dropout takes no generator and draws from the
    shared one, which other threads reseed and draw from (seeded_dropout says where it matters)."""

    def __init__(self, p: float, generator: torch.Generator):
        super().__init__()
        self.p, self.generator = p, generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = torch.rand(x.shape, generator=self.generator, device=self.generator.device) >= self.p
        return x * keep.to(x.device) / (1 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def seeded_dropout(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Replace every nn.Dropout in ``module`` by a SeededDropout drawing from ``generator`` (in place; weights and
    state_dict unchanged): a fine-tune that trains a DeepLabV3 head (ASPP's dropout) then follows its seed."""
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Dropout:
                setattr(parent, name, SeededDropout(child.p, generator))
    return module
