"""Render every test image with every method, measure, and write the comparison.

A *renderer* (:mod:`evaluation.renderers`) is anything that turns (image, mask, depth) into an
output: a compositor method, a trained GAN checkpoint or a folder of published results.
Conventions: image uint8 RGB H×W×3, mask float32 H×W in [0, 1], depth float32 H×W (larger =
farther), output uint8 RGB H×W×3 of the input's size.

``run_compare`` writes into ``out``::

    config.json                      the CompareConfig of the run
    inputs/NAME.EXT masks/NAME.png depth/NAME.png [truth/NAME.png]
    results/<method>/NAME.EXT        full-resolution renders
    metrics.csv metrics.md           per-image rows and per-method mean / median
    plots/*.png                      GAN loss curves (when runs are given)
    gallery/index.html + thumbs/     the side-by-side page (relative links only)

EXT is the input's format by default (a JPEG input gives JPEGs, any other PNGs; ``format``
chooses), and the input copy and every render keep the photo's ICC profile and EXIF
(datasets.io.read_photo); the gallery's thumbnails keep its profile. Bad images get one line
"PATH: problem", the run goes on, and the count is returned.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import cv2
import numpy as np
from tqdm import tqdm

from compositing.methods import METHODS
from compositing.pipeline import REFINEMENTS, Lazy, PhotoPipeline, Prepared, face_detector_factory
from plumbing.config import save_config
from plumbing.fields import setting
from segdepth.depth import DEPTH_MODELS
from segdepth.segment import SEGMENTERS
from datasets.io import (OUTPUT_FORMATS, ImageError, PhotoInfo, list_photos, output_suffix, photo_root,
                         read_depth, read_image, read_mask, read_photo, write_image)
from plumbing.files import one_line
from evaluation import feature_metrics as FM
from evaluation import metrics as M
from evaluation import report
from evaluation.reference_photos import defocus_summary, photo_mask, reference_stats
from evaluation.gallery import Cell, Column, MetricsTable, Row, build_gallery, write_thumbnail
from evaluation.renderers import (IMAGE_SUFFIXES, GanSpec, Renderer, compositor_renderer, gan_renderer, index_files,
                                  published_renderer, run_dir_of_checkpoint)

log = logging.getLogger(__name__)


SET_METRIC_LABELS = {
    "fid": "FID vs reference",
    "kid": "KID vs reference",
    "blur_w1": "blur-distribution W₁ vs reference",
    "sharpness_gap": "background sharpness gap vs reference (ln)",
    "sharpness_w1": "background sharpness W₁ vs reference (ln)",
    "sharpness_w1_p": "W₁ permutation p (large: not told apart from the reference)",
    "defocus_median": "background defocus radius, median (% of width)",
    "defocus_ratio": "background defocus median ÷ the reference's (1: as defocused as the real photos)",
}
EXTRA_LABELS = {"truth_lpips": "LPIPS vs ground truth", "seconds": "seconds per image"}
_CAPTION_KEYS = (("bg_blur", "blur"), ("halo", "halo"), ("checkerboard", "ckb"), ("subject_ssim", "SSIMₛ"),
                 ("truth_psnr", "PSNRₜ"), ("seconds", "s"))


# ----------------------------------------------------------------------------- configuration

#: Inception weights for FID/KID: torchvision's, random ones (tests only), or no FID/KID at all.
FID_WEIGHTS = ("imagenet", "none", "off")


@dataclass
class CompareConfig:
    """Everything a comparison run depends on; saved as out/config.json. Each field declares its
    flag's help and its allowed values or range (:func:`plumbing.fields.setting`)."""

    input: str = setting(help="folder (or file) of test images (required unless --config names one)")
    out: str = setting(help="output folder (required unless --config names one)")
    methods: list[str] = setting(default_factory=list, help="comma-separated compositor methods ('' for none)",
                                 choices=tuple(METHODS))
    params: dict[str, dict[str, Any]] = setting(  # compositor method → its params
        default_factory=dict, help="a compositor method parameter, e.g. lens:f_number=1.4 (repeatable; values are "
        "JSON where they parse, else strings)", metavar="METHOD:KEY=VALUE")
    gan: list[str] = setting(default_factory=list, help="a trained GAN checkpoint to compare (repeatable)",
                             metavar="NAME=CKPT:PRESET[:overlay]")
    results: list[str] = setting(default_factory=list, metavar="NAME=DIR", help="a folder of published outputs (a "
                                 "paper's results) named like the inputs, shown and measured as a method (repeatable)")
    reference: Optional[str] = setting(None, "folder of real shallow-DoF photos for FID/KID and the blur distance")
    masks: Optional[str] = setting(None, "folder of masks NAME.png (8-bit grey, 255 = person) instead of INPUT_masks/")
    depth: Optional[str] = setting(None, "folder of depth maps NAME.npy or 16-bit NAME.png (millimetres)")
    truth: Optional[str] = setting(None, "folder of ground-truth renders NAME.png (full-reference metrics; synthetic "
                                   "truth has no sensor grain: compare the lens with --params lens:grain=false)")
    runs: list[str] = setting(default_factory=list, help="GAN run folders (log.jsonl, config.json) to plot; runs "
                              "holding a --gan checkpoint are found automatically")
    segmenter: str = setting("mediapipe", "segmenter for inputs without a mask", tuple(sorted(SEGMENTERS)))
    depth_model: str = setting("prior", "depth model for inputs without --depth", tuple(sorted(DEPTH_MODELS)))
    refine: str = setting("snap", "the compositor methods' mask edge refinement, as scripts/blur.py's", REFINEMENTS)
    fid_weights: str = setting("imagenet", "Inception weights for FID/KID: torchvision IMAGENET1K_V1 from the torch "
                               "hub cache, 'none' = random init (testing only), 'off' = skip FID/KID", FID_WEIGHTS)
    device: str = setting("cpu", "torch device for GAN inference and Inception features")
    thumb_size: int = setting(256, "longer side of gallery thumbnails in pixels", lo=16, hi=4096)
    format: str = setting("auto", "format of the full-size input copies and renders: auto (the input's), jpg, png",
                          OUTPUT_FORMATS)
    quiet: bool = setting(False, "no progress bars, errors only")
    notes: list[str] = setting(default_factory=list, help="shown on the gallery page and in metrics.md")


@dataclass
class CompareResult:
    """What a run produced: counts, error lines, the per-method summary and the page."""

    n_images: int
    n_bad: int
    n_render_failures: int
    errors: list[str]
    rows: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    set_metrics: dict[str, dict[str, float]]
    notes: list[str]
    gallery: Path
    n_bad_reference: int = 0  # unusable --reference photos, counted apart from the inputs

    @property
    def ok(self) -> bool:
        return self.n_bad == 0 and self.n_render_failures == 0 and self.n_bad_reference == 0


# ----------------------------------------------------------------------------- inputs


def depth_preview(depth: np.ndarray) -> np.ndarray:
    """Depth float32 H×W → uint8 RGB H×W×3 (turbo colour map, near = warm, 1–99 % range)."""
    lo, hi = np.percentile(depth, [1, 99])
    norm = np.clip((depth - lo) / max(hi - lo, 1e-6), 0, 1)
    bgr = cv2.applyColorMap(((1 - norm) * 255).astype(np.uint8), cv2.COLORMAP_TURBO)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


# ----------------------------------------------------------------------------- the run


def build_renderers(cfg: CompareConfig) -> list[Renderer]:
    """Renderers named by the config (compositor methods, then GAN checkpoints); names must be unique."""
    unused = sorted(set(cfg.params) - set(cfg.methods))
    if unused:
        raise ValueError(f"parameters given for methods not compared: {unused}")
    renderers = [compositor_renderer(m, cfg.params.get(m)) for m in cfg.methods]
    renderers += [gan_renderer(GanSpec.parse(s), cfg.device) for s in cfg.gan]
    renderers += [published_renderer(s) for s in cfg.results]
    names = [r.name for r in renderers]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"method names must be unique; repeated: {dupes}")
    if not renderers:
        raise ValueError("nothing to compare: give --methods, --gan and/or --results")
    return renderers


@dataclass
class _Input:
    """One input photo, read and through the pipeline: the image, its mask as read (the mask file,
    or the segmenter's), the pipeline's planes, the depth they use and the ground truth (or None)."""

    image: np.ndarray
    mask: np.ndarray
    prepared: Prepared
    depth: np.ndarray
    truth: Optional[np.ndarray]
    info: PhotoInfo  # its format, ICC profile and EXIF, for the full-size copies
    suffix: str  # of the full-size input copy and renders (datasets.io.output_suffix)


@dataclass
class _Run:
    """One comparison under way: what it writes into, its metric networks, and what it collects
    (error lines, metric rows, gallery rows, per method the samples of the set metrics)."""

    cfg: CompareConfig
    renderers: list[Renderer]
    extractor: Optional[FM.InceptionFeatures]
    lpips_distance: Optional[FM.LPIPSDistance]
    notes: list[str]
    errors: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    gallery_rows: list[Row] = field(default_factory=list)
    feats: dict[str, list[np.ndarray]] = field(default_factory=dict)
    samples: dict[str, list[np.ndarray]] = field(default_factory=dict)
    sharpness: dict[str, list[float]] = field(default_factory=dict)
    n_bad: int = 0
    n_fail: int = 0

    def __post_init__(self) -> None:
        for r in self.renderers:
            self.feats[r.name], self.samples[r.name], self.sharpness[r.name] = [], [], []

    @property
    def out(self) -> Path:
        return Path(self.cfg.out)

    def error(self, line: str) -> None:
        """Record and log one error line."""
        self.errors.append(line)
        log.error("%s", line)

    def write_inputs(self, name: str, photo: _Input) -> list[Union[Cell, str, None]]:
        """The input, mask, depth and ground-truth pictures of one photo, full size and as gallery
        thumbnails; their gallery cells."""
        cfg, cells = self.cfg, []
        aux_images = [("inputs", photo.image), ("masks", (photo.mask * 255).round().astype(np.uint8)),
                      ("depth", depth_preview(photo.depth))]
        if cfg.truth:
            aux_images.append(("truth", photo.truth))
        for folder, picture in aux_images:
            if picture is None:
                cells.append("no ground truth")
                continue
            photo_like = folder == "inputs"
            full = self.out / folder / f"{name}{photo.suffix if photo_like else '.png'}"
            thumb = self.out / "gallery" / "thumbs" / folder / f"{name}.jpg"
            write_image(full, picture, photo.info if photo_like else None)
            write_thumbnail(thumb, picture, cfg.thumb_size, photo.info.icc_profile if photo_like else None)
            cells.append(Cell(full, thumb))
        return cells

    def render(self, r: Renderer, path: Path, name: str, photo: _Input, regions: M.Regions) -> Optional[Cell]:
        """Renderer ``r`` on one photo: its output written, measured and collected; its gallery
        cell, or None when it failed (one error line; the comparison goes on)."""
        cfg, image = self.cfg, photo.image
        try:
            start = time.perf_counter()
            output = r.output_for(name, image, photo.mask, photo.prepared)
            seconds = time.perf_counter() - start
            if not isinstance(output, np.ndarray) or output.dtype != np.uint8 or output.shape != image.shape:
                got = f"{output.dtype} {output.shape}" if isinstance(output, np.ndarray) else type(output).__name__
                raise ValueError(f"returned {got}, expected uint8 {image.shape}")
        except Exception as exc:  # one failing method must not stop the comparison
            self.n_fail += 1
            self.error(f"{path}: method {r.name} failed: {exc}")
            return None
        full = self.out / "results" / r.name / f"{name}{photo.suffix}"
        thumb = self.out / "gallery" / "thumbs" / "results" / r.name / f"{name}.jpg"
        write_image(full, output, photo.info)
        write_thumbnail(thumb, output, cfg.thumb_size, photo.info.icc_profile)
        try:
            values = M.compute_image_metrics(image, output, photo.mask, truth=photo.truth, regions=regions)
        except Exception as exc:  # noqa: BLE001 - keep the render, count the failure, go on
            self.n_fail += 1
            self.error(f"{path}: metrics for method {r.name} failed: {exc}")
            values = {}
        if self.lpips_distance is not None and photo.truth is not None:
            values["truth_lpips"] = self.lpips_distance(output, photo.truth)
        values["seconds"] = seconds
        self.rows.append({"method": r.name, "image": name, **values})
        caption = " · ".join(f"{short} {report.format_value(values[k])}" for k, short in _CAPTION_KEYS if k in values)
        if cfg.reference:
            self.samples[r.name].append(M.blur_samples(output, photo.mask))
            self.sharpness[r.name].append(M.background_sharpness(output, photo.mask))
            if self.extractor is not None:
                self.feats[r.name].append(self.extractor([output])[0])
        return Cell(full, thumb, caption)

    def set_metrics(self, segment: Callable[[np.ndarray], np.ndarray]) -> tuple[dict[str, dict[str, float]], int]:
        """Each method's set metrics against the reference photos (none without ``--reference``)
        and the number of unusable reference photos."""
        set_metrics: dict[str, dict[str, float]] = {}
        if not self.cfg.reference:
            return set_metrics, 0
        ref = reference_stats(self.cfg.reference, segment, self.extractor, self.cfg.quiet)
        ref_samples, ref_sharpness, ref_feats, ref_errors = ref.samples, ref.sharpness, ref.feats, ref.errors
        self.errors += ref_errors  # each logged as it was found
        ref_defocus = ref.defocus[np.isfinite(ref.defocus)]
        if ref_defocus.size:
            self.notes.append(f"reference background defocus (evaluation/defocus.py): median "
                              f"{np.median(ref_defocus):.2f} % of the width, IQR {np.percentile(ref_defocus, 25):.2f}–"
                              f"{np.percentile(ref_defocus, 75):.2f} %, measured on {ref_defocus.size} of "
                              f"{len(ref.defocus)} photos")
        for r in self.renderers:
            sharpness = np.array(self.sharpness[r.name])
            entry = {"blur_w1": M.blur_distribution_distance(np.concatenate(self.samples[r.name] or [np.zeros(0)]),
                                                             ref_samples),
                     "sharpness_gap": M.sharpness_gap(sharpness, ref_sharpness),
                     "sharpness_w1": M.sharpness_w1(sharpness, ref_sharpness),
                     "sharpness_w1_p": M.sharpness_w1_p(sharpness, ref_sharpness)}
            entry.update(defocus_summary([row.get("bg_defocus", np.nan) for row in self.rows if row["method"] == r.name],
                                         ref_defocus))
            if self.extractor is not None:
                entry["fid"] = FM.fid_from_features(np.array(self.feats[r.name]), ref_feats)
                entry["kid"] = FM.kid_from_features(np.array(self.feats[r.name]), ref_feats)
            set_metrics[r.name] = entry
        if self.extractor is not None and min(len(ref_feats), *(len(f) for f in self.feats.values())) < 50:
            self.notes.append("FID/KID from fewer than 50 images per set: strongly biased, compare only like with like")
        return set_metrics, len(ref_errors)

    def write_report(self, columns: list[Column], set_metrics: dict[str, dict[str, float]],
                     n_bad_ref: int) -> tuple[list[dict[str, Any]], Path]:
        """metrics.csv / metrics.md, the loss plots and the gallery page; (the per-method summary, the page)."""
        plots = _plots(self.cfg, self.renderers, self.out / "plots")
        metric_names = [k for k in (*M.METRICS, "truth_lpips", "seconds") if any(k in row for row in self.rows)]
        labels = {k: m.label for k, m in M.METRICS.items()} | EXTRA_LABELS | SET_METRIC_LABELS
        if self.n_bad or self.n_fail or n_bad_ref:
            self.notes.append(f"{self.n_bad} bad image(s), {n_bad_ref} bad reference image(s) and {self.n_fail} "
                              "failed render(s); see the list in the gallery")
        summary = report.write_metrics(self.out, self.rows, metric_names, labels, set_metrics, self.notes)
        table_rows = []
        for entry in summary:
            table_rows.append({"method": entry["method"], **{m: entry[f"{m}_mean"] for m in metric_names},
                               **set_metrics.get(entry["method"], {})})
        set_names = sorted({k for v in set_metrics.values() for k in v})
        table = MetricsTable(table_rows, [*metric_names, *set_names],
                             {**{m: f"{labels[m]} (mean)" for m in metric_names}, **labels})
        page = build_gallery(self.out / "gallery", columns, self.gallery_rows, table, plots=plots, errors=self.errors,
                             notes=self.notes)
        return summary, page


def _metric_networks(
        cfg: CompareConfig) -> tuple[Optional[FM.InceptionFeatures], Optional[FM.LPIPSDistance], list[str]]:
    """The Inception features of FID/KID (with ``--reference``) and LPIPS (with ``--truth``), each
    None when not asked for or not available, and the notes that say so."""
    notes: list[str] = []
    extractor: Optional[FM.InceptionFeatures] = None
    if cfg.reference and cfg.fid_weights != "off":
        try:
            extractor = FM.InceptionFeatures(cfg.fid_weights, device=cfg.device)
        except M.MetricUnavailable as exc:
            log.error("%s", exc)
            notes.append(f"FID/KID not computed: {exc}")
    lpips_distance: Optional[FM.LPIPSDistance] = None
    if cfg.truth:
        try:
            lpips_distance = FM.LPIPSDistance(device=cfg.device)
        except M.MetricUnavailable as exc:
            log.warning("%s", exc)
            notes.append(f"LPIPS not computed: {exc}")
    if cfg.fid_weights == "none" and extractor is not None:
        notes.append("FID/KID use a randomly initialised Inception (--fid-weights none): for testing only")
    return extractor, lpips_distance, notes


def _read_input(cfg: CompareConfig, path: Path, name: str, input_root: Path,
                segment: Callable[[np.ndarray], np.ndarray], pipeline: PhotoPipeline, depths: dict[str, Path],
                truths: dict[str, Path]) -> _Input:
    """Photo ``path`` read with its mask (file or segmenter), its depth map if given and its ground
    truth if any, through the pipeline; ImageError, ValueError or OSError for a bad input."""
    image, info = read_photo(path)
    shape = image.shape[:2]
    mask_file = photo_mask(path, input_root, cfg.masks)
    if mask_file is not None:
        mask = read_mask(mask_file, shape)
    else:
        mask = np.asarray(segment(image), dtype=np.float32)
    given = read_depth(depths[name], expected_shape=shape) if name in depths else None  # metres
    prepared = pipeline(image, mask, given, focal_35mm=info.focal_35mm)
    truth = None
    if name in truths:  # images without one simply get no full-reference metrics
        truth = read_image(truths[name])
        if truth.shape != image.shape:
            raise ImageError(truths[name], f"ground truth is {truth.shape[1]}×{truth.shape[0]}, "
                                           f"image is {shape[1]}×{shape[0]}")
    return _Input(image, mask, prepared, np.asarray(prepared.depth, dtype=np.float32), truth, info,
                  output_suffix(path, cfg.format))


def run_compare(
    cfg: CompareConfig,
    renderers: Optional[Sequence[Renderer]] = None,
    segmenter: Optional[Callable[[np.ndarray], np.ndarray]] = None,
    depth_model: Optional[Callable[..., np.ndarray]] = None,
) -> CompareResult:
    """Run the comparison described by ``cfg`` (see the module docstring for what is written).

    ``renderers`` default to ``build_renderers(cfg)``; ``segmenter`` / ``depth_model`` default
    to the registries' ``cfg.segmenter`` / ``cfg.depth_model``, built only if an input lacks
    a mask file (``INPUT_masks/NAME.png``, or ``--masks``) or a depth map (``--depth``); the
    depth model ``prior`` is the pipeline's own portrait prior (which a lens naming a physical
    lens makes metric from faces). Each photo goes through the pipeline of scripts/blur.py once
    (:class:`compositing.pipeline.PhotoPipeline`: the mask post-processed with ``cfg.refine``,
    the depth made from that matte); the compositor methods render from it, the other renderers
    and the metrics get the input's mask as read (the mask file, or the segmenter's).
    """
    from segdepth.depth import build_depth_model
    from segdepth.segment import build_segmenter

    renderers = list(renderers) if renderers is not None else build_renderers(cfg)
    save_config(cfg, Path(cfg.out) / "config.json")
    segment = segmenter or Lazy(lambda: build_segmenter(cfg.segmenter))
    if depth_model is None and cfg.depth_model != "prior":
        depth_model = Lazy(lambda: build_depth_model(cfg.depth_model))
    # the pipeline of scripts/blur.py: mask post-processing, depth (None: the prior), faces if a render uses them
    pipeline = PhotoPipeline(None, depth_model, cfg.refine,
                             face_detector_factory() if any(r.uses_faces for r in renderers) else None)

    input_root = photo_root(cfg.input)
    paths, clashes = list_photos(cfg.input)
    names = [p.relative_to(input_root).with_suffix("").as_posix() for p in paths]
    if cfg.masks is not None and not Path(cfg.masks).is_dir():
        raise FileNotFoundError(f"{cfg.masks}: no such folder")
    depths = index_files(cfg.depth, (".npy", ".png"))
    truths = index_files(cfg.truth, IMAGE_SUFFIXES)

    aux = [Column("input"), Column("mask"), Column("depth", {"source": "--depth" if cfg.depth else cfg.depth_model})]
    if cfg.truth:
        aux.append(Column("ground truth"))
    columns = aux + [Column(r.name, {"kind": r.kind, **r.settings}) for r in renderers]

    extractor, lpips_distance, network_notes = _metric_networks(cfg)
    run = _Run(cfg, renderers, extractor, lpips_distance, [*cfg.notes, *network_notes], n_bad=len(clashes))
    for clash in clashes:
        run.error(clash)
    for path, name in tqdm(list(zip(paths, names, strict=True)), desc="compare", unit="image", disable=cfg.quiet):
        try:
            photo = _read_input(cfg, path, name, input_root, segment, pipeline, depths, truths)
        except (ImageError, ValueError, OSError) as exc:
            run.n_bad += 1
            run.error(str(exc) if str(path) in str(exc) else one_line(f"{path}: {exc}"))
            continue
        cells = run.write_inputs(name, photo)
        regions = M.make_regions(photo.mask)
        cells += [run.render(r, path, name, photo, regions) for r in renderers]
        run.gallery_rows.append(Row(name, cells))

    set_metrics, n_bad_ref = run.set_metrics(segment)
    summary, page = run.write_report(columns, set_metrics, n_bad_ref)
    log.info("compared %d image(s) × %d method(s): %s", len(run.gallery_rows), len(renderers), page)
    return CompareResult(len(paths) + len(clashes), run.n_bad, run.n_fail, run.errors, run.rows, summary,
                         set_metrics, run.notes, page, n_bad_ref)


def _plots(cfg: CompareConfig, renderers: Sequence[Renderer], folder: Path) -> list[Path]:
    """Loss-curve plots of the GAN runs given with --runs or found beside --gan checkpoints."""
    run_dirs = [Path(r) for r in cfg.runs]
    for spec in map(GanSpec.parse, cfg.gan):
        found = run_dir_of_checkpoint(spec.checkpoint)
        if found is not None and found not in run_dirs:
            run_dirs.append(found)
    runs = []
    for d in run_dirs:
        try:
            runs.append(report.load_run(d))
        except (OSError, ValueError) as exc:  # FileProblem: missing, not a regular file
            log.error("%s: cannot read the run log (%s)", d, exc)
    if not runs:
        return []
    plots = [folder / "cycle_loss.png"]
    report.plot_cycle_loss(runs, plots[0])
    if any(report.loss_series(r.records, report.is_mask_key)[0].size for r in runs):
        plots.append(folder / "mask_loss.png")
        report.plot_mask_loss(runs, plots[1])
    return plots

