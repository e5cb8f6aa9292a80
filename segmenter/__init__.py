"""Flower segmentation with DeepLabV3 (CSC413 PA2 Part C), no Gradio.

``data`` (Oxford 17 Flowers, the fixed split), ``models`` (the flower model, torchvision's VOC-21 models,
the flower checkpoint format), ``trainer`` (the one fine-tuning loop and its metrics), ``inference``
(segment any photo, overlays, legend). Command lines: ``train``, ``evaluate``, ``cost``.
Shared helpers (images, checkpoint I/O, settings) are in ``pixelwise``."""
