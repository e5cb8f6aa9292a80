"""Segmentation models: the flower DeepLabV3 (ImageNet MobileNetV2 backbone, 2 classes) and torchvision's
COCO-trained VOC-21 DeepLabV3s, with offline-friendly weight loading and the flower checkpoint format::

    {"arch": "deeplabv3_mobilenet_v2", "config": {num_classes, output_stride}, "state_dict": ..., "meta": {...}}

Checkpoint-size strategy: the backbone stops at MobileNetV2's 320-channel block 17, before the 1x1
expansion to 1280 channels. That drops 0.41 M backbone weights and, more importantly, makes the ASPP
head read 320 instead of 1280 channels (3.30 M instead of 10.4 M head weights), so the whole model is
5.11 M float32 parameters (a 20.7 MB file) with no precision loss on disk.
"""
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torchvision.models import MobileNet_V2_Weights, mobilenet_v2
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.segmentation import DeepLabV3
from torchvision.models.segmentation import deeplabv3 as tv_deeplab
from torchvision.models.segmentation.deeplabv3 import DeepLabHead

from pixelwise.checkpoints import (CheckpointError, check_whole_numbers, load_state_dict_checked, read_checkpoint_dict,
                                  save_atomic)
from pixelwise.settings import SHARED_WEIGHTS, shown_path
from pixelwise.weights import WeightsUnavailable, missing_weights_message, resolve_weights, weights_filename

FLOWER_ARCH = "deeplabv3_mobilenet_v2"
FLOWER_CLASSES = ("background", "flower")
MODES = ("last", "head", "full")
BACKBONE_LAST_BLOCK = 17  # MobileNetV2 features[17]: 320 channels; features[18] expands to 1280


@dataclass
class SegmenterConfig:
    num_classes: int = 2
    output_stride: int = 16  # 8, 16 or 32: stride-2 convs past this are replaced by dilation

    def as_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- weights on disk / offline


def load_local_weights(model: nn.Module, path: Path, weights, kind: str) -> nn.Module:
    """The one way local pretrained weights are loaded: torch.load(weights_only=True) + a checked load_state_dict."""
    if not path.is_file():
        raise WeightsUnavailable(f"{path}: no such weights file. {missing_weights_message(weights)}")
    try:
        state_dict = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(f"{path}: cannot be read as {weights_filename(weights)} ({error})") from None
    load_state_dict_checked(model, state_dict, path, kind)
    return model


# ---------------------------------------------------------------- the flower model


class _Out(nn.Module):
    """Unwraps the backbone's {"out": features} dict so the frozen part can be an nn.Sequential."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone

    def forward(self, x):
        return self.backbone(x)["out"]


def dilate_mobilenet(features: nn.Sequential, output_stride: int) -> None:
    """Replace stride-2 depthwise convs past ``output_stride`` by stride 1 and dilate what follows (DeepLab trick)."""
    stride, dilation = 1, 1
    for block in features:
        convs = [m for m in block.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
        for conv in convs:
            if conv.stride == (2, 2):
                if stride * 2 > output_stride:
                    conv.stride, dilation = (1, 1), dilation * 2
                else:
                    stride *= 2
            if dilation > 1:
                conv.dilation, conv.padding = (dilation, dilation), (dilation, dilation)


def build_flower_model(config: SegmenterConfig = SegmenterConfig(), pretrained_backbone: bool = True) -> DeepLabV3:
    """DeepLabV3 = MobileNetV2 features[:18] (ImageNet weights if asked) + a fresh DeepLabHead(320, classes)."""
    weights = MobileNet_V2_Weights.IMAGENET1K_V1
    local = resolve_weights(weights, extra_dirs=(SHARED_WEIGHTS,)) if pretrained_backbone else None
    if pretrained_backbone and local is None:
        features = mobilenet_v2(weights=weights).features  # the real download path for machines with internet
    else:
        backbone = mobilenet_v2(weights=None)
        if local is not None:
            load_local_weights(backbone, local, weights, "ImageNet MobileNetV2")
        features = backbone.features
    dilate_mobilenet(features, config.output_stride)
    backbone = IntermediateLayerGetter(features, return_layers={str(BACKBONE_LAST_BLOCK): "out"})
    model = DeepLabV3(backbone, DeepLabHead(features[BACKBONE_LAST_BLOCK].out_channels, config.num_classes))
    model.arch, model.config = FLOWER_ARCH, config
    return model


def split_for_mode(model: DeepLabV3, mode: str) -> tuple[nn.Module, nn.Module]:
    """(frozen, trainable): trainable(frozen(x)) = low-resolution logits. Frozen parts run without autograd."""
    if mode == "full":
        return nn.Identity(), nn.Sequential(_Out(model.backbone), model.classifier)
    if mode == "head":
        return _Out(model.backbone), model.classifier
    if mode == "last":
        return nn.Sequential(_Out(model.backbone), *list(model.classifier)[:-1]), model.classifier[-1]
    raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")


def set_trainable(model: DeepLabV3, mode: str) -> tuple[nn.Module, nn.Module]:
    """Freeze everything but the mode's trainable part; return split_for_mode's (frozen, trainable)."""
    frozen, trainable = split_for_mode(model, mode)
    model.requires_grad_(False)
    trainable.requires_grad_(True)
    return frozen, trainable


def trainable_parameter_count(model: DeepLabV3, mode: str) -> int:
    return sum(p.numel() for p in split_for_mode(model, mode)[1].parameters())


# ---------------------------------------------------------------- flower checkpoints

FLOWER_KEYS = ("arch", "config", "state_dict", "meta")
# The flower model draws and names exactly two classes (FLOWER_CLASSES, inference's palette); 10**9 would
# otherwise reach the allocator before any shape check.
FLOWER_CONFIG_BOUNDS = {"num_classes": (len(FLOWER_CLASSES), len(FLOWER_CLASSES)), "output_stride": (8, 32)}


def save_flower_checkpoint(path: str | Path, model: DeepLabV3, meta: dict) -> Path:
    state = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
    return save_atomic({"arch": FLOWER_ARCH, "config": model.config.as_dict(), "state_dict": state, "meta": meta}, path)


def load_flower_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> DeepLabV3:
    """The flower model in eval mode with ``.meta``; CheckpointError for anything that is not one."""
    checkpoint = read_checkpoint_dict(path, FLOWER_KEYS, "PixelWise flower segmenter")
    name = shown_path(path)
    if checkpoint["arch"] != FLOWER_ARCH:
        raise CheckpointError(f"{name}: arch {str(checkpoint['arch'])[:40]!r} is not {FLOWER_ARCH!r}")
    fields = set(SegmenterConfig.__dataclass_fields__)
    if not (isinstance(checkpoint["config"], dict) and set(checkpoint["config"]) == fields):
        raise CheckpointError(f"{name}: bad config (want the whole numbers {', '.join(sorted(fields))})")
    check_whole_numbers(checkpoint["config"], FLOWER_CONFIG_BOUNDS, f"{name}: config")
    config = SegmenterConfig(**checkpoint["config"])
    if config.output_stride not in (8, 16, 32):
        raise CheckpointError(f"{name}: output_stride must be 8, 16 or 32, not {config.output_stride}")
    for key in ("state_dict", "meta"):
        if not isinstance(checkpoint[key], dict):
            raise CheckpointError(f"{name}: {key} is a {type(checkpoint[key]).__name__}, not a dict")
    model = build_flower_model(config, pretrained_backbone=False)
    load_state_dict_checked(model, checkpoint["state_dict"], path, "flower DeepLabV3")
    model.meta = checkpoint["meta"]
    return model.to(device).eval()


# ---------------------------------------------------------------- torchvision's COCO / VOC-21 models

VOC_MODELS = {
    "DeepLabV3 ResNet-101 (COCO, VOC labels)": (tv_deeplab.deeplabv3_resnet101, tv_deeplab.DeepLabV3_ResNet101_Weights),
    "DeepLabV3 ResNet-50 (COCO, VOC labels)": (tv_deeplab.deeplabv3_resnet50, tv_deeplab.DeepLabV3_ResNet50_Weights),
    "DeepLabV3 MobileNetV3-Large (COCO, VOC labels)": (
        tv_deeplab.deeplabv3_mobilenet_v3_large,
        tv_deeplab.DeepLabV3_MobileNet_V3_Large_Weights,
    ),
}
VOC_CLASSES = tuple(tv_deeplab.DeepLabV3_ResNet101_Weights.DEFAULT.meta["categories"])


def load_voc_model(name: str, weights_file: str | Path | None = None, allow_download: bool = True) -> DeepLabV3:
    """A 21-class VOC DeepLabV3 in eval mode: from ``weights_file``, torchvision's cache, ../shared/weights,
    or (if the host answers) a download. Offline without weights: WeightsUnavailable naming file and folder."""
    if name not in VOC_MODELS:
        raise ValueError(f"unknown model {name!r}; expected one of {list(VOC_MODELS)}")
    builder, weights_enum = VOC_MODELS[name]
    weights = weights_enum.COCO_WITH_VOC_LABELS_V1
    local = Path(weights_file) if weights_file else resolve_weights(weights, (SHARED_WEIGHTS,), allow_download)
    if local is None:
        return builder(weights=weights).eval()  # the real download path for machines with internet
    model = builder(weights=None, weights_backbone=None, num_classes=len(VOC_CLASSES), aux_loss=True)
    return load_local_weights(model, local, weights, name).eval()


def voc_model_available(name: str) -> bool:
    """Whether load_voc_model can load ``name`` here: its weights on this machine, or their host reachable
    (one quick probe, pixelwise.network.url_reachable)."""
    try:
        resolve_weights(VOC_MODELS[name][1].COCO_WITH_VOC_LABELS_V1, (SHARED_WEIGHTS,))
    except WeightsUnavailable:
        return False
    return True


def offline_message(name: str) -> str:
    """A VOC model that cannot be loaded, in the page's plain words: the file it needs, never a server folder
    (WeightsUnavailable's own message names the folders, for whoever runs the server)."""
    weights = VOC_MODELS[name][1].COCO_WITH_VOC_LABELS_V1
    return (f"{name} cannot run here: its COCO-trained weights ({weights_filename(weights)}) are not on this server "
            "and cannot be downloaded from it. The flower model works offline.")
