"""The renderer's optics: a thin lens and its circle of confusion (Potmesil & Chakravarty 1981).

compositing/lens.py renders with these; the metric depth prior (compositing/pipeline.py) asks
them which people stay sharp. datasets/synthetic.py keeps its own reference implementation of
the same formula for the ground-truth scenes, on purpose: one shared implementation would let a
bug in it pass unseen through evaluation (tests/test_lens.py checks that the two agree).

Conventions: distances in metres, focal length and sensor width in millimetres, radii in pixels
of an image ``width_px`` wide.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segdepth.depth.metric import DEFAULT_FOCAL_35MM


@dataclass(frozen=True)
class Lens:
    """A thin lens on a sensor ``sensor_width_mm`` wide; defaults are a fast portrait lens (85 mm
    f/1.8 on full frame)."""

    focal_length_mm: float = 85.0
    f_number: float = 1.8
    sensor_width_mm: float = 36.0

    @property
    def aperture_mm(self) -> float:
        """Diameter of the entrance pupil, A = f / N."""
        return self.focal_length_mm / self.f_number


def coc_radius_px(depth: np.ndarray | float, focus_depth: float, lens: Lens, width_px: int) -> np.ndarray:
    """Circle-of-confusion radius in pixels of points at ``depth`` for ``lens`` focused at
    ``focus_depth`` (metres); float32 of the shape of ``depth``.

    The blur circle's diameter on the sensor is c = A · |d − d_f| / d · f / (d_f − f) with the
    aperture A = f / N (Potmesil & Chakravarty 1981, eq. 4), computed in millimetres and float64;
    its radius in pixels is c / 2 · width_px / sensor_width. ValueError when the focus distance
    is not beyond the focal length (no real image).
    """
    f_mm = lens.focal_length_mm
    d_mm = np.asarray(depth, dtype=np.float64) * 1000.0
    focus_mm = float(focus_depth) * 1000.0
    if focus_mm <= f_mm:
        raise ValueError(f"focus distance {focus_depth} m must be beyond the focal length {f_mm} mm")
    diameter_mm = lens.aperture_mm * np.abs(d_mm - focus_mm) / d_mm * f_mm / (focus_mm - f_mm)
    return (diameter_mm / 2.0 * width_px / lens.sensor_width_mm).astype(np.float32)


# The project's one default lens, and the portrait it is meant for: an 85 mm f/1.8 on full frame
# (a 35 mm-equivalent focal length where the field of view comes from a photo's EXIF) focused at
# 3 m, a half-length portrait. The relative default (compositing.lens.LensParams.strength) is
# this lens's blur of the depth prior's background (segdepth.depth.prior: 2 to 2.5 times the
# subject's distance), :func:`relative_strength`; tests/compositing/test_lens.py holds the two
# together and bench/BENCHMARKS.md ("Real portraits") gives the calibration that chose it.
PORTRAIT_LENS = Lens(DEFAULT_FOCAL_35MM, 1.8, 36.0)
PORTRAIT_FOCUS_M = 3.0


def relative_strength(lens: Lens = PORTRAIT_LENS, focus_m: float = PORTRAIT_FOCUS_M,
                      offsets: tuple[float, ...] = (1.0, 1.25, 1.5)) -> float:
    """The relative strength s (radius = s · width · |d − d_f|) that matches ``lens`` focused at
    ``focus_m`` on a background at (1 + Δ) × that distance, averaged over the relative depth
    offsets Δ in ``offsets`` (the depth prior's background): mean over Δ of r(Δ) / (width · Δ)
    with r from :func:`coc_radius_px`."""
    width = 1000
    return float(np.mean([float(coc_radius_px(focus_m * (1.0 + d), focus_m, lens, width)) / (width * d)
                          for d in offsets]))
