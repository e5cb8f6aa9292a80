"""Global colour hints (issue 32): a photo's palette over the ab classes, the zero-initialised global branch,
its training option, and a reference photo through colourize_prepared."""
import numpy as np
import pytest
import torch

from colorizer import inference, lab, reference
from colorizer.checkpoint import load_checkpoint, save_checkpoint
from colorizer.models import MobileUNet
from colorizer.trainer import TrainConfig, data_for, train, warm_start
from tests.helpers import CHECKPOINTS
from tests.test_hints import _photo_folder

GRID = torch.stack(torch.meshgrid(*(torch.arange(-110.0, 111.0, 10.0),) * 2, indexing="ij"), dim=-1).reshape(-1, 2)


def test_a_photo_of_two_flat_colours_has_two_classes_with_their_shares():
    photo = np.zeros((40, 50, 3), np.uint8)
    photo[:, :15] = (200, 30, 30)  # 30% red
    photo[:, 15:] = (40, 60, 220)  # 70% blue
    shares, saturation = reference.photo_palette(photo, GRID)
    ab = lab.rgb_to_lab(torch.tensor([[200, 30, 30], [40, 60, 220]], dtype=torch.uint8))[:, 1:]
    red, blue = lab.AbBins(GRID, "grid").labels(ab).tolist()
    assert torch.count_nonzero(shares) == 2
    assert shares[red].item() == pytest.approx(0.3) and shares[blue].item() == pytest.approx(0.7)
    expected = (0.3 * ab[0].norm() + 0.7 * ab[1].norm()).item() / 110
    assert saturation == pytest.approx(expected, rel=1e-3)
    assert [share for _, share in reference.swatches(shares, GRID)] == pytest.approx([0.7, 0.3])


def test_training_palettes_are_the_crops_own_sometimes_blurred_cut_or_dropped():
    generator = torch.Generator().manual_seed(0)
    ab = torch.randn(200, 6, 6, 2) * 30
    labels = lab.AbBins(GRID, "grid").labels(ab)
    vectors = reference.sample_global_hints(labels, ab, GRID, generator, drop_share=0.3)
    given = vectors[:, -1] == 1
    assert 0.22 < 1 - given.float().mean().item() < 0.38  # about 30% dropped
    assert torch.count_nonzero(vectors[~given]) == 0  # dropped = "no global hint": all zeros
    assert torch.allclose(vectors[given, :-2].sum(1), torch.ones(int(given.sum())), atol=1e-5)
    exact = [(vector[:-2] == torch.bincount(label.reshape(-1), minlength=len(GRID)) / 36).all().item()
             for vector, label in zip(vectors[given], labels[given])]
    assert 0.2 < np.mean(exact) < 0.5  # a third exact; the rest blurred or cut
    again = reference.sample_global_hints(labels, ab, GRID, torch.Generator().manual_seed(0), drop_share=0.3)
    assert torch.equal(vectors, again)


def _pair(num_colours=12):
    """A hint model without the branch and the same weights with it (zero output layers)."""
    torch.manual_seed(0)
    plain = MobileUNet(num_filters=8, num_colours=num_colours, in_channels=4).eval()
    with_branch = MobileUNet(num_filters=8, num_colours=num_colours, in_channels=4, global_hints=1).eval()
    missing, _ = with_branch.load_state_dict(plain.state_dict(), strict=False)
    assert missing and all(name.startswith("global_branch.") for name in missing)
    for model in (plain, with_branch):
        model.colour_space, model.ab_centres = "lab", torch.randn(num_colours, 2) * 40
    with_branch.ab_centres = plain.ab_centres
    return plain, with_branch


def test_no_global_hint_through_the_new_model_equals_the_model_without_the_branch():
    plain, with_branch = _pair()
    x = torch.rand(2, 4, 64, 96)
    vector = reference.global_hint_vector(torch.full((12,), 1 / 12), 0.3).expand(2, -1)
    with torch.no_grad():
        assert torch.equal(plain(x), with_branch(x))  # no global hint
        assert torch.equal(plain(x), with_branch(x, vector))  # a hint, but the output layers are still zero
        torch.nn.init.normal_(with_branch.global_branch.to_logits.weight, std=0.1)
        assert not torch.equal(plain(x), with_branch(x, vector))  # once trained, a palette moves the logits
        torch.nn.init.normal_(with_branch.global_branch.to_features.bias, std=0.1)
        torch.nn.init.normal_(with_branch.global_branch.to_logits.bias, std=0.1)
        assert torch.equal(plain(x), with_branch(x))  # a trained branch still adds nothing when no hint is given


def test_the_shipped_hint_checkpoint_loads_unchanged_and_warm_starts_the_branch_exactly(tmp_path):
    old, _ = load_checkpoint(CHECKPOINTS / "colour_hints.pt")
    assert not hasattr(old, "global_branch") and "global_hints" not in old.config.as_dict()
    new = MobileUNet(3, 32, old.config.num_colours, 4, global_hints=1).eval()
    warm_start(new, CHECKPOINTS / "colour_hints.pt")
    x = torch.rand(1, 4, 64, 64)
    with torch.no_grad():
        assert torch.equal(old(x), new(x))
    new.colour_space, new.ab_centres = "lab", old.ab_centres
    save_checkpoint(tmp_path / "reference.pt", new, torch.rand(old.config.num_colours, 3), {"global_hints": True},
                    {"colour_space": "lab", "ab_centres": old.ab_centres})
    loaded, _ = load_checkpoint(tmp_path / "reference.pt")
    assert reference.takes_reference(loaded) and loaded.config.global_hints == 1
    with torch.no_grad():
        assert torch.equal(loaded(x), old(x))


def test_training_with_global_hints_learns_from_the_palette_and_resumes_exactly(tmp_path):
    root = _photo_folder(tmp_path / "photos", (("train", 4), ("val", 1)))
    config = TrainConfig(model="mobile_unet", pretrained=False, data_root=str(root), photo_size=32,
                         photo_cache_side=40, target="lab_grid", rebalance=0.5, hints=True, global_hints=True,
                         epochs=2, batch_size=4, num_filters=4, precision="fp32", device="cpu", learning_rate=1e-2)
    data = data_for(config)
    first = train(config, data)
    assert first.model.config.global_hints == 1 and first.meta()["global_hints"] is True
    branch = first.model.global_branch
    assert branch.to_logits.weight.abs().sum() > 0  # the palette was learned from
    resumable = TrainConfig(**{**config.__dict__, "resume_path": str(tmp_path / "state.pt"), "epochs": 1})
    train(resumable, data)
    resumed = train(TrainConfig(**{**resumable.__dict__, "epochs": 2}), data)
    # the same losses as the run in one go: deterministic, and resumed exactly where it was
    assert [event.train_loss for event in resumed.history] == [event.train_loss for event in first.history]


def test_freeze_trunk_trains_the_branch_only_and_keeps_the_automatic_colour_exactly(tmp_path):
    """With freeze_trunk every weight and batch-norm statistic outside the branch stays as init_from left it,
    so the trained model without a global hint computes exactly the starting model."""
    root = _photo_folder(tmp_path / "photos", (("train", 4), ("val", 1)))
    base = TrainConfig(model="mobile_unet", pretrained=False, data_root=str(root), photo_size=32,
                       photo_cache_side=40, target="lab_grid", rebalance=0.5, hints=True, epochs=1, batch_size=4,
                       num_filters=4, precision="fp32", device="cpu", learning_rate=1e-2)
    data = data_for(base)
    start = train(TrainConfig(**{**base.__dict__, "resume_path": str(tmp_path / "start.pt")}), data).model
    frozen = train(TrainConfig(**{**base.__dict__, "global_hints": True, "freeze_trunk": True, "epochs": 2,
                                  "global_drop_share": 0.0, "init_from": str(tmp_path / "start.pt")}), data).model
    trunk = {name: value for name, value in frozen.state_dict().items() if not name.startswith("global_branch.")}
    assert all(torch.equal(value, start.state_dict()[name]) for name, value in trunk.items())
    assert frozen.global_branch.to_logits.weight.abs().sum() > 0  # the branch learned
    frozen.eval(), start.eval()
    x = torch.rand(2, 4, 32, 32)
    with torch.no_grad():
        assert torch.equal(frozen(x), start(x))
    with pytest.raises(ValueError, match="global_hints"):
        train(TrainConfig(**{**base.__dict__, "freeze_trunk": True}), data)


def test_a_reference_photo_through_colourize_prepared():
    plain, with_branch = _pair()
    torch.nn.init.normal_(with_branch.global_branch.to_logits.weight, std=0.5)
    photo = inference.prepare_photo(np.random.default_rng(0).integers(0, 256, (70, 130, 3), dtype=np.uint8))
    palette = torch.zeros(12, 3)
    automatic = inference.colourize_prepared(with_branch, palette, photo)
    red = np.zeros((20, 20, 3), np.uint8)
    red[...] = (220, 20, 20)
    full = inference.colourize_prepared(with_branch, palette, photo, reference=red)
    none = inference.colourize_prepared(with_branch, palette, photo, reference=red, reference_strength=0.0)
    half = inference.colourize_prepared(with_branch, palette, photo, reference=inference.prepare_photo(red),
                                        reference_strength=0.5)
    assert torch.equal(none.logits, automatic.logits) and not torch.equal(full.logits, automatic.logits)
    assert torch.allclose(half.logits, (full.logits + automatic.logits) / 2, atol=1e-5)
    torch.nn.init.normal_(with_branch.hint_conv.weight, std=0.5)  # a hint-sensitive model: clicks work with a reference
    hinted = inference.colourize_prepared(with_branch, palette, photo, reference=red, hints=[(65, 35, "#00ff00")])
    assert not torch.equal(hinted.logits, inference.colourize_prepared(with_branch, palette, photo, reference=red).logits)
    obj = inference.colourize_prepared(with_branch, palette, photo, reference=red,
                                       hints=[{"x": 65, "y": 35, "colour": "#00ff00", "reach": "object"}])
    assert obj.logits.shape == hinted.logits.shape  # an object hint (several passes) takes the reference too
    with pytest.raises(reference.ReferencePhotoError, match="no colour"):
        inference.colourize_prepared(with_branch, palette, photo, reference=np.full((9, 9, 3), 128, np.uint8))
    with pytest.raises(reference.ReferencePhotoError, match="takes no reference"):
        inference.colourize_prepared(plain, palette, photo, reference=red)
    with pytest.raises(reference.ReferencePhotoError, match="between 0 and 1"):
        inference.colourize_prepared(with_branch, palette, photo, reference=red, reference_strength=2)


def test_warm_start_refuses_a_checkpoint_of_other_ab_classes(tmp_path):
    """A run on fewer photos found other ab classes; warm-started from colour_hints.pt it read every output as
    another colour (validation accuracy 0.006): now a plain refusal."""
    source = MobileUNet(num_filters=8, num_colours=12, in_channels=4)
    save_checkpoint(tmp_path / "old.pt", source, torch.rand(12, 3), {},
                    {"colour_space": "lab", "ab_centres": GRID[:12]})
    target = MobileUNet(num_filters=8, num_colours=12, in_channels=4, global_hints=1)
    with pytest.raises(ValueError, match="other ab classes"):
        warm_start(target, tmp_path / "old.pt", GRID[1:13])
    warm_start(target, tmp_path / "old.pt", GRID[:12])
    assert torch.equal(target.finalconv.weight, source.finalconv.weight)


def test_epoch_images_trains_on_a_fresh_subset_each_epoch(tmp_path):
    root = _photo_folder(tmp_path / "photos", (("train", 8), ("val", 2)))
    config = TrainConfig(model="deep_unet", data_root=str(root), photo_size=16, photo_cache_side=24, target="lab_grid",
                         rebalance=0.5, hints=True, epochs=2, batch_size=2, num_filters=4, depth=2, precision="fp32",
                         device="cpu", epoch_images=4)
    result = train(config, data_for(config))
    assert [event.step for event in result.history if event.kind == "epoch"] == [0, 2, 4]  # 4 photos, 2 per batch
    assert result.meta()["epoch_images"] == 4


def test_the_new_branch_can_learn_at_its_own_rate():
    from colorizer.trainer import parameter_groups
    _, model = _pair()
    same = parameter_groups(model, TrainConfig(learning_rate=1e-4))
    groups = parameter_groups(model, TrainConfig(learning_rate=1e-4, global_branch_lr=1e-3))
    assert len(same) == 1 and [len(group["params"]) for group in groups] == [len(same[0]["params"]) - 8, 8]
    assert groups[1]["lr"] == 1e-3 and "lr" not in groups[0]  # the rest at the optimiser's learning_rate


@pytest.mark.skipif(not (CHECKPOINTS / "colour_reference.pt").is_file(), reason="checkpoints/colour_reference.pt is missing")
def test_the_shipped_reference_model_without_a_reference_is_the_hint_model_exactly():
    """colour_reference.pt was trained with its other weights frozen: with no global hint it computes exactly
    what colour_hints.pt does (issue 32's third target, kept by construction)."""
    hint_model, _ = load_checkpoint(CHECKPOINTS / "colour_hints.pt")
    reference_model, _ = load_checkpoint(CHECKPOINTS / "colour_reference.pt")
    trunk = {name: value for name, value in reference_model.state_dict().items() if not name.startswith("global_branch.")}
    assert trunk.keys() == hint_model.state_dict().keys()
    assert all(torch.equal(value, hint_model.state_dict()[name]) for name, value in trunk.items())
    x = torch.rand(1, 4, 64, 96)
    with torch.no_grad():
        assert torch.equal(hint_model.eval()(x), reference_model.eval()(x))
