"""Train live's presets, as data: the quick press a CPU finishes in a couple of minutes, and the write-ups' own.

The write-ups' Table 2 trains the UNet on all 5,000 CIFAR-10 horses for 25 epochs at batch sizes 50, 100,
500 and 1000: about six minutes on a quiet 2-core CPU, seconds on a GPU. The quick press keeps what makes
the batch-size effect show, the number of optimiser steps per epoch, by scaling the batch sizes with the
images (1,000 horses at 10, 20, 100 and 200: the same 100, 50, 10 and 5 steps an epoch), and trains fewer
epochs. Without a GPU the panel starts on the quick press; with one, on the write-ups'. The preset button
says how long the write-ups' press takes here, from runs.rates (measured on this machine). The write-ups'
press trains in float32, as the handout did (a faithful reproduction); bfloat16 is offered beside it as the
faster option where the CPU computes it natively (``faster_precision``).
"""
from dataclasses import dataclass, replace

from colorizer.trainer import data_for
from pixelwise.device import resolve_device
from pixelwise.errors import DataUnavailable
from pixelwise.precision import resolve_precision

from .live import live_config
from . import rates


PRECISIONS = ("auto", "fp32")  # what a press may ask: the faster choice here, or the handout's float32


@dataclass(frozen=True)
class Preset:
    name: str  # what the panel calls it
    model: str  # "CNN" or "UNet", as the panel's radio says
    batch_sizes: tuple[int, ...]
    epochs: int
    train_images: int
    val_images: int
    button: str = "{name} ({epochs} epochs, {about} here)"  # the preset button's label; {about}: runs.rates
    num_filters: int = 32
    learning_rate: float = 1e-3
    precision: str = "auto"  # "fp32" for a faithful reproduction (pixelwise.precision)

    def describe(self) -> str:
        """'UNet, batch sizes 10, 20, 100, 200, 12 epochs on 1,000 training and 200 validation images'."""
        sizes = ", ".join(str(size) for size in self.batch_sizes)
        return (f"{self.model}, batch sizes {sizes}, {self.epochs} epochs on {self.train_images:,} training and "
                f"{self.val_images:,} validation images")

    def matches(self, model: str, batch_sizes, epochs, train_images, val_images, num_filters, learning_rate) -> bool:
        """Whether a press has exactly this preset's settings (category and seed aside)."""
        return (model, tuple(sorted(batch_sizes)), int(epochs), int(train_images), int(val_images), int(num_filters),
                float(learning_rate)) == (self.model, self.batch_sizes, self.epochs, self.train_images,
                                          self.val_images, self.num_filters, self.learning_rate)


WRITE_UPS = Preset("the write-ups' press", "UNet", (50, 100, 500, 1000), epochs=25, train_images=5000, val_images=1000,
                   button="Reproduce the write-ups (full data, {epochs} epochs, float32, {about} here)",
                   precision="fp32")


def scaled(preset: Preset, name: str, train_images: int, val_images: int, epochs: int) -> Preset:
    """``preset`` on fewer images with the same optimiser steps per epoch: batch sizes scaled with the images."""
    share = train_images / preset.train_images
    batch_sizes = tuple(max(1, round(size * share)) for size in preset.batch_sizes)
    return replace(preset, name=name, batch_sizes=batch_sizes, epochs=epochs, train_images=train_images,
                   val_images=val_images, precision="auto", button=f"Quick press ({train_images:,} images, {{epochs}} epochs, {{about}} here)")


# 1,000 images and 12 epochs: a first point within seconds and the whole press in about a minute on the
# 2-core development CPU (benchmarks/bench_quick_press.py), the large batch sizes still visibly behind.
QUICK = scaled(WRITE_UPS, "the quick press", train_images=1000, val_images=200, epochs=12)
PRESETS = (QUICK, WRITE_UPS)


def default_preset(device: str = "auto") -> Preset:
    """The press the panel starts on: the write-ups' where a GPU trains, the quick one on a CPU."""
    return WRITE_UPS if resolve_device(device).type == "cuda" else QUICK


def preset_of(model: str, batch_sizes, epochs, train_images, val_images, num_filters, learning_rate) -> Preset | None:
    """The preset a press's settings are, if any."""
    return next((preset for preset in PRESETS
                 if preset.matches(model, batch_sizes, epochs, train_images, val_images, num_filters, learning_rate)),
                None)


def press_config(preset: Preset, precision: str | None = None, data_root: str | None = None):
    """The TrainConfig of the preset's press (batch size aside), in ``precision`` (default: the preset's)."""
    return live_config(preset.model, "horse", preset.epochs, preset.learning_rate, preset.num_filters, 0,
                       preset.train_images, preset.val_images, data_root, precision or preset.precision)


def press_seconds(preset: Preset, precision: str | None = None) -> float | None:
    """Seconds the preset's press should take here (runs.rates: calibrated on this machine, then measured);
    None until its model's speed has been measured (which this asks for, in the scheduler's turn)."""
    return rates.press_seconds(press_config(preset, precision), preset.batch_sizes, preset.train_images,
                               preset.val_images)


def about(seconds: float | None) -> str:
    """'about 40 seconds', 'about 6 minutes': a wait as a person reads it."""
    if seconds is None:  # not calibrated yet: a measurement has been asked for (runs.rates.measure_later)
        return "measuring its time"
    if seconds < 90:
        return f"about {max(10, round(seconds / 10) * 10):.0f} seconds"
    return f"about {round(seconds / 60):.0f} minutes"


def button_label(preset: Preset) -> str:
    """'Reproduce the write-ups (full data, 25 epochs, float32, about 6 minutes here)': minutes from this machine."""
    return preset.button.format(name=preset.name, epochs=preset.epochs, about=about(press_seconds(preset)))


def faster_precision(device: str = "auto") -> str | None:
    """'auto' where it means bfloat16 here (computed natively: the faster option beside float32), else None."""
    return "auto" if resolve_precision("auto", resolve_device(device))[0] == "bf16" else None


def confirmation(preset: Preset) -> str:
    """What a long press says before it starts: what it trains, in which precision, how long each takes here."""
    faster = faster_precision()
    offer = (f" Or in **bfloat16**, the faster option on this CPU ({about(press_seconds(preset, faster))} here): "
             "the curves come out close to float32's but not identical." if faster else "")
    return (f"**{preset.name[0].upper() + preset.name[1:]}**: {preset.describe()}, in **float32** as the handout "
            f"trained ({about(press_seconds(preset))} here); heavy jobs take turns on this server, so others "
            f"wait behind it.{offer}")


def settings_note(model: str, batch_sizes, epochs, train_images, val_images, num_filters, learning_rate) -> str:
    """Which preset a press is, for the panel: 'the quick press (UNet, batch sizes ...)' or 'your own'."""
    preset = preset_of(model, batch_sizes, epochs, train_images, val_images, num_filters, learning_rate)
    return f"{preset.name} ({preset.describe()})" if preset else "your own (not one of the presets)"


def warm_up(data_root: str | None) -> None:
    """Decode the default press's images and fit its palette (both cached per process) and calibrate the rates
    of every preset button (runs.rates, as jobs of the scheduler's), so that the first press on a fresh app
    shows its first point within seconds instead of after them (2026-12-02: reading the horses and the k-means
    took 6-9 s of the 6.5 s to the first point). Without the data it does nothing: the press itself says
    what is missing."""
    try:
        data_for(press_config(default_preset(), data_root=data_root))
    except DataUnavailable:
        return
    configs = [press_config(WRITE_UPS, precision) for precision in PRECISIONS]
    for config in {rates.rate_key(config): config for config in configs}.values():  # one per model and precision
        rates.measure(config)
