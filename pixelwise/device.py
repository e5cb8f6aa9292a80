"""One device rule for training, inference and the app."""
import torch


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' = CUDA when present, else the CPU; any other name is taken as it is."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
