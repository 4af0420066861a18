"""Real-photo benchmark: every compositor method and published result folders on real portraits.

The folder is laid out like the team's real-photo set::

    ordinary/ID.png           portraits without shallow depth of field (the inputs)
    ordinary_masks/ID.png     their person masks (8-bit grey, 255 = person): used for SCORING only
    shallow/ID.png            real shallow-DoF photos (the look to reach), unpaired
    shallow_masks/ID.png      their person masks
    paper_results/NAME/ID.png published outputs for ordinary/ID.png (optional; one column each)

Every method renders as ``scripts/blur.py`` does with default settings (MediaPipe mask, its
post-processing, the portrait depth prior, automatic focus). Every column is scored twice, on the
same regions for the published outputs and ours: on the MediaPipe masks of the photos (the mask
every method starts from, at its 0.5 contour) and on the folder's masks (independent of our
segmenter). Metrics (evaluation/metrics.py, evaluation/defocus.py): subject PSNR in the eroded
person, rim2, edge_in, the far background's defocus radius (% of the width; its target is
``shallow/``'s interquartile range, measured the same way), the flat-region noise ratio (fine-
scale std of the flattest fifth of the far background, output ÷ input), background sharpness gap,
W₁ and its permutation p-value against ``shallow/``, checkerboard share ratio and the background
grey-level change; each table says how far apart two samples of the reference itself are at this
size. A second table per scoring gives the background's band-energy ratios (structure kept at
0–1, 1–2, 2–4 and 4–8 px, output ÷ input, ``evaluation.metrics.band_energy_ratios``), which tell a
defocus (the bands finer than the blur gone, coarser ones kept) from a soft copy (only the finest
band gone), with the same ratios of ``shallow/`` to ``ordinary/`` (medians of the two unpaired
sets) as a guide. Writes into ``out``: ``table.md``, ``scores/SCORING/metrics.csv``,
``results/NAME/ID.png``, ``gallery/index.html`` and ``look.png`` (bench/look.py: heads and
backgrounds at 2×, the sheet columns beside a real shallow-DoF photo with a similar background).
:func:`run` adds the validation of the defocus estimator on known blur (bench/bench_defocus.py).
Without the folder it says so and skips. The photos stay where they are: only numbers go into
bench/BENCHMARKS.md.
"""
from __future__ import annotations

import logging
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import cv2
import numpy as np

from bench.look import SheetRow, look_sheet
from evaluation.metrics import DOG_BANDS, band_name
from plumbing import markdown

log = logging.getLogger(__name__)

# the targets on the real portraits: name → (test, text); the defocus radius's target is the
# reference's interquartile range (markdown_table), the gap and W₁ have none (40 + 40 unpaired
# photos cannot resolve a W₁ target: see "What the gap and W₁ can resolve" in bench/BENCHMARKS.md)
TARGETS: dict[str, tuple[Callable[[float], bool], str]] = {
    "subject_psnr": (lambda v: v >= 45.0, "≥ 45 dB"),
    "rim2": (lambda v: v <= 1.3, "≤ 1.3"),
    "edge_in": (lambda v: 0.85 <= v <= 1.1, "0.85–1.1"),
    "flat_noise": (lambda v: v <= 1.1, "≤ 1.1"),
    "checkerboard": (lambda v: v <= 1.0, "≤ 1.0"),
    "bg_grey": (lambda v: abs(v) <= 3.0, "|Δ| ≤ 3"),
}
PER_IMAGE = ("subject_psnr", "rim2", "edge_in", "defocus", "flat_noise", "checkerboard", "bg_grey")
BANDS = tuple(band_name(b) for b in DOG_BANDS)  # band-energy ratios of the far background
LABELS = {"subject_psnr": "subject PSNR (dB)", "rim2": "rim2", "edge_in": "edge_in", "gap": "bg sharpness gap",
          "w1": "bg sharpness W₁", "checkerboard": "checkerboard ratio", "bg_grey": "bg grey change",
          "defocus": "bg defocus (% of width)", "flat_noise": "flat-region noise ratio",
          "w1_p": "W₁ p", "seconds": "s/image", **{b: f"{b.removeprefix('band')} px" for b in BANDS}}


@dataclass(frozen=True)
class Variant:
    """A column: a compositor ``method`` with ``params`` (None = defaults), mask refinement
    ``refine`` and depth-prior settings ``prior`` (None = defaults), under ``name``."""

    name: str
    method: str
    params: Optional[dict[str, Any]] = None
    refine: str = "snap"
    prior: Optional[dict[str, float]] = None


# a simpler lens to compare with: composite I − (1 − α)·B̃, the Nikam & Awate edge band, the
# relative prior only (gap 0.25, spread 1) at strength 0.02, no grain
BEFORE = Variant("lens_before", "lens", {"foreground": "subtract", "coc": "relative", "strength": 0.02, "grain": False},
                 "nikam_awate", {"gap": 0.25, "spread": 1.0})


@dataclass
class Scores:
    """Per-image metric values of one column and its set metrics."""

    per_image: dict[str, list[float]] = field(default_factory=dict)
    sharpness: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def summary(self, reference: np.ndarray) -> dict[str, float]:
        """Median over the images of each per-image metric (robust to the few photos whose
        scoring mask is off; PSNR is ∞ for an untouched subject) plus the sharpness gap and W₁
        against ``reference``."""
        from evaluation import metrics as M

        out: dict[str, float] = {}
        for k, v in self.per_image.items():
            finite = [x for x in v if not math.isnan(x)]
            out[k] = float(statistics.median(finite)) if finite else math.nan
        out["gap"] = M.sharpness_gap(np.array(self.sharpness), reference)
        out["w1"] = M.sharpness_w1(np.array(self.sharpness), reference)
        out["w1_p"] = M.sharpness_w1_p(np.array(self.sharpness), reference)
        if self.seconds:
            out["seconds"] = float(np.median(self.seconds))
        return out


def _read_mask(path: Path, shape: tuple[int, int]) -> np.ndarray:
    from datasets.io import ImageError, read_image

    grey = read_image(path)[..., 0].astype(np.float32) / 255.0
    if grey.shape != shape:
        raise ImageError(path, f"mask is {grey.shape[1]}×{grey.shape[0]}, image is {shape[1]}×{shape[0]}")
    return grey


def check_folder(folder: Path) -> Optional[str]:
    """None when ``folder`` has the layout above, else the reason it cannot be used."""
    missing = [sub for sub in ("ordinary", "ordinary_masks", "shallow", "shallow_masks") if not (folder / sub).is_dir()]
    if not folder.is_dir():
        return f"{folder}: no such folder"
    if missing:
        return f"{folder}: missing sub-folder(s) {', '.join(missing)}"
    return None


MaskSource = Callable[[str, Path, np.ndarray], np.ndarray]  # (sub-folder, photo path, photo) → mask


def folder_masker(folder: Path) -> MaskSource:
    """Scoring masks from the folder: ``SUB_masks/ID.png`` for the photo ``SUB/ID.png``."""
    def masks(sub: str, path: Path, image: np.ndarray) -> np.ndarray:
        return _read_mask(folder / f"{sub}_masks" / f"{path.stem}.png", image.shape[:2])

    return masks


@dataclass
class Reference:
    """``shallow/`` as one scoring sees it: per photo the background sharpness and the defocus
    radius (% of the width) of its far background, and the look sheet's signature of it."""

    sharpness: np.ndarray
    defocus: np.ndarray
    signatures: list[np.ndarray]
    paths: list[Path]


def reference_stats(folder: Path, mask_of: MaskSource) -> Reference:
    """:class:`Reference` of ``shallow/``, its far background taken from ``mask_of``."""
    from bench.look import background_signature
    from datasets.io import list_images, read_image
    from evaluation import metrics as M
    from evaluation.defocus import background_defocus

    sharpness, defocus, signatures, paths = [], [], [], list_images(folder / "shallow")
    for path in paths:
        image = read_image(path)
        mask = mask_of("shallow", path, image)
        sharpness.append(M.background_sharpness(image, mask))
        defocus.append(background_defocus(image, image, mask))
        signatures.append(background_signature(image, mask))
    return Reference(np.array(sharpness, np.float64), np.array(defocus, np.float64), signatures, paths)


def flat_noise_ratio(image: np.ndarray, output: np.ndarray, mask: np.ndarray, share: float = 0.2) -> float:
    """Fine-scale noise of the output where the input's far background was flattest, ÷ the
    input's there: √(mean fine_std(out) / mean fine_std(in)) over the ``share`` of far-background
    pixels with the least gradient of the luma smoothed at 2 px (compositing.noise.fine_std:
    the 3×3 Laplacian's energy ÷ 20). 1: as noisy as the input; > 1: noise was added."""
    from compositing.noise import fine_std
    from evaluation import metrics as M

    _, far, _ = M.edge_bands(mask)
    if far.sum() < 100:
        return math.nan
    y_in, y_out = M.luminance(image), M.luminance(output)
    smooth = cv2.GaussianBlur(y_in, (0, 0), 2.0)
    structure = cv2.blur(cv2.magnitude(cv2.Sobel(smooth, cv2.CV_32F, 1, 0), cv2.Sobel(smooth, cv2.CV_32F, 0, 1)), (9, 9))
    flat = far & (structure <= np.quantile(structure[far], share))
    e_in = float(fine_std(y_in)[flat].mean())
    return math.nan if e_in <= 0 else math.sqrt(float(fine_std(y_out)[flat].mean()) / e_in)


class MediaPipeScene:
    """The MediaPipe mask and the faces of the photo last asked for: one segmenter and one face
    detector for every variant, and the same mask for the ``segmenter`` scoring."""

    def __init__(self) -> None:
        from segdepth.face import FaceDetector
        from segdepth.segment import build_segmenter

        self._segmenter, self._detector = build_segmenter("mediapipe"), FaceDetector()
        self._last: Optional[tuple[np.ndarray, np.ndarray, list]] = None

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, list]:
        if self._last is None or self._last[0] is not image:
            self._last = (image, self._segmenter(image), self._detector(image))
        return self._last[1], self._last[2]

    def mask(self, image: np.ndarray) -> np.ndarray:
        """The segmenter's raw soft mask of ``image`` (scored at its 0.5 contour)."""
        return self(image)[0]


def default_renderer(scene: MediaPipeScene) -> Callable[[Variant, np.ndarray], np.ndarray]:
    """Render like ``scripts/blur.py`` with default settings (``scene``'s MediaPipe mask and faces)."""
    from compositing.pipeline import render_photo
    from segdepth.depth.prior import DepthPrior

    def render(variant: Variant, image: np.ndarray) -> np.ndarray:
        mask, faces = scene(image)
        prior = DepthPrior(**variant.prior) if variant.prior else None
        return render_photo(variant.method, image, mask, params=variant.params, refine=variant.refine,
                            faces=faces, depth_model=prior).output

    return render


def score(image: np.ndarray, output: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """The per-image real-photo metrics of one output (mask = the scoring mask): PER_IMAGE and BANDS."""
    from evaluation import metrics as M
    from evaluation.defocus import background_defocus

    regions = M.make_regions(mask)
    return {"subject_psnr": M.subject_psnr(image, output, regions),
            "rim2": M.rim_sharpness(image, output, mask),
            "edge_in": M.edge_detail_kept(image, output, mask),
            "defocus": background_defocus(image, output, mask),
            "flat_noise": flat_noise_ratio(image, output, mask),
            "checkerboard": M.checkerboard(image, output, regions),
            "bg_grey": M.background_grey_change(image, output, mask),
            **M.band_energy_ratios(image, output, mask)}


def set_band_energies(folder: Path, sub: str, mask_of: MaskSource) -> dict[str, float]:
    """Median over the photos of ``folder/sub`` of each band's far-background energy
    (:func:`evaluation.metrics.band_energies`); a photo that cannot be read is left out (the
    scoring loop reports it)."""
    from datasets.io import ImageError, list_images, read_image
    from evaluation import metrics as M

    values: dict[str, list[float]] = {b: [] for b in BANDS}
    for path in list_images(folder / sub):
        try:
            image = read_image(path)
            energies = M.band_energies(image, mask_of(sub, path, image))
        except (ImageError, ValueError, OSError):
            continue
        for b, v in energies.items():
            values[b].append(v)
    return {b: float(np.nanmedian(v)) if v else math.nan for b, v in values.items()}


SCORING_NOTES = {
    "segmenter": "MediaPipe masks (the segmenter's raw mask of each photo at its 0.5 contour, the mask every "
                 "method starts from)",
    "folder": "the folder's DeepLab masks (`ordinary_masks/`, `shallow_masks/`: independent of our segmenter, "
              "but their 256 px edges are off by a few px at hair and shoulders)",
}


def run_folder(folder: Path, out: Path, variants: Sequence[Variant], limit: Optional[int] = None,
               renderer: Optional[Callable[[Variant, np.ndarray], np.ndarray]] = None,
               crop_columns: Optional[Sequence[str]] = None, n_crops: int = 12,
               scorings: Optional[dict[str, MaskSource]] = None,
               results: Optional[dict[str, Path]] = None) -> tuple[dict[str, dict[str, dict[str, float]]], int]:
    """Render and score every ``ordinary/`` photo with every variant; add ``results`` (column name →
    a folder of outputs named like the inputs, e.g. a GAN's translations) and the published result
    folders of ``paper_results/``. Each of ``scorings`` (name → mask source; default: the
    MediaPipe masks and the folder's, or the folder's only with a custom ``renderer``) scores
    every column on its own masks. The look sheet shows ``n_crops`` photos spread evenly over the
    folder with ``crop_columns`` (bench/look.py). Returns (scoring → column → summary, number of
    bad files)."""
    import time

    from datasets.io import ImageError, list_images, read_image, write_image
    from plumbing.files import write_text
    from evaluation import metrics as M
    from evaluation import report
    from evaluation.gallery import Cell, Column, MetricsTable, Row, build_gallery, write_thumbnail

    if renderer is None and (variants or not scorings):  # no variant to render: no segmenter needed
        scene = MediaPipeScene()
        renderer = default_renderer(scene)
        scorings = scorings or {"segmenter": lambda sub, path, image: scene.mask(image),
                                "folder": folder_masker(folder)}
    scorings = scorings or {"folder": folder_masker(folder)}
    primary = next(iter(scorings))
    published = sorted(p for p in (folder / "paper_results").glob("*") if p.is_dir()) \
        if (folder / "paper_results").is_dir() else []
    folders = {**(results or {}), **{f"paper:{p.name}": p for p in published}}
    names = [v.name for v in variants] + list(folders)
    scores = {k: {n: Scores({m: [] for m in (*PER_IMAGE, *BANDS)}) for n in names} for k in scorings}
    references = {k: reference_stats(folder, source) for k, source in scorings.items()}
    paths = list_images(folder / "ordinary")[:limit]
    on_sheet = {paths[i].stem for i in np.linspace(0, len(paths) - 1, min(n_crops, len(paths))).astype(int)} \
        if paths and n_crops else set()
    gallery_rows, sheet_rows = [], []
    csv_rows: dict[str, list[dict[str, Any]]] = {k: [] for k in scorings}
    crop_columns = list(crop_columns or names[:2])
    n_bad = 0
    for path in paths:
        try:
            image = read_image(path)
            masks = {k: source("ordinary", path, image) for k, source in scorings.items()}
            outputs: dict[str, np.ndarray] = {}
            for v in variants:
                start = time.perf_counter()
                outputs[v.name] = renderer(v, image)
                elapsed = time.perf_counter() - start
                for k in scorings:  # the same render, timed once, in every table
                    scores[k][v.name].seconds.append(elapsed)
            for name, p in folders.items():
                result = read_image(p / f"{path.stem}.png" if not (p / path.name).is_file() else p / path.name)
                if result.shape != image.shape:  # published at another size: compare at the input's
                    result = cv2.resize(result, image.shape[1::-1], interpolation=cv2.INTER_AREA)
                outputs[name] = result
        except (ImageError, ValueError, OSError) as exc:
            n_bad += 1
            log.error("%s", exc if str(path) in str(exc) else f"{path}: {exc}")
            continue
        cells = []
        for name in ["input", *names]:
            picture = image if name == "input" else outputs[name]
            folder_name = name.replace(":", "_")
            full, thumb = out / "results" / folder_name / f"{path.stem}.png", out / "gallery" / "thumbs" / folder_name / f"{path.stem}.jpg"
            write_image(full, picture)
            write_thumbnail(thumb, picture, 256)
            if name == "input":
                cells.append(Cell(full, thumb))
                continue
            for k, mask in masks.items():
                values = score(image, picture, mask)
                for m, x in values.items():
                    scores[k][name].per_image[m].append(x)
                scores[k][name].sharpness.append(M.background_sharpness(picture, mask))
                csv_rows[k].append({"method": name, "image": path.stem, **values})
                if k == primary:
                    cells.append(Cell(full, thumb, f"rim2 {values['rim2']:.2f} · edge_in {values['edge_in']:.2f}"))
        gallery_rows.append(Row(path.stem, cells))
        if path.stem in on_sheet:
            sheet_rows.append(_sheet_row(path.stem, image, masks[primary], [outputs[c] for c in crop_columns],
                                         references[primary], scorings[primary]))
    n_images = len(paths) - n_bad
    summaries = {k: {n: scores[k][n].summary(references[k].sharpness) for n in names} for k in scorings}
    for k in scorings:
        report.write_metrics(out / "scores" / k, csv_rows[k], list(PER_IMAGE), LABELS, {}, [])
    keys = [*PER_IMAGE, "gap", "w1", "w1_p", "seconds"]
    table = MetricsTable([{"method": n, **summaries[primary][n]} for n in names], keys, LABELS)
    build_gallery(out / "gallery", [Column("input")] + [Column(n) for n in names], gallery_rows, table,
                  title="shallowdof on real portraits")
    if sheet_rows:
        write_image(out / "look.png", look_sheet(sheet_rows, ["input", *crop_columns]))
    guides = {k: band_guide(folder, source) for k, source in scorings.items()}
    write_text(out / "table.md", "\n".join(
        f"Scored with {SCORING_NOTES.get(k, k)}:\n\n" + markdown_table(summaries[k], n_images, references[k])
        + "\n" + band_table(summaries[k], guides[k]) for k in scorings))
    return summaries, n_bad


def band_guide(folder: Path, mask_of: MaskSource) -> dict[str, float]:
    """Per band, median far-background energy of ``shallow/`` ÷ that of ``ordinary/``: how much
    less structure the real shallow-DoF photos have at each scale (two unpaired sets: a guide)."""
    shallow, ordinary = set_band_energies(folder, "shallow", mask_of), set_band_energies(folder, "ordinary", mask_of)
    return {b: shallow[b] / ordinary[b] if ordinary[b] > 0 else math.nan for b in BANDS}


def band_table(summary: dict[str, dict[str, float]], guide: dict[str, float]) -> str:
    """The band-energy ratios of every column (medians over the portraits) as a Markdown table,
    with the shallow/ ÷ ordinary/ guide as its first row."""
    header = ["background structure kept (output ÷ input)", *(LABELS[b] for b in BANDS)]
    rows = [["shallow/ ÷ ordinary/ (unpaired medians: a guide)", *(f"{guide[b]:.2f}" for b in BANDS)]]
    rows += [[name, *(f"{s.get(b, math.nan):.2f}" for b in BANDS)] for name, s in summary.items()]
    note = ("Band-energy ratios of the far background (≥ 15 px from the person): energy of the difference of "
            "Gaussians between the two blurs (σ in px at 256 px) in the output ÷ in the input, medians over the "
            "portraits. A defocus of radius r takes the bands finer than r towards 0 and keeps the coarser ones; a "
            "soft copy loses only the finest.")
    return f"{note}\n\n{markdown.table(header, rows)}\n"


def _sheet_row(name: str, image: np.ndarray, mask: np.ndarray, outputs: Sequence[np.ndarray], reference: Reference,
               mask_of: MaskSource) -> SheetRow:
    """One portrait of the look sheet, beside the ``shallow/`` photo whose background is most alike."""
    from bench.look import background_signature, background_square, head_square, most_alike
    from datasets.io import read_image

    ref_path = reference.paths[most_alike(background_signature(image, mask), reference.signatures)]
    ref_image = read_image(ref_path)
    ref_mask = mask_of("shallow", ref_path, ref_image)
    return SheetRow(f"{name} · real: {ref_path.stem}", [image, *outputs], head_square(mask),
                    background_square(image, mask), ref_image, head_square(ref_mask),
                    background_square(ref_image, ref_mask))


def _cell(key: str, value: float, test: Optional[Callable[[float], bool]]) -> str:
    mark = " ✓" if test is not None and math.isfinite(value) and test(value) else ""
    return f"{value:.3g}{mark}" if math.isfinite(value) else str(value)


def markdown_table(summary: dict[str, dict[str, float]], n_images: int, reference: Reference) -> str:
    """The summary as a Markdown table with the targets in the header and a pass mark per cell
    (the defocus radius's target: inside the reference's interquartile range), and the resolution
    of the gap and W₁ at this sample size (:func:`evaluation.metrics.sharpness_floor`)."""
    from evaluation import metrics as M

    ref = reference.defocus[np.isfinite(reference.defocus)]
    q1, q2, q3 = (np.percentile(ref, [25, 50, 75]) if ref.size else (math.nan,) * 3)
    tests = {**{k: t for k, (t, _) in TARGETS.items()}, "defocus": lambda v: q1 <= v <= q3}
    texts = {**{k: text for k, (_, text) in TARGETS.items()}, "defocus": f"{q1:.2f}–{q3:.2f}"}
    keys = [*PER_IMAGE[:5], "gap", "w1", *PER_IMAGE[5:]]
    header = ["method", *(f"{LABELS[k]} ({texts[k]})" if k in texts else LABELS[k] for k in keys),
              LABELS["w1_p"], "s/image"]
    rows = []
    for name, s in summary.items():
        cells = [_cell(k, s.get(k, math.nan), tests.get(k)) for k in keys]
        secs = s.get("seconds")
        rows.append([name, *cells, f"{s.get('w1_p', math.nan):.2f}", f"{secs:.3f}" if secs is not None else "–"])
    floor = M.sharpness_floor(reference.sharpness, n_images)
    note = (f"{n_images} portraits, {len(reference.sharpness)} reference shallow-DoF photos; per-image metrics are "
            "medians over the portraits (subject PSNR ∞ where the eroded person is untouched); ✓ = target met. "
            f"The reference's far-background defocus radius (evaluation/defocus.py, on these masks): median "
            f"{q2:.2f} % of the width, interquartile range {q1:.2f}–{q3:.2f} %, measured on {ref.size} of "
            f"{len(reference.defocus)} photos. "
            f"Resolution at this size: two samples of {n_images} drawn from the reference itself differ by "
            f"|gap| {floor['gap']:.2f} and W₁ {floor['w1']:.2f} on average (bootstrap); |gap| ≤ 0.10 in "
            f"{100 * floor['p_gap_le_0.10']:.0f} % and W₁ ≤ 0.12 in {100 * floor['p_w1_le_0.12']:.1f} % of the draws. "
            "W₁ p = permutation-test p-value of W₁ (large: not told apart from the reference).")
    return f"{note}\n\n{markdown.table(header, rows)}\n"


# the lens without the photo's grain put back (compositing.grain): rim2 is judged on it, since
# noise added to the far background would lower the ratio without removing any rim
NO_GRAIN = Variant("lens_no_grain", "lens", {"grain": False})
# the lens at strength 0.006, below the default calibrated with the background defocus estimator
OLD_DEFAULT = Variant("lens_0.006", "lens", {"strength": 0.006})


def default_variants() -> list[Variant]:
    """Every registered compositor method with its default settings, the lens without grain, the
    lens at strength 0.006 and the simpler lens ``lens_before``."""
    from compositing.methods import METHODS

    return [Variant(m, m) for m in METHODS] + [NO_GRAIN, OLD_DEFAULT, BEFORE]


def run(quick: bool = False, folder: Optional[Path] = None, out: str = "bench_out/realphotos") -> str:
    """Markdown section for scripts/benchmark.py (skipped without ``folder``); the gallery, crop
    sheet and results go to ``out``."""
    if folder is None:
        return ("### Real portraits\n\nSkipped: no folder given (`scripts/benchmark.py --only realphotos --real-photos DIR`, "
                "a folder laid out as bench/bench_realphotos.py describes).\n")
    problem = check_folder(Path(folder))
    if problem:
        return f"### Real portraits\n\nSkipped: {problem}.\n"
    from bench.bench_defocus import validation_section

    validation = validation_section(Path(folder), limit=4 if quick else None)
    _, n_bad = run_folder(Path(folder), Path(out), default_variants(), limit=4 if quick else None,
                          crop_columns=[OLD_DEFAULT.name, "lens"])
    return (f"### Real portraits\n\nDefault settings of every method (MediaPipe mask, snap refinement, relative "
            f"depth prior) and the published result folders ({n_bad} bad file(s); gallery and look sheet in "
            f"`{out}`).\n\n" + (Path(out) / "table.md").read_text(encoding="utf-8") + "\n" + validation)


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder")
    ap.add_argument("--out", default="bench_out/realphotos")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=METHOD[:JSON]",
                    help="a column: method with JSON params (repeatable; default: every method)")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--crops", default=None, help="comma-separated columns of the look sheet")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import json

    variants = []
    for spec in a.variant:
        name, _, rest = spec.partition("=")
        method, _, js = rest.partition(":")
        params = json.loads(js) if js else {}
        refine = params.pop("refine", "snap")
        variants.append(Variant(name, method, params or None, refine))
    run_folder(Path(a.folder), Path(a.out), variants or default_variants(), a.limit,
               crop_columns=a.crops.split(",") if a.crops else None)
    print((Path(a.out) / "table.md").read_text(encoding="utf-8"))
