"""Render every test image with every method, measure, and write the comparison.

A *renderer* is anything that turns (image, mask, depth) into an output: a compositor
method (compositing.pipeline, rendered from the photo pipeline's prepared planes exactly as
scripts/blur.py renders it) or a trained GAN checkpoint (gan.infer). Conventions: image
uint8 RGB H×W×3, mask float32 H×W in [0, 1], depth float32 H×W (larger = farther), output
uint8 RGB H×W×3 of the input's size.

``run_compare`` writes into ``out``::

    config.json                      the CompareConfig of the run
    inputs/NAME.png masks/NAME.png depth/NAME.png [truth/NAME.png]
    results/<method>/NAME.png        full-resolution renders
    metrics.csv metrics.md           per-image rows and per-method mean / median
    plots/*.png                      GAN loss curves (when runs are given)
    gallery/index.html + thumbs/     the side-by-side page (relative links only)

Bad images get one line "PATH: problem", the run goes on, and the count is returned.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import cv2
import numpy as np
from tqdm import tqdm

from compositing.pipeline import (METHODS, Lazy, PhotoPipeline, Prepared, build_params,
                                  face_detector_factory, ineffective_params, params_for_depth, params_to_dict,
                                  render_prepared, wants_faces)
from datasets.config import save_config
from datasets.io import (ImageError, list_photos, mask_path, photo_root, read_depth, read_focal_35mm, read_image,
                         read_mask, write_image)
from evaluation import metrics as M
from evaluation import report
from evaluation.defocus import background_defocus
from evaluation.gallery import Cell, Column, MetricsTable, Row, build_gallery, write_thumbnail

log = logging.getLogger(__name__)

RenderFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

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


# ----------------------------------------------------------------------------- renderers


def _check_name(name: str) -> None:
    if not name or name in (".", "..") or any(c in name for c in "/\\\0") or name.strip() != name:
        raise ValueError(f"method name {name!r} cannot be a folder name (no slashes, not empty, no edge spaces)")


@dataclass(frozen=True)
class Renderer:
    """A named way to render: ``fn(image, mask, depth) -> output`` plus its settings for captions.

    ``prepared_fn``, when given, renders from the photo pipeline's prepared planes instead
    (:class:`compositing.pipeline.Prepared`: the post-processed matte, the depth, the focus), as
    scripts/blur.py does: the compositor methods. ``uses_faces``: it may make the depth prior
    metric from detected faces (the lens asking for a physical lens).
    """

    name: str
    kind: str
    settings: Mapping[str, Any]
    fn: RenderFn = field(repr=False, compare=False)
    prepared_fn: Optional[Callable[[Prepared], np.ndarray]] = field(default=None, repr=False, compare=False)
    uses_faces: bool = False
    # kind "published": output name → file of a result folder; outputs are read, not rendered
    published: Optional[Mapping[str, Path]] = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_name(self.name)

    def __call__(self, image: np.ndarray, mask: np.ndarray, prepared: Prepared) -> np.ndarray:
        if self.prepared_fn is not None:
            return self.prepared_fn(prepared)
        return self.fn(image, mask, prepared.depth)

    def output_for(self, name: str, image: np.ndarray, mask: np.ndarray, prepared: Prepared) -> np.ndarray:
        """The output for input ``name`` (``mask``: the input's mask, ``prepared``: the pipeline's
        planes): rendered, or read from the published folder (a result of another size is resized
        to the input's, area-averaged)."""
        if self.published is None:
            return self(image, mask, prepared)
        found = self.published.get(name)
        if found is None:
            raise FileNotFoundError(f"no published result {name}.* in {self.settings['folder']}")
        result = read_image(found)
        if result.shape != image.shape:
            result = cv2.resize(result, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_AREA)
        return result


def published_renderer(spec: str) -> Renderer:
    """``NAME=DIR``: a folder of published outputs (e.g. a paper's results), files named like the
    inputs (any image format), shown and measured as one more method."""
    name, sep, folder = spec.partition("=")
    if not sep or not name or not folder:
        raise ValueError(f"--results {spec!r}: expected NAME=DIR")
    if not Path(folder).is_dir():
        raise FileNotFoundError(f"{folder}: no such folder (for --results {name})")

    def unavailable(image: np.ndarray, mask: np.ndarray, depth: np.ndarray) -> np.ndarray:
        raise TypeError("published results are read with output_for(name, ...), not rendered")

    return Renderer(name, "published", {"folder": str(folder)}, unavailable,
                    published=_index(folder, _IMAGE_SUFFIXES))


def compositor_renderer(method: str, params: Optional[Mapping[str, Any]] = None) -> Renderer:
    """A compositor method from ``compositing.pipeline.METHODS``, rendered from the photo
    pipeline's prepared planes with :func:`compositing.pipeline.render_prepared`: what
    scripts/blur.py renders (for relative depth ``coc="relative"``, the prior made metric from
    faces for a lens that names a physical lens)."""
    if method not in METHODS:
        raise ValueError(f"unknown compositor method {method!r}; choose from {sorted(METHODS)}")
    metric_params = dict(params or {})
    relative_params = params_for_depth(method, metric_params, True) or {}
    settings = params_to_dict(build_params(method, metric_params))  # validates the keys too
    if relative_params != metric_params:
        changed = {k: v for k, v in relative_params.items() if metric_params.get(k) != v}
        settings["for relative depth"] = ", ".join(f"{k}={v}" for k, v in changed.items())
    mode, ignored = ineffective_params(method, metric_params, build_params(method, relative_params))
    uses_faces = wants_faces(method, metric_params)
    if uses_faces:
        settings["with the depth prior"] = "made metric from the faces (thin lens)"
    elif ignored:  # said in the caption: with the relative depth prior these change nothing
        settings[f"no effect with relative depth ({mode})"] = ", ".join(ignored)

    def unused(image: np.ndarray, mask: np.ndarray, depth: np.ndarray) -> np.ndarray:
        raise TypeError("a compositor method renders from the prepared planes (prepared_fn)")

    def from_prepared(prepared: Prepared) -> np.ndarray:
        return render_prepared(method, prepared, metric_params).output

    return Renderer(method, "compositor", {**settings, "focus": "auto"}, unused, from_prepared, uses_faces)


@dataclass(frozen=True)
class GanSpec:
    """``NAME=CKPT:preset[:overlay|:no-overlay]`` from the command line (default: no overlay)."""

    name: str
    checkpoint: Path
    preset: str
    overlay: bool

    @classmethod
    def parse(cls, spec: str) -> "GanSpec":
        name, sep, rest = spec.partition("=")
        overlay = False
        for suffix, value in ((":overlay", True), (":no-overlay", False)):
            if rest.endswith(suffix):
                rest, overlay = rest[: -len(suffix)], value
                break
        checkpoint, sep2, preset = rest.rpartition(":")
        if not sep or not sep2 or not name or not checkpoint or not preset:
            raise ValueError(f"--gan {spec!r}: expected NAME=CHECKPOINT:PRESET[:overlay|:no-overlay]")
        _check_name(name)
        return cls(name, Path(checkpoint), preset, overlay)


def gan_renderer(spec: GanSpec, device: str = "cpu") -> Renderer:
    """A trained CycleGAN generator (A → B) at full resolution via ``gan.infer.Translator``."""
    from gan.checkpoint import resolve_checkpoint
    from gan.infer import Translator

    checkpoint = resolve_checkpoint(spec.checkpoint)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"{checkpoint}: no such checkpoint (for --gan {spec.name})")
    translator = Translator.from_checkpoint(checkpoint, direction="AtoB", overlay=spec.overlay, device=device)

    def fn(image: np.ndarray, mask: np.ndarray, depth: np.ndarray) -> np.ndarray:
        return translator(image, mask, depth)

    settings = {"preset": spec.preset, "overlay": spec.overlay, "checkpoint": checkpoint.name}
    return Renderer(spec.name, "gan", settings, fn)


def run_dir_of_checkpoint(checkpoint: Path) -> Optional[Path]:
    """The run folder (with log.jsonl) a checkpoint belongs to: its folder or that folder's parent
    (or the folder given, when --gan names a run directory)."""
    for folder in (checkpoint, checkpoint.parent, checkpoint.parent.parent):
        if (folder / "log.jsonl").is_file():
            return folder
    return None


# ----------------------------------------------------------------------------- configuration


@dataclass
class CompareConfig:
    """Everything a comparison run depends on; saved as out/config.json."""

    input: str
    out: str
    methods: list[str] = field(default_factory=list)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # compositor method → its params
    gan: list[str] = field(default_factory=list)
    results: list[str] = field(default_factory=list)  # NAME=DIR published result folders
    reference: Optional[str] = None
    masks: Optional[str] = None
    depth: Optional[str] = None
    truth: Optional[str] = None
    runs: list[str] = field(default_factory=list)
    segmenter: str = "mediapipe"
    depth_model: str = "prior"
    refine: str = "snap"  # the compositor methods' mask edge refinement, as scripts/blur.py's --refine
    fid_weights: str = "imagenet"  # "imagenet", "none" (random init, tests only) or "off"
    device: str = "cpu"
    thumb_size: int = 256
    quiet: bool = False
    notes: list[str] = field(default_factory=list)  # shown on the gallery page and in metrics.md


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


def _index(folder: Optional[str], suffixes: Sequence[str]) -> dict[str, Path]:
    """Files of ``folder`` by relative path without suffix (POSIX)."""
    if folder is None:
        return {}
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix.lower() in suffixes and not path.name.startswith("."):
            found.setdefault(path.relative_to(root).with_suffix("").as_posix(), path)
    return found


def photo_mask(path: Path, root: Path, masks: Optional[str]) -> Optional[Path]:
    """The mask file of the photo ``path`` under ``root``: ``MASKS/NAME.png`` with ``--masks``, else
    the layout's ``ROOT_masks/NAME.png`` (``datasets.io.mask_path``); ``None`` when there is none."""
    found = Path(masks) / path.relative_to(root).with_suffix(".png") if masks is not None else mask_path(path, root)
    return found if found.is_file() else None


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
    out = Path(cfg.out)
    gdir = out / "gallery"
    save_config(cfg, out / "config.json")
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
    depths = _index(cfg.depth, (".npy", ".png"))
    truths = _index(cfg.truth, _IMAGE_SUFFIXES)

    aux = [Column("input"), Column("mask"), Column("depth", {"source": "--depth" if cfg.depth else cfg.depth_model})]
    if cfg.truth:
        aux.append(Column("ground truth"))
    columns = aux + [Column(r.name, {"kind": r.kind, **r.settings}) for r in renderers]

    notes: list[str] = list(cfg.notes)
    extractor: Optional[M.InceptionFeatures] = None
    if cfg.reference and cfg.fid_weights != "off":
        try:
            extractor = M.InceptionFeatures(cfg.fid_weights, device=cfg.device)
        except M.MetricUnavailable as exc:
            log.error("%s", exc)
            notes.append(f"FID/KID not computed: {exc}")
    lpips_distance: Optional[M.LPIPSDistance] = None
    if cfg.truth:
        try:
            lpips_distance = M.LPIPSDistance(device=cfg.device)
        except M.MetricUnavailable as exc:
            log.warning("%s", exc)
            notes.append(f"LPIPS not computed: {exc}")
    if cfg.fid_weights == "none" and extractor is not None:
        notes.append("FID/KID use a randomly initialised Inception (--fid-weights none): for testing only")

    errors: list[str] = []
    rows: list[dict[str, Any]] = []
    gallery_rows: list[Row] = []
    feats: dict[str, list[np.ndarray]] = {r.name: [] for r in renderers}
    samples: dict[str, list[np.ndarray]] = {r.name: [] for r in renderers}
    sharpness: dict[str, list[float]] = {r.name: [] for r in renderers}
    n_bad, n_fail = len(clashes), 0
    for clash in clashes:
        errors.append(clash)
        log.error("%s", clash)

    for path, name in tqdm(list(zip(paths, names, strict=True)), desc="compare", unit="image", disable=cfg.quiet):
        try:
            image = read_image(path)
            shape = image.shape[:2]
            mask_file = photo_mask(path, input_root, cfg.masks)
            if mask_file is not None:
                mask = read_mask(mask_file, shape)
            else:
                mask = np.asarray(segment(image), dtype=np.float32)
            given = read_depth(depths[name], expected_shape=shape) if name in depths else None  # metres
            prepared = pipeline(image, mask, given, focal_35mm=read_focal_35mm(path))
            depth = np.asarray(prepared.depth, dtype=np.float32)
            truth = None
            if name in truths:  # images without one simply get no full-reference metrics
                truth = read_image(truths[name])
                if truth.shape != image.shape:
                    raise ImageError(truths[name], f"ground truth is {truth.shape[1]}×{truth.shape[0]}, "
                                                   f"image is {shape[1]}×{shape[0]}")
        except (ImageError, ValueError, OSError) as exc:
            n_bad += 1
            errors.append(str(exc) if str(path) in str(exc) else f"{path}: {exc}")
            log.error("%s", errors[-1])
            continue

        cells: list[Union[Cell, str, None]] = []
        aux_images = [("inputs", image), ("masks", (mask * 255).round().astype(np.uint8)), ("depth", depth_preview(depth))]
        if cfg.truth:
            aux_images.append(("truth", truth))
        for folder, picture in aux_images:
            if picture is None:
                cells.append("no ground truth")
                continue
            full = out / folder / f"{name}.png"
            thumb = gdir / "thumbs" / folder / f"{name}.jpg"
            write_image(full, picture)
            write_thumbnail(thumb, picture, cfg.thumb_size)
            cells.append(Cell(full, thumb))

        regions = M.make_regions(mask)
        for r in renderers:
            try:
                start = time.perf_counter()
                output = r.output_for(name, image, mask, prepared)
                seconds = time.perf_counter() - start
                if not isinstance(output, np.ndarray) or output.dtype != np.uint8 or output.shape != image.shape:
                    got = f"{output.dtype} {output.shape}" if isinstance(output, np.ndarray) else type(output).__name__
                    raise ValueError(f"returned {got}, expected uint8 {image.shape}")
            except Exception as exc:  # one failing method must not stop the comparison
                n_fail += 1
                errors.append(f"{path}: method {r.name} failed: {exc}")
                log.error("%s", errors[-1])
                cells.append(None)
                continue
            full = out / "results" / r.name / f"{name}.png"
            thumb = gdir / "thumbs" / "results" / r.name / f"{name}.jpg"
            write_image(full, output)
            write_thumbnail(thumb, output, cfg.thumb_size)
            try:
                values = M.compute_image_metrics(image, output, mask, truth=truth, regions=regions)
            except Exception as exc:  # noqa: BLE001 - keep the render, count the failure, go on
                n_fail += 1
                errors.append(f"{path}: metrics for method {r.name} failed: {exc}")
                log.error("%s", errors[-1])
                values = {}
            if lpips_distance is not None and truth is not None:
                values["truth_lpips"] = lpips_distance(output, truth)
            values["seconds"] = seconds
            rows.append({"method": r.name, "image": name, **values})
            caption = " · ".join(f"{short} {report.format_value(values[k])}" for k, short in _CAPTION_KEYS if k in values)
            cells.append(Cell(full, thumb, caption))
            if cfg.reference:
                samples[r.name].append(M.blur_samples(output, mask))
                sharpness[r.name].append(M.background_sharpness(output, mask))
                if extractor is not None:
                    feats[r.name].append(extractor([output])[0])
        gallery_rows.append(Row(name, cells))

    set_metrics: dict[str, dict[str, float]] = {}
    n_bad_ref = 0
    if cfg.reference:
        ref = _reference_stats(cfg, segment, extractor)
        ref_samples, ref_sharpness, ref_feats = ref.samples, ref.sharpness, ref.feats
        n_bad_ref = len(ref.errors)
        errors += ref.errors
        ref_defocus = ref.defocus[np.isfinite(ref.defocus)]
        if ref_defocus.size:
            notes.append(f"reference background defocus (evaluation/defocus.py): median {np.median(ref_defocus):.2f} % "
                         f"of the width, IQR {np.percentile(ref_defocus, 25):.2f}–{np.percentile(ref_defocus, 75):.2f} %, "
                         f"measured on {ref_defocus.size} of {len(ref.defocus)} photos")
        for r in renderers:
            entry = {"blur_w1": M.blur_distribution_distance(np.concatenate(samples[r.name] or [np.zeros(0)]),
                                                             ref_samples),
                     "sharpness_gap": M.sharpness_gap(np.array(sharpness[r.name]), ref_sharpness),
                     "sharpness_w1": M.sharpness_w1(np.array(sharpness[r.name]), ref_sharpness),
                     "sharpness_w1_p": M.sharpness_w1_p(np.array(sharpness[r.name]), ref_sharpness)}
            entry.update(_defocus_summary([row.get("bg_defocus", np.nan) for row in rows if row["method"] == r.name],
                                          ref_defocus))
            if extractor is not None:
                entry["fid"] = M.fid_from_features(np.array(feats[r.name]), ref_feats)
                entry["kid"] = M.kid_from_features(np.array(feats[r.name]), ref_feats)
            set_metrics[r.name] = entry
        if extractor is not None and min(len(ref_feats), *(len(f) for f in feats.values())) < 50:
            notes.append("FID/KID from fewer than 50 images per set: strongly biased, compare only like with like")

    plots = _plots(cfg, renderers, out / "plots")
    metric_names = [k for k in (*M.METRICS, "truth_lpips", "seconds") if any(k in row for row in rows)]
    labels = {k: m.label for k, m in M.METRICS.items()} | EXTRA_LABELS | SET_METRIC_LABELS

    if n_bad or n_fail or n_bad_ref:
        notes.append(f"{n_bad} bad image(s), {n_bad_ref} bad reference image(s) and {n_fail} failed render(s); "
                     "see the list in the gallery")
    summary = report.write_metrics(out, rows, metric_names, labels, set_metrics, notes)
    table_rows = []
    for entry in summary:
        table_rows.append({"method": entry["method"], **{m: entry[f"{m}_mean"] for m in metric_names},
                           **set_metrics.get(entry["method"], {})})
    set_names = sorted({k for v in set_metrics.values() for k in v})
    table = MetricsTable(table_rows, [*metric_names, *set_names],
                         {**{m: f"{labels[m]} (mean)" for m in metric_names}, **labels})
    page = build_gallery(gdir, columns, gallery_rows, table, plots=plots, errors=errors, notes=notes)
    log.info("compared %d image(s) × %d method(s): %s", len(gallery_rows), len(renderers), page)
    return CompareResult(len(paths) + len(clashes), n_bad, n_fail, errors, rows, summary, set_metrics, notes, page,
                         n_bad_ref)


@dataclass
class ReferenceStats:
    """What the comparison needs of the real shallow-DoF photos: blur samples, per-photo background
    sharpness and defocus radius (% of the width, :mod:`evaluation.defocus`), Inception features,
    and one error line per unusable photo."""

    samples: np.ndarray
    sharpness: np.ndarray
    feats: np.ndarray
    defocus: np.ndarray
    errors: list[str]


def _defocus_summary(values: Sequence[float], reference: np.ndarray) -> dict[str, float]:
    """A method's median background defocus over its outputs and its ratio to the reference's median."""
    finite = np.asarray(values, np.float64)
    finite = finite[np.isfinite(finite)]
    median = float(np.median(finite)) if finite.size else np.nan
    ref_median = float(np.median(reference)) if reference.size else np.nan
    return {"defocus_median": median, "defocus_ratio": median / ref_median if ref_median > 0 else np.nan}


def _reference_stats(
    cfg: CompareConfig, segment: Callable[[np.ndarray], np.ndarray], extractor: Optional[M.InceptionFeatures]
) -> ReferenceStats:
    """The :class:`ReferenceStats` of the real shallow-DoF photos (mask: the layout's mask file
    ``REFERENCE_masks/NAME.png``, else the segmenter)."""
    root = photo_root(cfg.reference)
    paths, errors = list_photos(cfg.reference)
    for clash in errors:
        log.error("%s", clash)
    samples, sharpness, feats, defocus = [], [], [], []
    for path in tqdm(paths, desc="reference", unit="image", disable=cfg.quiet):
        try:
            image = read_image(path)
            mask_file = photo_mask(path, root, None)
            mask = read_mask(mask_file, image.shape) if mask_file else np.asarray(segment(image), dtype=np.float32)
        except ImageError as exc:
            errors.append(str(exc))
            log.error("%s", exc)
            continue
        samples.append(M.blur_samples(image, mask))
        sharpness.append(M.background_sharpness(image, mask))
        defocus.append(background_defocus(image, image, mask))
        if extractor is not None:
            feats.append(extractor([image])[0])
    return ReferenceStats(np.concatenate(samples) if samples else np.zeros(0), np.array(sharpness, np.float64),
                          np.array(feats) if feats else np.zeros((0, 2048)), np.array(defocus, np.float64), errors)


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
        except OSError as exc:
            log.error("%s: cannot read the run log (%s)", d, exc)
    if not runs:
        return []
    plots = [folder / "cycle_loss.png"]
    report.plot_cycle_loss(runs, plots[0])
    if any(report.loss_series(r.records, report.is_mask_key)[0].size for r in runs):
        plots.append(folder / "mask_loss.png")
        report.plot_mask_loss(runs, plots[1])
    return plots

