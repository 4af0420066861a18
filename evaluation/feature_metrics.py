"""Metrics computed in a network's feature space: FID and KID between sets of images (Inception
v3 pool features) and LPIPS between two images (AlexNet features). The weights load through
torchvision and the torch hub cache, never downloaded silently; when they (or the optional
``lpips`` package) cannot be had, one :class:`MetricUnavailable` says what is missing and where
it goes (:class:`evaluation.metrics.MetricUnavailable`). Images are numpy uint8 RGB H×W×3;
features are float N×D.
"""
from __future__ import annotations

import logging
import math
import os
import warnings
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
from scipy import linalg

from evaluation.metrics import MetricUnavailable, _check_pair

log = logging.getLogger(__name__)




def trace_sqrt_product(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """Tr((Σ_a Σ_b)^{1/2}) for the sample covariances of two N×D feature sets.

    With centred data X_a (N_a×D), X_b (N_b×D), Σ = XᵀX/(N−1), the non-zero eigenvalues of
    Σ_a Σ_b are those of (X_a X_bᵀ)(X_b X_aᵀ)/((N_a−1)(N_b−1)), so the trace is the nuclear norm
    ‖X_a X_bᵀ‖_* / √((N_a−1)(N_b−1)) — exact, and far cheaper than a D×D sqrtm when N ≪ D
    (e.g. 2048-d Inception features of a few dozen images). Otherwise scipy.linalg.sqrtm of
    Σ_a Σ_b is used (imaginary round-off dropped; regularised by 10⁻⁶·I if not finite, as
    pytorch-fid does).
    """
    a = np.asarray(feats_a, dtype=np.float64)
    b = np.asarray(feats_b, dtype=np.float64)
    na, nb, d = len(a), len(b), a.shape[1]
    xa, xb = a - a.mean(axis=0), b - b.mean(axis=0)
    if min(na, nb) ** 2 * max(na, nb) < d**3:
        singular = np.linalg.svd(xa @ xb.T, compute_uv=False)
        return float(singular.sum() / math.sqrt((na - 1) * (nb - 1)))
    cov_a, cov_b = xa.T @ xa / (na - 1), xb.T @ xb / (nb - 1)
    with warnings.catch_warnings():  # near-singular covariances are expected for small sets
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(cov_a @ cov_b)
        if not np.isfinite(covmean).all():
            eps = 1e-6 * np.eye(d)
            covmean = linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    return float(np.trace(np.real(covmean)))


def fid_from_features(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """Fréchet Inception Distance (Heusel et al. 2017) between two N×D feature sets.

    FID = ‖μ_a − μ_b‖² + Tr(Σ_a) + Tr(Σ_b) − 2 Tr((Σ_a Σ_b)^{1/2}), with unbiased (N−1)
    covariances (the last term by ``trace_sqrt_product``). Needs N ≥ 2 in both sets.
    """
    if len(feats_a) < 2 or len(feats_b) < 2:
        return math.nan
    a = np.asarray(feats_a, dtype=np.float64)
    b = np.asarray(feats_b, dtype=np.float64)
    mean_term = float(np.sum((a.mean(axis=0) - b.mean(axis=0)) ** 2))
    tr_a = float(np.sum(np.var(a, axis=0, ddof=1)))
    tr_b = float(np.sum(np.var(b, axis=0, ddof=1)))
    return max(mean_term + tr_a + tr_b - 2.0 * trace_sqrt_product(a, b), 0.0)


def kid_from_features(
    feats_a: np.ndarray, feats_b: np.ndarray, subset_size: int = 1000, n_subsets: int = 100, seed: int = 0
) -> float:
    """Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD² with the cubic kernel
    k(x, y) = (xᵀy / D + 1)³, averaged over ``n_subsets`` random subsets of m = min(subset_size,
    N_a, N_b) samples drawn without replacement from each set:

    MMD² = 1/(m(m−1)) Σ_{i≠j} [k(a_i, a_j) + k(b_i, b_j)] − 2/m² Σ_{i,j} k(a_i, b_j).

    With m equal to both set sizes every subset is the whole set, so one evaluation is made.
    Needs m ≥ 2.
    """
    a = np.asarray(feats_a, dtype=np.float64)
    b = np.asarray(feats_b, dtype=np.float64)
    m = min(subset_size, len(a), len(b))
    if m < 2:
        return math.nan
    d = a.shape[1]
    rng = np.random.default_rng(seed)
    whole = m == len(a) == len(b)
    values = []
    for _ in range(1 if whole else n_subsets):
        x = a if whole else a[rng.choice(len(a), m, replace=False)]
        y = b if whole else b[rng.choice(len(b), m, replace=False)]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        values.append(
            (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2.0 * kxy.mean()
        )
    return float(np.mean(values))


def _hub_checkpoint(url: str) -> Path:
    """Where torch.hub (and so torchvision) keeps the file downloaded from ``url``."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


class InceptionFeatures:
    """Inception-v3 pool3 features (2048-d, the FID/KID standard layer) from torchvision.

    ``weights="imagenet"`` loads ``Inception_V3_Weights.IMAGENET1K_V1`` through torchvision's
    weight API (from the torch hub cache; nothing is downloaded here: a missing file raises
    ``MetricUnavailable`` naming it). ``weights="none"`` is explicit random initialisation,
    for tests only. Note: torchvision's weights are not the TF-Inception port of the FID
    papers, so absolute values are comparable within this project, not with published FIDs.

    Call with a list of uint8 RGB H×W×3 images → float64 N×2048; images are resized (bilinear,
    antialiased) to 299×299 and normalised with the ImageNet mean/std.
    """

    def __init__(self, weights: str = "imagenet", device: str = "cpu", batch_size: int = 8) -> None:
        import torch
        from torchvision.models import Inception_V3_Weights, inception_v3

        if weights == "imagenet":
            enum = Inception_V3_Weights.IMAGENET1K_V1
            path = _hub_checkpoint(enum.url)
            if not path.is_file():
                raise MetricUnavailable(
                    f"FID/KID need the Inception-v3 weights file {path} "
                    f"(torchvision Inception_V3_Weights.IMAGENET1K_V1, from {enum.url}); "
                    f"put it there (or set TORCH_HOME) to compute them"
                )
            model = inception_v3(weights=enum)
        elif weights == "none":
            model = inception_v3(weights=None, aux_logits=False, init_weights=True)
        else:
            raise ValueError(f"unknown Inception weights {weights!r}; choose 'imagenet' or 'none'")
        model.fc = torch.nn.Identity()
        self.model = model.eval().to(device)
        self.device = device
        self.batch_size = batch_size
        self.mean = torch.tensor([0.485, 0.456, 0.406], device=device).view(1, 3, 1, 1)
        self.std = torch.tensor([0.229, 0.224, 0.225], device=device).view(1, 3, 1, 1)

    def __call__(self, images: list[np.ndarray]) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        out = []
        with torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                batch = [
                    F.interpolate(
                        torch.from_numpy(np.ascontiguousarray(im)).permute(2, 0, 1)[None].float().div(255),
                        size=(299, 299), mode="bilinear", antialias=True, align_corners=False,
                    )
                    for im in images[start : start + self.batch_size]
                ]
                x = (torch.cat(batch).to(self.device) - self.mean) / self.std
                out.append(self.model(x).double().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 2048))


class LPIPSDistance:
    """LPIPS perceptual distance (Zhang et al. 2018) of an output to a ground truth, optional.

    d(x, y) = Σ_l 1/(H_l W_l) Σ_{h,w} ‖w_l ⊙ (φ̂_l(x) − φ̂_l(y))‖², with φ̂_l the unit-normalised
    AlexNet features of layer l and w_l the learned v0.1 weights shipped in the ``lpips``
    package. Needs that package (``pip install lpips``) and torchvision's AlexNet ImageNet
    weights in the torch hub cache; otherwise ``MetricUnavailable`` names what is missing.
    Call with two uint8 RGB H×W×3 images → float (0 = identical, larger = more different).
    """

    def __init__(self, device: str = "cpu") -> None:
        try:
            import lpips
        except ImportError:
            raise MetricUnavailable("LPIPS needs the optional package `lpips` (pip install lpips)") from None
        from torchvision.models import AlexNet_Weights

        path = _hub_checkpoint(AlexNet_Weights.IMAGENET1K_V1.url)
        if not path.is_file():
            raise MetricUnavailable(
                f"LPIPS needs the AlexNet weights file {path} (torchvision AlexNet_Weights.IMAGENET1K_V1, "
                f"from {AlexNet_Weights.IMAGENET1K_V1.url}); put it there (or set TORCH_HOME) to compute it"
            )
        with warnings.catch_warnings():  # lpips still calls torchvision with the old `pretrained=` flag
            warnings.simplefilter("ignore", UserWarning)
            self.model = lpips.LPIPS(net="alex", verbose=False).eval().to(device)
        self.device = device

    def __call__(self, output: np.ndarray, truth: np.ndarray) -> float:
        import torch

        _check_pair(truth, output)
        x, y = (torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None].float().div(127.5).sub(1).to(self.device)
                for a in (output, truth))
        with torch.inference_mode():
            return float(self.model(x, y).item())
