"""The bounds of every number a person (or an API caller) gives the app, and one plain refusal.

Gradio checks a Slider's or Number's own minimum/maximum before a handler runs; handlers check again
with ``bounded`` so direct calls, NaN and huge integers (a seed of 2**80) get the same clear message."""
import math

COST_BATCH = (2, 8)  # the cost section's images per measured step
INSPECT_TOP = (0, 1000)  # classes listed per model by inspect_pixel (0 = all)
PIXEL_COORDINATE = (-2**31, 2**31)  # a clicked x or y: any finite number (outside the picture is said so later)
SEED = (0, 2**32 - 1)  # numpy's and torch's seeding range
EPOCHS = (1, 50)
LEARNING_RATE = (1e-5, 1.0)
TRAIN_IMAGES = (100, 5000)
VAL_IMAGES = (100, 1000)
TEMPERATURE = (1e-4, 100.0)  # the annealed mean's T (the slider offers 0.01-1; lab clamps below 1e-4)
WORK_SIZE = (32, 256)  # the Colourize tab's model working size, long side in pixels
TEST_INDEX = (0, 9999)  # CIFAR-10 test image number (taken modulo the category's count)
OPACITY = (0.0, 1.0)
FINE_TUNE_EPOCHS = (1, 5)
FINE_TUNE_IMAGES = (16, 128)
# The affine experiment's work per call, as its page's controls offer it: an API call could ask 10,000 pairs
# (500 held the heavy jobs' slot 17 s), or a million fine-tuning steps.
AFFINE_PAIRS = (1, 12)
AFFINE_STEPS = (0, 1000)
AFFINE_TEST_IMAGES = (10, 1000)
AFFINE_TRAIN_IMAGES = (100, 5000)


class OutOfRange(ValueError):
    """A number outside what the app accepts, with a message fit to show the person."""


def bounded(value, name: str, limits: tuple, whole: bool = True) -> int | float:
    """``value`` as an int (``whole``) or float within ``limits`` (inclusive), else OutOfRange."""
    low, high = limits
    kind = "a whole number" if whole else "a number"
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise OutOfRange(f"{name} must be {kind} from {low:,} to {high:,}, not {str(value)[:40]!r}") from None
    if not (math.isfinite(number) and low <= number <= high) or (whole and number != int(number)):
        shown = str(value) if len(str(value)) <= 24 else f"{number:.3g}"
        raise OutOfRange(f"{name} must be {kind} from {low:,} to {high:,} (got {shown})")
    return int(value) if whole and isinstance(value, int) else (int(number) if whole else number)
