"""Colourization as per-pixel classification (CSC413 PA2, parts A and B).

The core: ``data`` (a CIFAR-10 category -> cached uint8 tensors), ``palette`` (k-means colours,
nearest-colour labels), ``models`` (CNN, UNet), ``trainer`` (the one ``train()`` and ``evaluate()``),
``checkpoint`` (the colourizer's file format), ``inference`` (the steps of colourizing any photo),
``pipeline`` (``Colourizer`` and ``Settings``: the one way the app, the API and the scripts colourize).
Command lines: ``train``, ``evaluate``, ``sweep``. No threads, queues or caches of the app's runs: those
are in ``runs`` (the checkpoint catalogue, Train live's worker, replay cache and waiting line). Shared
helpers (images, checkpoint I/O, settings) are in ``pixelwise``; the layer counts and the affine
experiment in ``inside``.

Public API::

    from colorizer import load_checkpoint, colourize
    model, palette = load_checkpoint("checkpoints/unet.pt")
    rgb = colourize(model, palette, grey)   # grey: H x W in [0, 1] -> H x W x 3 uint8
    photo = colourize_photo(model, palette, Image.open("photo.jpg"))  # any size, decoded as the app decodes
"""

from .checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from .data import CIFAR10_CLASSES, load_category, to_grey
from .models import ARCH_NAMES, CNN, UNet, ModelConfig, build_model
from .palette import kmeans_palette, labels_to_rgb, nearest_colour_labels
from .trainer import ColourData, Progress, TrainConfig, TrainResult, data_for, evaluate, prepare_data, train
from .inference import PhotoResult, classes_to_rgb, colourize, grey_of, grey_to_rgb, pixel_accuracy, predict_classes
from .pipeline import Colourizer, Settings, colourize_photo
