"""Colourization as per-pixel classification (CSC413 PA2, parts A and B).

Public API::

    from colorizer import load_checkpoint, colourize
    model, palette = load_checkpoint("checkpoints/unet.pt")
    rgb = colourize(model, palette, grey)   # grey: H x W in [0, 1] -> H x W x 3 uint8
"""
from .checkpoint import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from .data import CIFAR10_CLASSES, DataUnavailable, default_data_root, load_category, to_grey
from .models import ARCH_NAMES, CNN, UNet, ModelConfig, build_model
from .palette import kmeans_palette, labels_to_rgb, nearest_colour_labels
from .trainer import ColourData, Progress, TrainConfig, TrainResult, data_for, evaluate, prepare_data, train
from .images import ImageError, has_colour, load_rgb, open_image, to_rgb
from .inference import PhotoResult, classes_to_rgb, colourize, colourize_photo, grey_of, grey_to_rgb, pixel_accuracy, predict_classes
