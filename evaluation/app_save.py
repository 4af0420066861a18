"""The local app's Save: the full-resolution photo rendered as the programs render it, with the
config that repeats it, and nothing left behind when it fails.

A compositor method goes through the blur program itself (:class:`compositing.cli.blur.Blurrer`, with
the app's models) on a copy of the photo's file, so the result is pixel for pixel what
``scripts/blur.py --config`` writes again; a GAN method goes through
:func:`gan.infer.translate_folder` with the ``test_config.json`` that ``scripts/test_cyclegan.py
--config`` repeats. Layout under the output folder ``OUT``::

    OUT/NAME/photo/NAME.EXT              the photo's file, copied once (NAME-2/ … for another photo of that name)
    OUT/NAME/METHOD[-N]/NAME_METHOD.OUT  + blur_METHOD_config.json, one folder per save
    OUT/NAME/GAN[-N]/NAME.OUT            + test_config.json (a GAN; its overlay's mask in OUT/NAME/photo_masks/)

OUT is the format the programs give the photo: a JPEG for a JPEG, a PNG for anything else
(datasets.io.output_suffix), with the photo's ICC profile and EXIF (datasets.io.read_photo).
"""
from __future__ import annotations

import filecmp
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from compositing.cli.blur import BlurConfig, Blurrer, check_config, save_run_config
from compositing.pipeline import prepare
from plumbing.config import save_config
from datasets.io import DEFAULT_MAX_PIXELS, mask_path, output_suffix, write_depth, write_mask
from plumbing.files import atomic_path

from .app import Focus, GanMethod, Models, Photo, Session, Settings, method_params


@dataclass
class Saved:
    """What a save wrote: the result, its config and the command that repeats it."""

    result: Path
    config: Path
    command: str
    files: list[Path] = field(default_factory=list)


def _new_folder(base: Path, made: list[Path]) -> Path:
    """``base``, or ``base-2``, ``base-3``… : the first that does not exist yet (made now)."""
    for i in range(1, 10_000):
        folder = base if i == 1 else base.with_name(f"{base.name}-{i}")
        new = _first_missing(folder)
        try:
            folder.mkdir(parents=True)
            made.append(new or folder)
            return folder
        except FileExistsError:
            continue
    raise OSError(f"{base}: too many saves of this name")


def blur_config(source: Path, settings: Settings, focus: Optional[Focus], out: Path, segmenter: str,
                max_pixels: int = DEFAULT_MAX_PIXELS) -> BlurConfig:
    """The blur program's config that renders ``source`` as the app does with ``settings``."""
    cfg = BlurConfig(inputs=[str(source.resolve())], method=settings.method, out=str(out.resolve()),
                     focus=None if focus is None else f"{focus.xy[0]},{focus.xy[1]}", segmenter=segmenter,
                     params=method_params(settings), refine=settings.refine, max_pixels=max_pixels, quiet=True)
    check_config(cfg)
    return cfg


def save(session: Session, settings: Settings, models: Models, out_root: str | Path,
         max_pixels: int = DEFAULT_MAX_PIXELS) -> Saved:
    """Render the photo at full resolution with ``settings`` and write it with its config under
    ``OUT/NAME/METHOD[-N]/`` (the photo's file copied once to ``OUT/NAME/photo/``). A compositor
    method goes through the blur program (compositing.cli.blur.Blurrer), a GAN through
    gan.infer.translate_folder. On any error nothing this save made is left behind."""
    out_root = Path(out_root)
    made: list[Path] = []
    try:
        source = store_photo(out_root, session.photo, made)
        folder = _new_folder(source.parent.parent / settings.method, made)
        if settings.method in session.gans:
            return _save_gan(session, session.gans[settings.method], settings, models, source, folder, out_root, made)
        cfg = blur_config(source, settings, session.focus, folder, models.segmenter_name, max_pixels)
        blurrer = Blurrer(cfg, models.segment, models.faces)
        written = blurrer(source, folder)
        config = save_run_config(cfg, folder, blurrer.depth_paths)
        return Saved(written[0], config, f"python scripts/blur.py --config {config}", [*written, config])
    except BaseException:
        for path in reversed(made):
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        raise


def _first_missing(path: Path) -> Optional[Path]:
    """The outermost of ``path`` and its folders that does not exist (None: ``path`` exists)."""
    if path.exists():
        return None
    missing = path
    for parent in path.parents:
        if parent.exists():
            break
        missing = parent
    return missing


def _write(target: Path, made: list[Path], write: Callable[[Path], None]) -> None:
    """``write(target)`` (an atomic writer), recording in ``made`` what it creates (the file, or the
    outermost folder it makes)."""
    new = _first_missing(target)
    write(target)
    if new is not None:
        made.append(new)


def _write_bytes(data: bytes) -> Callable[[Path], None]:
    def write(target: Path) -> None:
        with atomic_path(target) as tmp:
            tmp.write_bytes(data)
    return write


def _unique_file(target: Path, same: Callable[[Path], bool], write: Callable[[Path], None],
                 made: list[Path]) -> Path:
    """``target`` (``STEM-2``, ``STEM-3``… beside it when another file is there): an existing one that
    is ``same``, else the first free name written now."""
    for i in range(1, 10_000):
        path = target if i == 1 else target.with_name(f"{target.stem}-{i}{target.suffix}")
        if not path.exists():
            _write(path, made, write)
            return path
        if same(path):
            return path
    raise OSError(f"{target}: too many files of this name")


def store_photo(out_root: Path, photo: Photo, made: list[Path]) -> Path:
    """The copy of the photo's file, ``OUT/NAME/photo/NAME.EXT`` (``NAME-2`` … when another photo of
    that name is there); written now unless it is there already."""
    for i in range(1, 10_000):
        stem = photo.name if i == 1 else f"{photo.name}-{i}"
        path = out_root / stem / "photo" / f"{photo.name}{photo.suffix}"
        if not path.exists():
            _write(path, made, _write_bytes(photo.data))
            return path
        if path.read_bytes() == photo.data:
            return path
    raise OSError(f"{out_root / photo.name}: too many photos of this name")


def _save_gan(session: Session, gan: GanMethod, settings: Settings, models: Models, source: Path, folder: Path,
              out_root: Path, made: list[Path]) -> Saved:
    """The GAN's full-resolution translation as test_cyclegan writes it, with the mask file its
    overlay reads (the segmenter's), the depth file a depth-input generator reads (the prior) and
    the ``test_config.json`` that repeats it; an uploaded checkpoint is copied to ``OUT/checkpoints/``."""
    from gan.infer import translate_folder
    from gan.cli.test_cyclegan import CONFIG_NAME, TestConfig

    t = gan.translator
    image = session.photo.image
    depth_dir = None
    if t.overlay or t.cfg.use_depth:
        mask = models.segment(image)
        if t.overlay:
            _write(mask_path(source, source.parent), made, lambda path: write_mask(path, mask))
        if t.cfg.use_depth:
            depth_dir = source.parent.with_name("photo_depth")
            depth = prepare(image, mask, refine=settings.refine).depth
            _write(depth_dir / f"{source.stem}.npy", made, lambda path: write_depth(path, depth))
    checkpoint = gan.checkpoint
    if gan.uploaded:
        checkpoint = _unique_file(out_root / "checkpoints" / f"{gan.name}.pt",
                                  lambda p: filecmp.cmp(p, gan.checkpoint, shallow=False),
                                  _write_bytes(gan.checkpoint.read_bytes()), made)
    cfg = TestConfig(checkpoint=str(checkpoint.resolve()), input=str(source.resolve()), out=str(folder.resolve()),
                     overlay=t.overlay, size=t.size, mode=t.mode,
                     depth_dir=None if depth_dir is None else str(depth_dir.resolve()), quiet=True)
    ok, failed = translate_folder(t, source, folder, depth_dir, quiet=True)
    if failed or not ok:
        raise ValueError(f"{source.name}: the GAN {gan.name} could not translate it")
    config = folder / CONFIG_NAME
    save_config(cfg, config)
    result = folder / f"{source.stem}{output_suffix(source)}"
    return Saved(result, config, f"python scripts/test_cyclegan.py --config {config}", [result, config])
