"""The training step's two paths (issue 33): the fused bf16 loss, float32 untouched, and the step profile."""
import pytest
import torch
import torch.nn.functional as F

from benchmarks import bench_step
from colorizer import fused_loss
from colorizer.fused_loss import pixel_cross_entropy
from colorizer.models import ModelConfig, build_model
from colorizer import trainer
from colorizer.trainer import TrainConfig, adam, prepare_model, train, training_step

torch.set_num_threads(1)
CPU = torch.device("cpu")
FAST = {"channels_last": True, "compile": False}


def logits_and_targets(dtype=torch.float32, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    logits = (3 * torch.randn(4, 24, 8, 8, generator=generator)).to(dtype)
    logits = logits.contiguous(memory_format=torch.channels_last).requires_grad_()
    return logits, torch.randint(0, 24, (4, 8, 8), generator=generator)


def reference(logits, target):
    return F.cross_entropy(logits.float().movedim(1, -1).reshape(-1, logits.shape[1]), target.reshape(-1))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fused_loss_matches_cross_entropy_and_its_gradient(dtype):
    logits, target = logits_and_targets(dtype)
    mine = pixel_cross_entropy(logits, target)
    (grad,) = torch.autograd.grad(mine, logits)
    theirs = reference(logits, target)
    (expected,) = torch.autograd.grad(theirs, logits)
    assert mine.dtype == torch.float32 and torch.allclose(mine, theirs, rtol=1e-6, atol=1e-6)
    assert grad.dtype == dtype and grad.is_contiguous(memory_format=torch.channels_last)
    tolerance = 1e-8 if dtype == torch.float32 else 2e-5  # bf16: one rounding of values below 1 / (pixels)
    assert torch.allclose(grad.float(), expected.float(), atol=tolerance, rtol=1e-2)


def steps(path: str, precision: str, data, count: int = 3):
    """``count`` UNet steps in ``path``: the losses and the weights after them."""
    torch.manual_seed(0)
    model, forward = prepare_model(build_model("unet", ModelConfig(num_filters=8)), CPU, FAST)
    step = training_step(forward, adam(model.parameters(), 1e-3, precision, path), data, precision, CPU, path=path)
    generator = torch.Generator().manual_seed(1)
    x, y = torch.rand(6, 1, 16, 16, generator=generator), torch.randint(0, 24, (6, 16, 16), generator=generator)
    losses = [step(x, y).item() for _ in range(count)]
    return losses, [p.detach().clone() for p in model.parameters()]


class Unweighted:
    class_weights = None


def test_float32_step_is_the_same_in_both_paths():
    """The faithful reproductions train in float32: the fast path must compute exactly the baseline's numbers."""
    base_losses, base_weights = steps("baseline", "fp32", Unweighted)
    fast_losses, fast_weights = steps("fast", "fp32", Unweighted)
    assert base_losses == fast_losses and all(torch.equal(a, b) for a, b in zip(base_weights, fast_weights))


def test_bf16_fast_step_takes_the_fused_loss_and_tracks_the_baseline(monkeypatch):
    calls, real = [], fused_loss.PixelCrossEntropy.apply
    monkeypatch.setattr(fused_loss.PixelCrossEntropy, "apply", lambda *args: calls.append(1) or real(*args))
    fast_losses, _ = steps("fast", "bf16", Unweighted)
    assert len(calls) == 3
    base_losses, _ = steps("baseline", "bf16", Unweighted)
    assert len(calls) == 3  # the baseline path keeps F.cross_entropy
    assert fast_losses[0] == pytest.approx(base_losses[0], rel=1e-6)  # same forward, same loss
    assert fast_losses == pytest.approx(base_losses, rel=2e-3)  # after two updates: within bf16 rounding


def test_weighted_loss_keeps_the_general_path():
    class Weighted:
        class_weights = torch.ones(24)

    assert steps("fast", "bf16", Weighted)[0] == steps("baseline", "bf16", Weighted)[0]


def test_unknown_path_is_refused():
    with pytest.raises(ValueError, match="path must be one of"):
        training_step(lambda x: x, None, Unweighted, path="faster")


def test_step_profile_groups_the_time_by_kind_and_direction():
    data = bench_step.synthetic_data(4)
    step = bench_step.Step(TrainConfig(model="cnn", num_filters=8), data, CPU, "fp32", "fast", 4)
    step.run(1)
    found = bench_step.profile_step(step, 2)
    spent = found["spent"]
    assert spent["convolution", "forward"] > 0 and spent["convolution", "backward"] > 0
    assert spent["max-pool", "forward"] > 0 and spent[bench_step.OPTIMISER, "update"] > 0
    assert ("convolution", "update") not in spent
    flops = bench_step.step_flops(step)
    assert flops["conv backward"] > flops["conv forward"] > 0
    table = bench_step.profile_table(found, flops, 100.0, "fp32")
    rows = table.splitlines()[2:]  # sorted by time: on a loaded machine any kind may come first
    assert any(row.startswith("| convolution |") and "fwd" in row and "bwd" in row for row in rows)
    assert rows[-1].startswith("| all (the ops' self times) |") and "% of the fp32 convolution" in table


def test_kinds_of_profiler_names():
    assert bench_step.kind_of("aten::mkldnn_convolution") == "convolution"
    assert bench_step.kind_of("aten::max_pool2d_with_indices_backward") == "max-pool"
    assert bench_step.kind_of("aten::_log_softmax_backward_data") == "loss"
    assert bench_step.kind_of("PixelCrossEntropyBackward") == "loss"
    assert bench_step.kind_of("aten::_to_copy") == "casts and copies"
    assert bench_step.kind_of("aten::fill_") == "fills"
    assert bench_step.kind_of("aten::native_batch_norm") == "batch norm"


@pytest.mark.parametrize("precision", ["fp32", "bf16"])  # bf16: the fused loss's forward runs under no_grad
def test_cpu_time_profile_sees_forward_backward_and_update(precision):
    step = bench_step.Step(TrainConfig(model="unet", num_filters=8), bench_step.synthetic_data(4), CPU, precision, "fast", 4)
    step.run(1)
    found = bench_step.thread_time_profile(step, 2)
    spent = found["spent"]
    assert spent["convolution", "forward"] > 0 and spent["convolution", "backward"] > 0
    assert spent["loss", "forward"] > 0 and spent["loss", "backward"] > 0 and spent[bench_step.OPTIMISER, "update"] > 0
    assert spent[bench_step.OPTIMISER, "update"] < sum(spent.values()) / 2  # the update is small beside the rest
    assert sum(spent.values()) <= found["wall"] * 1.01 and found["clock"] == "CPU"


def test_the_replay_cache_key_covers_the_fused_loss():
    """A change to the fused loss changes bf16 runs' numbers: it must change the replay key's code fingerprint."""
    from runs import runcache

    assert {"colorizer/fused_loss.py", "colorizer/trainer.py"} <= set(runcache.CODE)


def test_a_float32_run_is_bit_for_bit_the_baseline_optimisers(monkeypatch):
    """train() builds the fast path's Adam (foreach in float32): the whole run's numbers and weights must be
    those of torch's default Adam, as the handout's reproductions were trained."""
    config = TrainConfig(model="unet", num_filters=8, epochs=2, batch_size=5, precision="fp32", device="cpu")
    data = bench_step.synthetic_data(20)
    fast = train(config, data)
    monkeypatch.setattr(trainer, "adam", lambda parameters, lr, precision: adam(parameters, lr, precision, "baseline"))
    base = train(config, data)
    history = [(e.kind, e.step, e.train_loss, e.val_loss, e.val_acc) for e in fast.history]
    assert history == [(e.kind, e.step, e.train_loss, e.val_loss, e.val_acc) for e in base.history]
    assert all(torch.equal(a, b) for a, b in zip(fast.model.state_dict().values(), base.model.state_dict().values()))


def test_the_fast_paths_adam():
    weights = [torch.nn.Parameter(torch.zeros(2))]
    assert adam(weights, 1e-3, "bf16").defaults["fused"] and adam(weights, 1e-3, "fp32").defaults["foreach"]
    baseline = adam(weights, 1e-3, "bf16", "baseline").defaults
    assert not baseline["fused"] and not baseline["foreach"]
