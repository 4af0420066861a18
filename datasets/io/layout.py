"""Where photos, their person masks and a dataset's splits are on disk (docs/ARCHITECTURE.md,
"Image and mask layout"): :func:`mask_path` is the one mapping from a photo to its mask,
:func:`list_photos` lists a folder's photos once each, :func:`read_mask_for` reads a photo's mask."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Optional, Union

import numpy as np

from plumbing.files import PathLike

from .read import IMAGE_EXTENSIONS, ImageError, read_mask

#: The split folders of a CycleGAN dataset (curation writes them, prepare_masks and training read them).
SPLITS = ("trainA", "testA", "trainB", "testB")


# ---------------------------------------------------------------------------------------------
# listing


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def list_images(inputs: Union[PathLike, Iterable[PathLike]]) -> list[Path]:
    """Image files named by ``inputs`` (one path or several), sorted and without duplicates.

    Folders are searched recursively for files with an extension in :data:`IMAGE_EXTENSIONS`
    (case-insensitive); hidden files and folders (names starting with ".", e.g. the temporary
    files of :func:`atomic_path`) are skipped. Files named explicitly are kept whatever their
    extension, so that a wrong file gets a clear error from the reader instead of vanishing; so
    are symbolic links that lead nowhere (a loop, a missing target) and special files (a FIFO, a
    device) with an image extension: the reader names what they are, one line each.
    A path that does not exist raises ``ImageError("PATH: no such file or folder")``.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    found: set[Path] = set()
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = [d for d in dirs if not _is_hidden(d)]
                for name in files:
                    if not _is_hidden(name) and Path(name).suffix.lower() in IMAGE_EXTENSIONS:
                        found.add(Path(root) / name)
        elif os.path.lexists(p):
            found.add(p)
        else:
            raise ImageError(p, "no such file or folder")
    return sorted(found)


# ---------------------------------------------------------------------------------------------
# photos and their person masks

#: The photo folder ``DIR`` keeps its person masks in the sibling folder ``DIR`` + this suffix.
MASK_FOLDER_SUFFIX = "_masks"


def mask_root(root: PathLike) -> Path:
    """The mask folder of the photo folder ``root``: ``DIR`` → ``DIR_masks`` beside it."""
    root = Path(root)
    if root.name in ("", ".", ".."):  # "." or "data/..": name the folder itself
        root = Path(os.path.abspath(root))
    return root.with_name(root.name + MASK_FOLDER_SUFFIX)


def mask_path(image: PathLike, root: PathLike) -> Path:
    """The person mask of the photo ``root/sub/NAME.EXT``: ``root_masks/sub/NAME.png``.

    ``image`` must lie under ``root`` (``ValueError`` otherwise). The file is 8-bit greyscale,
    255 = person (:func:`write_mask`, :func:`read_mask`).
    """
    image, root = Path(image), Path(root)
    return mask_root(root) / image.relative_to(root).with_suffix(".png")


def photo_root(path: PathLike) -> Path:
    """The folder that :func:`mask_path` takes as root for ``path``: itself if a folder, else its parent."""
    path = Path(path)
    return path if path.is_dir() else path.parent


def is_mask_folder(folder: PathLike) -> bool:
    """True for ``X_masks`` beside a folder ``X``: the masks of ``X``, not photos."""
    folder = Path(folder)
    stem = folder.name[: -len(MASK_FOLDER_SUFFIX)]
    return folder.name.endswith(MASK_FOLDER_SUFFIX) and bool(stem) and (folder.parent / stem).is_dir()


def list_photos(path: PathLike) -> tuple[list[Path], list[str]]:
    """The photos of ``path`` (a folder, searched recursively, or one image file), each once, and
    a ``"PATH: problem"`` line for every photo left out.

    Mask folders inside it (``X_masks`` beside ``X``) are skipped. Photos whose masks would be
    the same file (``a.jpg`` and ``a.png`` in one folder) are all left out, one line each naming
    the others. A missing ``path`` raises :class:`ImageError`.
    """
    root = photo_root(path)
    photos: dict[Path, list[Path]] = {}
    for image in list_images(path):
        folders = image.relative_to(root).parents
        if any(is_mask_folder(root / f) for f in folders if f != Path(".")):
            continue
        photos.setdefault(image.with_suffix(""), []).append(image)
    found, problems = [], []
    for stem, images in sorted(photos.items()):
        if len(images) == 1:
            found.append(images[0])
            continue
        for image in images:
            others = " and ".join(str(p) for p in images if p != image)
            problems.append(f"{image}: same name as {others}: they would share the mask "
                            f"{mask_path(image, root)}; rename one of them")
    return found, problems


def read_mask_for(image: PathLike, root: PathLike, shape: tuple[int, ...],
                  prepare_root: Optional[PathLike] = None) -> np.ndarray:
    """The person mask of the photo ``image`` under ``root`` (:func:`mask_path`), float32 H×W in [0, 1].

    A missing mask raises ``ImageError("IMAGE: mask missing: expected MASK (run
    scripts/prepare_masks.py ROOT)")`` with ROOT = ``prepare_root`` (default ``root``); a mask
    of another size than ``shape`` or an unreadable one raises ``ImageError("MASK: problem")``.
    """
    path = mask_path(image, root)
    if not path.is_file():
        raise ImageError(image, f"mask missing: expected {path} (run scripts/prepare_masks.py "
                                f"{prepare_root if prepare_root is not None else root})")
    return read_mask(path, shape)
