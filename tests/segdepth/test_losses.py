"""Segmentation and depth losses on cases with known answers."""
import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from segdepth.losses import (
    IGNORE_INDEX, DepthLoss, SegmentationLoss, cross_entropy, depth_to_target, l1_mask_loss,
    soft_iou_loss, ssim, target_to_depth,
)


def logits_for(prob_person: torch.Tensor) -> torch.Tensor:
    """N×H×W probabilities → N×2×H×W logits with exactly that softmax."""
    p = prob_person.clamp(1e-7, 1 - 1e-7)
    return torch.stack([torch.log1p(-p), torch.log(p)], dim=1)


def test_perfect_confident_prediction_gives_near_zero_losses():
    target = torch.zeros(2, 8, 8, dtype=torch.long)
    target[:, 2:6, 3:7] = 1
    logits = 30.0 * (2 * target.float() - 1)[:, None].repeat(1, 2, 1, 1) * torch.tensor([-1.0, 1.0]).view(1, 2, 1, 1)
    assert cross_entropy(logits, target) < 1e-6
    assert soft_iou_loss(logits, target) < 1e-6
    assert l1_mask_loss(logits, target) < 1e-6


def test_soft_iou_hand_computed():
    # p = 0.5 everywhere on 4 pixels, target = 1 on 2: I = 1, U = 2 + 2 − 1 = 3
    target = torch.tensor([[[1, 1], [0, 0]]])
    logits = logits_for(torch.full((1, 2, 2), 0.5))
    assert soft_iou_loss(logits, target, eps=0.0).item() == pytest.approx(1 - 1 / 3, abs=1e-6)
    assert l1_mask_loss(logits, target).item() == pytest.approx(0.5, abs=1e-6)
    assert cross_entropy(logits, target).item() == pytest.approx(np.log(2), abs=1e-6)


def test_empty_masks():
    empty = torch.zeros(1, 4, 4, dtype=torch.long)
    confident_empty = logits_for(torch.full((1, 4, 4), 1e-6))
    assert soft_iou_loss(confident_empty, empty).item() < 1e-4  # both empty: perfect
    # predicting a person where there is none is the worst case
    assert soft_iou_loss(logits_for(torch.full((1, 4, 4), 1 - 1e-6)), empty, eps=0.0).item() == pytest.approx(1.0)


def test_ignored_pixels_do_not_count():
    target = torch.tensor([[[1, IGNORE_INDEX], [0, IGNORE_INDEX]]])
    good = logits_for(torch.tensor([[[0.999, 0.0], [0.001, 1.0]]]))
    assert cross_entropy(good, target) < 0.01
    assert soft_iou_loss(good, target) < 0.01
    assert l1_mask_loss(good, target) < 0.01
    all_ignored = torch.full((1, 2, 2), IGNORE_INDEX)
    assert cross_entropy(good, all_ignored).item() == 0.0


def test_segmentation_loss_weights_and_parts():
    target = torch.tensor([[[1, 0]]])
    logits = logits_for(torch.tensor([[[0.7, 0.4]]]))
    total, parts = SegmentationLoss(ce=1.0, iou=2.0, l1=0.5)(logits, target)
    assert set(parts) == {"ce", "iou", "l1"}
    assert total.item() == pytest.approx(parts["ce"] + 2 * parts["iou"] + 0.5 * parts["l1"], rel=1e-5)
    with pytest.raises(ValueError):
        SegmentationLoss(ce=0.0)(logits, target)


def test_depth_target_normalisation_round_trip():
    depth = torch.tensor([0.05, 0.1, 1.0, 2.5, 10.0, 30.0])
    y = depth_to_target(depth, max_depth=10.0, min_depth=0.1)
    assert torch.allclose(y, torch.tensor([100.0, 100.0, 10.0, 4.0, 1.0, 1.0]))
    assert torch.allclose(target_to_depth(y), torch.tensor([0.1, 0.1, 1.0, 2.5, 10.0, 10.0]))


def test_ssim_matches_scikit_image():
    rng = np.random.default_rng(0)
    a = rng.uniform(1, 100, (40, 50)).astype(np.float64)
    b = np.clip(a + rng.normal(0, 15, a.shape), 1, 100)
    ref = structural_similarity(a, b, data_range=99.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    got = ssim(torch.from_numpy(a)[None, None], torch.from_numpy(b)[None, None], data_range=99.0).item()
    assert got == pytest.approx(ref, abs=1e-6)


def test_depth_loss_known_answers():
    loss = DepthLoss()
    y = depth_to_target(torch.rand(2, 1, 24, 24) * 5 + 0.5)
    total, parts = loss(y, y)
    assert total.item() == pytest.approx(0.0, abs=1e-6)
    constant = torch.full((1, 1, 16, 16), 4.0)
    total, parts = loss(constant + 1.0, constant)
    # constant offset of 1: L1 = 1, no gradient error, SSIM < 1
    assert parts["l1"] == pytest.approx(1.0) and parts["grad"] == pytest.approx(0.0)
    assert 0.0 < parts["ssim"] < 0.5
    assert total.item() == pytest.approx(0.1 * 1.0 + parts["ssim"], rel=1e-5)


def test_depth_loss_ignores_invalid_pixels():
    target = torch.full((1, 1, 16, 16), 3.0)
    pred = target.clone()
    pred[..., :4, :] = 50.0
    valid = torch.ones_like(target, dtype=torch.bool)
    valid[..., :4, :] = False
    total, _ = DepthLoss()(pred, target, valid)
    assert total.item() == pytest.approx(0.0, abs=1e-6)
    total_all, _ = DepthLoss()(pred, target)
    assert total_all.item() > 1.0
