"""The colour palette (k-means over training pixels) and nearest-colour labels.

Both work on the distinct colours of the images rather than on every pixel: a
category of 5,000 CIFAR images has 5 M pixels but only a few hundred thousand
distinct RGB triples, so labelling the whole category is one small distance
matrix plus an index, with no per-image loop.
"""
import torch


def distinct_colours(rgb_uint8: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Distinct RGB triples (U x 3 float in [0, 1]), their counts, and each pixel's index into them."""
    pixels = rgb_uint8.reshape(-1, 3).to(torch.int64)
    codes = (pixels[:, 0] << 16) | (pixels[:, 1] << 8) | pixels[:, 2]
    unique_codes, inverse, counts = torch.unique(codes, return_inverse=True, return_counts=True)
    colours = torch.stack([(unique_codes >> 16) & 255, (unique_codes >> 8) & 255, unique_codes & 255], dim=1)
    return colours.float() / 255.0, counts, inverse


def _squared_distances(colours: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    # Explicit differences, not the |a|^2 - 2ab + |b|^2 expansion, so ties and
    # near-ties resolve exactly as a brute-force check computes them.
    return ((colours[:, None, :] - palette[None, :, :]) ** 2).sum(dim=-1)


def kmeans_palette(rgb_uint8: torch.Tensor, k: int = 24, seed: int = 0, iterations: int = 40) -> torch.Tensor:
    """k colours (k x 3 float RGB in [0, 1]) from weighted k-means over the images' pixels.

    Seeded k-means++ initialisation, then Lloyd iterations; the same images and
    seed always give the same palette. Rows are sorted by brightness so that
    palettes read the same in every checkpoint.
    """
    colours, counts, _ = distinct_colours(rgb_uint8)
    if len(colours) < k:
        raise ValueError(f"only {len(colours)} distinct colours; cannot pick {k}")
    weights = counts.double()
    generator = torch.Generator().manual_seed(seed)
    centres = colours[torch.multinomial(weights, 1, generator=generator)]
    nearest = _squared_distances(colours, centres).squeeze(1).double()
    for _ in range(1, k):  # k-means++: next centre drawn in proportion to weight x squared distance
        new_centre = colours[torch.multinomial(weights * nearest, 1, generator=generator)]
        centres = torch.cat([centres, new_centre])
        nearest = torch.minimum(nearest, _squared_distances(colours, new_centre).squeeze(1).double())
    for _ in range(iterations):
        # cdist (a matrix product) is ~10x faster than explicit differences; exact ties do not matter here.
        assignment = torch.cdist(colours, centres).argmin(dim=1)
        mass = torch.zeros(k, dtype=torch.float64).index_add_(0, assignment, weights)
        sums = torch.zeros(k, 3, dtype=torch.float64).index_add_(0, assignment, colours.double() * weights[:, None])
        updated = torch.where(mass[:, None] > 0, sums / mass.clamp(min=1)[:, None], centres.double()).float()
        if torch.equal(updated, centres):
            break
        centres = updated
    return centres[centres.sum(dim=1).argsort()]


def nearest_colour_labels(rgb_uint8: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """Index of the nearest palette colour for every pixel: ... x H x W x 3 uint8 -> ... x H x W int64."""
    colours, _, inverse = distinct_colours(rgb_uint8)
    return _squared_distances(colours, palette.float()).argmin(dim=1)[inverse].reshape(rgb_uint8.shape[:-1])


def labels_to_rgb(labels: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """Class map (... x H x W) -> uint8 RGB (... x H x W x 3)."""
    return (palette[labels] * 255.0).round().clamp(0, 255).to(torch.uint8)
