"""Flower segmentation with DeepLabV3: data and split (data), models and checkpoints (models), the one
fine-tuning loop (train), CLIs (finetune, evaluate, cost) and photo inference/overlays (inference)."""
