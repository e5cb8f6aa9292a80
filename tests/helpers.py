"""Paths shared by the tests: the real data in ../shared beside the repo."""
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
CIFAR = SHARED / "data" / "cifar10"
FLOWERS = SHARED / "data" / "flowers17"
CHECKPOINTS = REPO / "checkpoints"

requires_cifar = pytest.mark.skipif(not CIFAR.is_dir(), reason=f"needs CIFAR-10 image folder at {CIFAR}")
