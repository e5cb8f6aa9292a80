"""The colourization networks. All map a grey image (N x in_channels x H x W) to per-pixel
colour-class logits (N x num_colours x H x W); each says which H, W multiple it needs.

- ``CNN`` and ``UNet``: the handout's two networks (PA2 parts A and B), exactly as it defines them.
- ``DeepUNet``: the same blocks with NF and the number of levels configurable, and a 1x1 classifier
  (beyond the handout: hundreds of ab classes would make a k x k classifier the costliest layer).
- ``MobileUNet``: the encoder is ImageNet MobileNetV2 (grey replicated to 3 channels), the decoder
  the same up-sampling blocks with skips: the lesson of PA2 part 3, transfer from ImageNet. With
  ``in_channels=4`` it also takes user hints (Zhang et al., SIGGRAPH 2017): L, then the hinted a and b
  and a mask plane (``colorizer.hints``); with ``global_hints=1`` also a global colour distribution
  (``colorizer.reference``) through a small branch joined at the bottleneck.
"""
import inspect
from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    kernel: int = 3
    num_filters: int = 32
    num_colours: int = 24
    in_channels: int = 1
    depth: int = 2  # DeepUNet's number of down/up levels; the handout models have 2
    global_hints: int = 0  # MobileUNet: 1 = it also takes a global colour distribution (colorizer.reference)

    def as_dict(self) -> dict:
        # without a global branch the field is left out: every earlier checkpoint's config stays as it was
        values = asdict(self)
        return values if self.global_hints else {k: v for k, v in values.items() if k != "global_hints"}


def _conv(c_in: int, c_out: int, kernel: int) -> nn.Conv2d:
    # "same" padding keeps H x W, as the handout's MyConv2d does for odd kernels.
    return nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2)


def down_block(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    """conv -> maxpool(2) -> BN -> ReLU: halves H and W."""
    return nn.Sequential(_conv(c_in, c_out, kernel), nn.MaxPool2d(2), nn.BatchNorm2d(c_out), nn.ReLU())


def middle_block(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    """conv -> BN -> ReLU at constant resolution (the handout's 'rfconv')."""
    return nn.Sequential(_conv(c_in, c_out, kernel), nn.BatchNorm2d(c_out), nn.ReLU())


def up_block(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    """conv -> nearest upsample(2) -> BN -> ReLU: doubles H and W."""
    return nn.Sequential(
        _conv(c_in, c_out, kernel), nn.Upsample(scale_factor=2), nn.BatchNorm2d(c_out), nn.ReLU()
    )


class _EncoderDecoder(nn.Module):
    """The handout's six blocks; ``skips`` widens the inputs of the blocks that read a skip connection."""

    def __init__(self, kernel: int, num_filters: int, num_colours: int, in_channels: int, skips: bool):
        super().__init__()
        self.config = ModelConfig(kernel, num_filters, num_colours, in_channels)
        nf, nc, k = num_filters, num_colours, kernel
        self.downconv1 = down_block(in_channels, nf, k)
        self.downconv2 = down_block(nf, 2 * nf, k)
        self.rfconv = middle_block(2 * nf, 2 * nf, k)
        self.upconv1 = up_block(2 * nf + (2 * nf if skips else 0), nf, k)  # UNet: also sees downconv2
        self.upconv2 = up_block(nf + (nf if skips else 0), nc, k)  # UNet: also sees downconv1
        self.finalconv = _conv(nc + (in_channels if skips else 0), nc, k)  # UNet: also sees the grey input


class CNN(_EncoderDecoder):
    """Encoder-decoder without skips (handout Part A)."""

    arch = "cnn"
    size_multiple = 4  # two 2x poolings

    def __init__(self, kernel: int = 3, num_filters: int = 32, num_colours: int = 24, in_channels: int = 1):
        super().__init__(kernel, num_filters, num_colours, in_channels, skips=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downconv1(x)
        x = self.downconv2(x)
        x = self.rfconv(x)
        x = self.upconv1(x)
        x = self.upconv2(x)
        return self.finalconv(x)


class UNet(_EncoderDecoder):
    """The same blocks with skip connections by channel concatenation (handout Part B)."""

    arch = "unet"
    size_multiple = 4

    def __init__(self, kernel: int = 3, num_filters: int = 32, num_colours: int = 24, in_channels: int = 1):
        super().__init__(kernel, num_filters, num_colours, in_channels, skips=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d1 = self.downconv1(x)
        d2 = self.downconv2(d1)
        r = self.rfconv(d2)
        u1 = self.upconv1(torch.cat([r, d2], dim=1))
        u2 = self.upconv2(torch.cat([u1, d1], dim=1))
        return self.finalconv(torch.cat([u2, x], dim=1))


class DeepUNet(nn.Module):
    """The handout's UNet blocks, ``depth`` levels deep (widths NF, 2NF, 4NF, ...), skips by
    concatenation, the grey input concatenated before a 1x1 classifier."""

    arch = "deep_unet"

    def __init__(self, kernel: int = 3, num_filters: int = 64, num_colours: int = 24, in_channels: int = 1,
                 depth: int = 3):
        super().__init__()
        self.config = ModelConfig(kernel, num_filters, num_colours, in_channels, depth)
        self.size_multiple = 2 ** depth
        widths = [num_filters * 2 ** level for level in range(depth)]
        self.down = nn.ModuleList(down_block(c_in, c_out, kernel)
                                  for c_in, c_out in zip([in_channels] + widths[:-1], widths))
        self.rfconv = middle_block(widths[-1], widths[-1], kernel)
        outs = widths[::-1][1:] + [num_filters]
        self.up = nn.ModuleList(up_block(2 * c_in, c_out, kernel) for c_in, c_out in zip(widths[::-1], outs))
        self.finalconv = nn.Conv2d(num_filters + in_channels, num_colours, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips, h = [], x
        for block in self.down:
            h = block(h)
            skips.append(h)
        h = self.rfconv(h)
        for block, skip in zip(self.up, reversed(skips)):
            h = block(torch.cat([h, skip], dim=1))
        return self.finalconv(torch.cat([h, x], dim=1))


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MOBILENET_STAGES = (2, 4, 7, 14, 18)  # features[a:b] end at strides 2, 4, 8, 16, 32 (16, 24, 32, 96, 320 ch)
MOBILENET_CHANNELS = (16, 24, 32, 96, 320)


HINT_CHANNELS = 3  # hinted a / 110, hinted b / 110, mask (1 where a hint is): colorizer.hints


class MobileUNet(nn.Module):
    """ImageNet MobileNetV2 as the encoder (the grey input replicated to RGB and normalized as
    ImageNet was), the handout's up-sampling blocks with skips as the decoder (widths 8NF at stride
    16 down to NF at full size), the grey input concatenated before a 1x1 classifier.
    ``in_channels=4``: L plus three hint planes, added into the encoder's first stage by their own
    convolution (zero at the start, so training begins from the ImageNet path), and given to every
    decoder block at its own scale (``hint_pyramid``: the mean hinted ab in each cell and whether a hint
    is there), so a hint reaches far at the coarse levels; the classifier reads them at full size."""

    arch = "mobile_unet"
    size_multiple = 32

    def __init__(self, kernel: int = 3, num_filters: int = 32, num_colours: int = 24, in_channels: int = 1,
                 global_hints: int = 0):
        super().__init__()
        from torchvision.models import mobilenet_v2

        self.config = ModelConfig(kernel, num_filters, num_colours, in_channels, depth=len(MOBILENET_STAGES),
                                  global_hints=global_hints)
        features = mobilenet_v2(weights=None).features
        starts = (0,) + MOBILENET_STAGES[:-1]
        self.encoder = nn.ModuleList(features[a:b] for a, b in zip(starts, MOBILENET_STAGES))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        nf = num_filters
        widths = (8 * nf, 4 * nf, 2 * nf, 2 * nf, nf)  # decoder outputs at strides 16, 8, 4, 2, 1
        skips = MOBILENET_CHANNELS[-2::-1] + (0,)  # 96, 32, 24, 16, then none at full size
        ins = (MOBILENET_CHANNELS[-1],) + widths[:-1]
        hinted = in_channels == 1 + HINT_CHANNELS
        extra = HINT_CHANNELS if hinted else 0
        self.up = nn.ModuleList(_up_merge(c_in + skip + extra, c_out, kernel)
                                for c_in, skip, c_out in zip(ins, skips, widths))
        self.finalconv = nn.Conv2d(nf + in_channels, num_colours, 1)
        if hinted:
            first = features[0][0]  # the stem convolution: 3 x 3, stride 2, 32 channels
            self.hint_conv = nn.Conv2d(HINT_CHANNELS, first.out_channels, 3, stride=2, padding=1)
            nn.init.zeros_(self.hint_conv.weight)
            nn.init.zeros_(self.hint_conv.bias)
        if global_hints:
            self.global_branch = GlobalHintBranch(num_colours, MOBILENET_CHANNELS[-1])

    def forward(self, x: torch.Tensor, global_hint: torch.Tensor | None = None) -> torch.Tensor:
        """``global_hint``: N x (num_colours + 2) (``colorizer.reference.global_hint_vector``); None = no
        global hint (the same as a vector whose 'given' flag is 0)."""
        grey = x[:, :1]
        h = (grey.expand(-1, 3, -1, -1) - self.mean) / self.std if x.shape[1] != 3 else (x - self.mean) / self.std
        skips = []
        for index, stage in enumerate(self.encoder):
            if index == 0 and hasattr(self, "hint_conv"):
                h = stage[0](h) + self.hint_conv(x[:, 1:])  # the hints join after the stem
                h = stage[1:](h)
            else:
                h = stage(h)
            skips.append(h)
        shift = None
        if hasattr(self, "global_branch"):
            if global_hint is None:
                global_hint = x.new_zeros(len(x), self.global_branch.inputs)
            feature_shift, shift = self.global_branch(global_hint.to(h.dtype))
            h = h + feature_shift
        for block, skip in zip(self.up, skips[-2::-1] + [None]):
            h = nn.functional.interpolate(h, scale_factor=2.0, mode="nearest")
            parts = [h] + ([] if skip is None else [skip])
            if hasattr(self, "hint_conv"):
                parts.append(hint_pyramid(x[:, 1:], x.shape[-1] // h.shape[-1]))
            h = block(torch.cat(parts, dim=1))
        logits = self.finalconv(torch.cat([h, x], dim=1))
        return logits if shift is None else logits + shift


class GlobalHintBranch(nn.Module):
    """SIGGRAPH 2017's global hints: a distribution over the ab classes, a saturation and a 'given' flag ->
    a shift of the bottleneck features (the decoder spreads it with the photo's structure) and a per-class
    shift of the logits (a direct lever on the palette). Both output layers start at zero, so a model
    warm-started from one without the branch computes exactly what it did; and both are zero whenever
    no global hint is given."""

    def __init__(self, num_colours: int, bottleneck: int, hidden: int = 256):
        super().__init__()
        self.inputs = num_colours + 2
        self.trunk = nn.Sequential(nn.Linear(self.inputs, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        for layer in self.trunk[::2]:  # He init: the scaled input below has about unit variance per entry
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)
        self.to_features = nn.Linear(hidden, bottleneck)
        self.to_logits = nn.Linear(hidden, num_colours)
        for layer in (self.to_features, self.to_logits):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, vector: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # shares -> sqrt(share * Q) (the Hellinger embedding, scaled): a photo's few main classes read as
        # entries of a few units instead of hundredths, so the first layers start with a usable signal
        shares, rest = vector[:, :-2].float(), vector[:, -2:].float()
        scaled = torch.cat([(shares.clamp(min=0) * shares.shape[1]).sqrt(), rest * rest.new_tensor([5.0, 1.0])], dim=1)
        hidden = self.trunk(scaled.to(vector.dtype))
        # gated by the 'given' flag: with no global hint the branch adds exactly nothing, so a model trained
        # with its other weights frozen (TrainConfig.freeze_trunk) keeps the automatic colour bit for bit
        given = vector[:, -1:].to(hidden.dtype)
        features, logits = self.to_features(hidden) * given, self.to_logits(hidden) * given
        return features[:, :, None, None], logits[:, :, None, None]


def hint_pyramid(planes: torch.Tensor, factor: int) -> torch.Tensor:
    """Hint planes (a, b, mask) at 1 / ``factor`` of their size: per cell the mean ab of the hinted
    pixels in it (0 where none) and 1 where any pixel of it is hinted."""
    if factor == 1:
        return planes
    ab, mask = planes[:, :2], planes[:, 2:]
    share = nn.functional.avg_pool2d(mask, factor)
    mean_ab = nn.functional.avg_pool2d(ab, factor) / share.clamp(min=1e-6)
    return torch.cat([mean_ab, nn.functional.max_pool2d(mask, factor)], dim=1)


def _up_merge(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    """conv -> BN -> ReLU after the (upsampled) input was concatenated with its skip."""
    return middle_block(c_in, c_out, kernel)


def find_mobilenet_weights() -> str:
    """Path of torchvision's ImageNet MobileNetV2 weights: torchvision's cache or ../shared/weights, else
    downloaded into the cache (online); offline, WeightsUnavailable says which file to put where."""
    from torchvision.models import MobileNet_V2_Weights

    from pixelwise.settings import SHARED_WEIGHTS
    from pixelwise.weights import cached_weights_path, resolve_weights

    weights = MobileNet_V2_Weights.IMAGENET1K_V1
    local = resolve_weights(weights, (SHARED_WEIGHTS,))
    if local is None:  # reachable: let torchvision download it into its cache, with its own checks
        weights.get_state_dict(progress=True)
        local = cached_weights_path(weights)
    return str(local)


def load_imagenet_encoder(model: MobileUNet, weights_file: str) -> None:
    """Copy torchvision's ImageNet MobileNetV2 weights into the encoder (strict: every tensor must fit)."""
    state = torch.load(weights_file, map_location="cpu", weights_only=True)
    features = {key[len("features."):]: value for key, value in state.items() if key.startswith("features.")}
    for stage in model.encoder:  # slices of features keep its layer numbers as their keys
        own = {key: value for key, value in features.items() if key.split(".", 1)[0] in stage._modules}
        stage.load_state_dict(own, strict=True)


ARCHITECTURES = {"cnn": CNN, "unet": UNet, "deep_unet": DeepUNet, "mobile_unet": MobileUNet}
ARCH_NAMES = {"cnn": "CNN", "unet": "UNet", "deep_unet": "Deep UNet", "mobile_unet": "MobileNetV2-UNet"}
HANDOUT_ARCHS = ("cnn", "unet")


def build_model(arch: str, config: ModelConfig | None = None) -> nn.Module:
    """Instantiate an architecture from a ModelConfig (each takes the fields it has parameters for)."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown model {arch!r}; choose one of {sorted(ARCHITECTURES)}")
    cls = ARCHITECTURES[arch]
    accepted = inspect.signature(cls).parameters
    return cls(**{k: v for k, v in (config or ModelConfig()).as_dict().items() if k in accepted})
