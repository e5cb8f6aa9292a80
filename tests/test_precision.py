"""The precision setting (pixelwise/precision.py): what ``auto`` resolves to, where the resolved precision
is recorded, that a bf16 run is deterministic, and how far bf16 outputs move from float32."""
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from colorizer.trainer import ColourData, TrainConfig, data_for, train, training_step
from pixelwise import precision
from pixelwise.precision import resolve_precision
from tests.helpers import CHECKPOINTS, CIFAR, requires_cifar

CPU = torch.device("cpu")
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def pretend_cpu(monkeypatch, avx512_bf16: bool, onednn: bool = True) -> None:
    """Pretend a CPU with or without the bf16 instructions (and oneDNN's bf16 support)."""
    monkeypatch.setattr(precision, "cpu_bf16_flags", lambda: {"avx512_bf16": avx512_bf16, "amx_bf16": False})
    monkeypatch.setattr(precision, "onednn_bf16", lambda: onednn)


def test_auto_is_float32_without_native_bf16(monkeypatch):
    pretend_cpu(monkeypatch, avx512_bf16=False)  # e.g. AVX-512 without the BF16 extension: oneDNN would emulate
    assert resolve_precision("auto", CPU) == ("fp32", "auto: this CPU has no native bfloat16")
    pretend_cpu(monkeypatch, avx512_bf16=True, onednn=False)  # a torch built without oneDNN bf16
    assert resolve_precision("auto", CPU)[0] == "fp32"


def test_auto_is_bf16_with_native_bf16(monkeypatch):
    pretend_cpu(monkeypatch, avx512_bf16=True)
    chosen, why = resolve_precision("auto", CPU)
    assert chosen == "bf16" and "natively" in why and "avx512_bf16" in why


def test_auto_keeps_float32_for_the_model_measured_slower_in_bf16(monkeypatch):
    from colorizer.trainer import run_precision

    pretend_cpu(monkeypatch, avx512_bf16=True)
    assert run_precision(TrainConfig(model="unet"), CPU)[0] == "bf16"
    chosen, why = run_precision(TrainConfig(model="mobile_unet"), CPU)
    assert chosen == "fp32" and "depthwise" in why
    assert run_precision(TrainConfig(model="mobile_unet", precision="bf16"), CPU)[0] == "bf16"  # asked for


def test_explicit_precisions_and_refusals(monkeypatch):
    pretend_cpu(monkeypatch, avx512_bf16=False)
    assert resolve_precision("bf16", CPU)[0] == "bf16" and resolve_precision("fp32", CPU)[0] == "fp32"
    with pytest.raises(ValueError, match="CUDA only"):
        resolve_precision("fp16", CPU)
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("fp8", CPU)


def test_fp16_step_goes_through_a_grad_scaler(monkeypatch):
    """The fp16 path (CUDA in use) scales the loss; timed here on the CPU's float16 autocast."""
    made = []
    real = torch.amp.GradScaler

    class Recording(real):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(torch.amp, "GradScaler", Recording)
    torch.manual_seed(0)
    model = torch.nn.Conv2d(1, 4, 3, padding=1)
    data = ColourData(torch.rand(4, 3), torch.zeros(1, 1, 8, 8), torch.zeros(1, 8, 8, dtype=torch.long),
                      torch.zeros(1, 1, 8, 8), torch.zeros(1, 8, 8, dtype=torch.long), torch.zeros(1, 8, 8, 3))
    before = model.weight.detach().clone()
    step = training_step(model, torch.optim.Adam(model.parameters(), lr=0.1), data, "fp16", CPU)
    loss = step(torch.rand(2, 1, 8, 8), torch.randint(0, 4, (2, 8, 8)))
    assert len(made) == 1 and made[0].get_scale() > 1  # scaled, and not backed off: the gradients were finite
    assert torch.isfinite(loss) and not torch.equal(before, model.weight)


def tiny(**overrides) -> TrainConfig:
    values = dict(model="unet", data_root=str(CIFAR), epochs=1, batch_size=50, num_filters=8, train_limit=100,
                  val_limit=50, seed=0, device="cpu")
    return TrainConfig(**{**values, **overrides})


def numbers(result) -> list[tuple]:
    return [(e.kind, e.epoch, e.step, e.train_loss, e.val_loss, e.val_acc) for e in result.history]


@requires_cifar
def test_a_bf16_run_is_deterministic_and_differs_from_float32():
    data = data_for(tiny())
    first, second = train(tiny(precision="bf16"), data), train(tiny(precision="bf16"), data)
    assert numbers(first) == numbers(second)
    assert all(torch.equal(a, b) for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()))
    single = train(tiny(precision="fp32"), data)
    assert numbers(single) != numbers(first)  # the autocast really ran
    assert first.final.val_loss == pytest.approx(single.final.val_loss, abs=0.05)


@requires_cifar
def test_resolved_precision_lands_in_meta_and_in_the_replay_key(monkeypatch):
    from runs import runcache

    data = data_for(tiny())
    pretend_cpu(monkeypatch, avx512_bf16=True)
    meta = train(tiny(max_steps=1), data).meta()  # the default: auto
    assert meta["precision"] == "bf16" and "natively" in meta["precision_reason"]
    auto_here = runcache.run_key(tiny(), data)
    assert auto_here == runcache.run_key(tiny(precision="bf16"), data)  # the same numbers, the same entry
    assert auto_here != runcache.run_key(tiny(precision="fp32"), data)
    pretend_cpu(monkeypatch, avx512_bf16=False)
    assert runcache.run_key(tiny(), data) == runcache.run_key(tiny(precision="fp32"), data)
    assert train(tiny(max_steps=1), data).meta()["precision"] == "fp32"


def example_inputs():
    from PIL import Image

    return [np.asarray(Image.open(path).convert("RGB")) for path in sorted(EXAMPLES.glob("*.jpg"))]


def agreement(run) -> float:
    """Share of the example photos' pixels whose class (argmax) is the same in bf16 as in float32."""
    same = total = 0
    for rgb in example_inputs():
        fp32, bf16 = run(rgb, "fp32").argmax(0), run(rgb, "bf16").argmax(0)
        same, total = same + (fp32 == bf16).sum().item(), total + fp32.numel()
    return same / total


def test_bf16_segmentation_agrees_with_float32_on_the_example_photos():
    from PIL import Image

    from segmenter.inference import FLOWER_SHORT_SIDE, normalise, short_side_size as working_size
    from segmenter.models import load_flower_checkpoint

    model = load_flower_checkpoint(CHECKPOINTS / "flowers_deeplab.pt").eval()

    def classes(rgb, chosen):
        small = np.asarray(Image.fromarray(rgb).resize(working_size(rgb.shape[1], rgb.shape[0], FLOWER_SHORT_SIDE)))
        with torch.no_grad(), precision.autocast(chosen, CPU):
            return model(normalise(small)[None])["out"][0].float()

    assert agreement(classes) >= 0.99


@pytest.mark.parametrize("name", ["cnn.pt", "unet.pt", "colour_mobile_unet.pt"])
def test_bf16_colour_classes_stay_close_to_float32_on_the_example_photos(name):
    """Colourization keeps float32 at inference (docs/precision.md): among 24 to 313 colour classes many
    pixels are near ties, and bf16 flips 1-4% of them. This pins how close bf16 stays all the same."""
    from colorizer.checkpoint import load_checkpoint
    from colorizer.inference import long_side_size as working_size, model_input, predict_logits, prepare_photo

    model, _ = load_checkpoint(CHECKPOINTS / name)

    def classes(rgb, chosen):
        photo = prepare_photo(rgb)
        return predict_logits(model, model_input(model, photo.small(working_size(*photo.size, 96))), precision=chosen)

    assert agreement(classes) >= 0.95  # bf16 may agree everywhere (a CPU or torch that rounds alike): still close


@requires_cifar
def test_the_train_live_panel_says_which_precision_ran_and_why(tmp_path, monkeypatch):
    import queue
    import threading

    from runs import live
    from runs.scheduler import Scheduler
    from ui.train_tab import TrainSession, apply_event, status_text

    monkeypatch.setenv("PIXELWISE_RUN_CACHE", str(tmp_path / "runs"))
    pretend_cpu(monkeypatch, avx512_bf16=True)
    events = queue.Queue()
    live.run_batch_sizes(tiny(max_steps=1), [50], events, threading.Event(), sample_count=1, scheduler=Scheduler(cores=2))
    session = TrainSession()
    for event in [events.get() for _ in range(events.qsize())]:
        apply_event(session, event)
    assert session.results[50].speedups["precision"] == "bf16"
    assert "Precision: bfloat16 (auto: this CPU computes bfloat16 natively (avx512_bf16))" in status_text(session)
