"""The handout's two colourization networks: a plain encoder-decoder CNN and a UNet.

Both map a grey image (N x in_channels x H x W) to per-pixel colour-class logits
(N x num_colours x H x W). They are fully convolutional, so any H and W divisible
by 4 (two 2x poolings) work.
"""
from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    kernel: int = 3
    num_filters: int = 32
    num_colours: int = 24
    in_channels: int = 1

    def as_dict(self) -> dict:
        return asdict(self)


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

    def __init__(self, kernel: int = 3, num_filters: int = 32, num_colours: int = 24, in_channels: int = 1):
        super().__init__(kernel, num_filters, num_colours, in_channels, skips=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d1 = self.downconv1(x)
        d2 = self.downconv2(d1)
        r = self.rfconv(d2)
        u1 = self.upconv1(torch.cat([r, d2], dim=1))
        u2 = self.upconv2(torch.cat([u1, d1], dim=1))
        return self.finalconv(torch.cat([u2, x], dim=1))


ARCHITECTURES = {"cnn": CNN, "unet": UNet}
ARCH_NAMES = {"cnn": "CNN", "unet": "UNet"}  # as people write them


def build_model(arch: str, config: ModelConfig | None = None) -> nn.Module:
    """Instantiate 'cnn' or 'unet' from a ModelConfig."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown model {arch!r}; choose one of {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[arch](**(config or ModelConfig()).as_dict())
