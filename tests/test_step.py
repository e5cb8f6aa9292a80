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
    cast_input = trainer.set_step_layers(model, precision, path)
    step = training_step(forward, adam(model.parameters(), 1e-3, precision, path), data, precision, CPU, path=path,
                         cast_input=cast_input)
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


def test_weighted_loss_keeps_the_general_path(monkeypatch):
    class Weighted:
        class_weights = torch.ones(24)

    calls, real = [], fused_loss.PixelCrossEntropy.apply
    monkeypatch.setattr(fused_loss.PixelCrossEntropy, "apply", lambda *args: calls.append(1) or real(*args))
    fast_losses = steps("fast", "bf16", Weighted)[0]
    assert not calls and fast_losses == pytest.approx(steps("baseline", "bf16", Weighted)[0], rel=2e-3)


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


def test_up_block_normalising_first_computes_the_same_in_training():
    """BN and ReLU before a nearest upsampling: the same batch statistics, the same output (float32 rounding),
    the same running mean; the running variance differs only by its n/(n-1) factor; eval mode keeps the order."""
    torch.manual_seed(0)
    handout = build_model("unet", ModelConfig(num_filters=8)).upconv2.train()
    reordered = build_model("unet", ModelConfig(num_filters=8)).upconv2.train()
    reordered.load_state_dict(handout.state_dict())
    reordered.normalise_first = True
    x = torch.randn(6, 16, 8, 8)
    expected, got = handout(x), reordered(x)
    assert got.shape == expected.shape == (6, 24, 16, 16) and torch.allclose(got, expected, atol=1e-5)
    assert torch.allclose(reordered[2].running_mean, handout[2].running_mean, atol=1e-6)
    n = 6 * 16 * 16  # pixels the handout's BN sees; normalising first sees n / 4
    factor = (n / 4 / (n / 4 - 1)) / (n / (n - 1))
    moved = lambda bn: bn.running_var - 0.9  # the momentum's share of the batch's variance (fresh BN: var 1)
    assert torch.allclose(moved(reordered[2]), moved(handout[2]) * factor, rtol=1e-5)
    reordered.load_state_dict(handout.state_dict())
    reordered.eval(), handout.eval()
    assert torch.equal(reordered(x), handout(x))


def test_step_layers_are_set_only_for_the_fast_low_precision_step():
    model = build_model("unet", ModelConfig(num_filters=8))
    blocks = [model.upconv1, model.upconv2]
    assert trainer.set_step_layers(model, "bf16") and all(block.normalise_first for block in blocks)
    assert not trainer.set_step_layers(model, "fp32") and not any(block.normalise_first for block in blocks)
    assert not trainer.set_step_layers(model, "bf16", "baseline") and not any(b.normalise_first for b in blocks)
    mobile = build_model("mobile_unet", ModelConfig(num_filters=8))
    assert not trainer.set_step_layers(mobile, "bf16")  # it normalises its input in float32 before any convolution


def aten_calls(path: str, precision: str) -> list:
    """(op name, its first tensor argument) of every aten op in one UNet step at batch 6, channels_last."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Record(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            calls.append((func.overloadpacket.__name__, args[0] if args and isinstance(args[0], torch.Tensor) else None))
            return func(*args, **(kwargs or {}))

    torch.manual_seed(0)
    model, forward = prepare_model(build_model("unet", ModelConfig(num_filters=8)), CPU, FAST)
    cast_input = trainer.set_step_layers(model, precision, path)
    step = training_step(forward, adam(model.parameters(), 1e-3, precision, path), Unweighted, precision, CPU,
                         path=path, cast_input=cast_input)
    x, y = torch.rand(6, 1, 16, 16), torch.randint(0, 24, (6, 16, 16))
    calls = []
    with Record():
        step(x, y)
    return calls


def test_the_bf16_fast_step_casts_no_activation_and_upsamples_back_densely():
    """The baseline casts the UNet's last concatenation to float32 and back (forward and backward); the fast step
    does not, and its upsamplings (after BN and ReLU, so fed straight from a concatenation's backward, a channel
    slice) get their gradient as a dense channels_last tensor (dense_channels_last)."""
    def activation_casts(calls):
        return [a.shape for name, a in calls if name == "_to_copy" and a is not None and a.dim() == 4 and a.shape[1] > 1
                and a.shape[0] == 6]  # weights have other first dimensions

    def upsample_grads_dense(calls):
        return [a.is_contiguous(memory_format=torch.channels_last) for name, a in calls
                if name == "upsample_nearest2d_backward"]

    baseline, fast = aten_calls("baseline", "bf16"), aten_calls("fast", "bf16")
    assert (6, 25, 16, 16) in activation_casts(baseline)
    assert activation_casts(fast) == [] and upsample_grads_dense(fast) == [True, True]


def test_the_benchmarks_fused_path_is_the_fast_step_in_the_handouts_layer_order(monkeypatch):
    calls, real = [], fused_loss.PixelCrossEntropy.apply
    monkeypatch.setattr(fused_loss.PixelCrossEntropy, "apply", lambda *args: calls.append(1) or real(*args))
    data = bench_step.synthetic_data(4)
    config = TrainConfig(model="unet", num_filters=8)
    fused = bench_step.Step(config, data, CPU, "bf16", bench_step.FUSED, 4)
    fast = bench_step.Step(config, data, CPU, "bf16", "fast", 4)
    assert not fused.model.upconv2.normalise_first and fast.model.upconv2.normalise_first
    fused.run(1)
    assert calls == [1]  # the first pass's fused loss
