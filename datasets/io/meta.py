"""What a photo carries besides its pixels, read once and written back on its outputs.

:class:`PhotoInfo` holds the file's format, its ICC colour profile (an iPhone photo is Display
P3: without its profile every colour-managed viewer shows it washed out) and its EXIF (camera,
lens, date), normalised for an output: the orientation is 1, since the reader has already turned
the pixels upright, the pixel dimensions are the upright ones, and the thumbnail (IFD1, which
would show the unprocessed photo) is dropped. :func:`save_options` turns it into Pillow's save
arguments; :func:`output_suffix` picks an output's format: by default the input's (a JPEG gives
a JPEG at quality 95 with the input's chroma subsampling, anything else a PNG), or the one asked for.

EXIF is parsed in one place, :func:`parse_exif`: a corrupt block is ignored (the photo is read
as if it had none) with one warning that names the file, instead of Pillow's anonymous warnings.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from PIL import ExifTags, Image, JpegImagePlugin

from plumbing.files import PathLike, one_line

log = logging.getLogger(__name__)

#: EXIF orientations (tag 0x0112) and the transposition that makes the pixels upright.
TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
             5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
             8: Image.Transpose.ROTATE_90}
_ORIENTATION = ExifTags.Base.Orientation
_EXIF_IFD, _GPS_IFD = ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo
_THUMBNAIL_TAGS = (ExifTags.Base.JpegIFOffset, ExifTags.Base.JpegIFByteCount)
_PIXEL_X, _PIXEL_Y = ExifTags.Base.ExifImageWidth, ExifTags.Base.ExifImageHeight

#: ``--format`` of the programs that write photos: ``auto`` follows the input.
OUTPUT_FORMATS = ("auto", "jpg", "png")
_JPEG_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif")
#: JPEG quality of photo outputs (visually lossless; a fifth to a third of a PNG's size).
JPEG_QUALITY = 95


@dataclass(frozen=True)
class PhotoInfo:
    """A photo's format, ICC profile and EXIF, ready for its outputs (see the module docstring).
    ``jpeg_subsampling``: Pillow's code of the input's chroma subsampling (0 = 4:4:4, 1 = 4:2:2,
    2 = 4:2:0), None when the input is not a JPEG."""

    format: str = ""
    icc_profile: Optional[bytes] = None
    exif: Optional[bytes] = None
    jpeg_subsampling: Optional[int] = None
    focal_35mm: Optional[float] = None  # EXIF FocalLengthIn35mmFilm (mm), see focal_35mm()


#: The attribute an opened image carries when Pillow warned about its metadata while opening it.
_METADATA_PROBLEM = "_shallowdof_metadata_problem"


def _warned(path: PathLike, exc: BaseException) -> str:
    """Log the one line for Pillow's complaint ``exc`` about the metadata of ``path``; its text."""
    text = str(exc) or type(exc).__name__
    log.warning("%s", one_line(f"{path}: corrupt EXIF data ignored ({text})"))
    return text


def open_warning_free(f: Any, path: PathLike) -> Image.Image:
    """``Image.open(f)`` without Pillow's anonymous warnings: a warning while opening (a JPEG reads
    its EXIF then, for its resolution) is one line naming ``path``, and the image is opened again
    with the metadata left aside (:func:`parse_exif` then gives None). Pillow's own
    decompression-bomb warning is left to the reader's pixel limit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.filterwarnings("error", module=r"PIL\.")  # Pillow's warnings only, not other threads'
        try:
            return Image.open(f)
        except Warning as exc:
            problem = _warned(path, exc)
            f.seek(0)
            warnings.filterwarnings("ignore", module=r"PIL\.")
            im = Image.open(f)
    setattr(im, _METADATA_PROBLEM, problem)
    return im


def parse_exif(im: Image.Image, path: PathLike) -> Optional[Image.Exif]:
    """The EXIF of the image ``im`` opened by :func:`open_warning_free` from ``path``, with its Exif
    and GPS blocks loaded, or None when it has none or a corrupt one (then one warning names the
    file and the image is read as if it had none: no orientation, nothing carried on)."""
    if getattr(im, _METADATA_PROBLEM, None) is not None:
        return None
    if "exif" not in im.info and not hasattr(im, "tag_v2") and "Raw profile type exif" not in im.info:
        return None
    with warnings.catch_warnings():
        warnings.filterwarnings("error", module=r"PIL\.")  # Pillow's warnings only, not other threads'
        try:
            exif = im.getexif()
            for ifd in (_EXIF_IFD, _GPS_IFD):
                exif.get_ifd(ifd)
        except Exception as exc:  # noqa: BLE001 - Pillow raises anything for a malformed block
            setattr(im, _METADATA_PROBLEM, _warned(path, exc))
            return None
    return exif if len(exif) else None


def focal_35mm(exif: Optional[Image.Exif]) -> Optional[float]:
    """The 35 mm-equivalent focal length in mm (EXIF ``FocalLengthIn35mmFilm``, tag 0xA405 of the
    Exif IFD), or None when absent or not a positive number."""
    value = exif.get_ifd(_EXIF_IFD).get(ExifTags.Base.FocalLengthIn35mmFilm) if exif is not None else None
    try:
        focal = float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
    return focal if focal and focal > 0 else None


def orientation(exif: Optional[Image.Exif]) -> int:
    """The EXIF orientation 1…8 (1 when absent or out of range)."""
    value = exif.get(_ORIENTATION, 1) if exif is not None else 1
    return value if value in TRANSPOSE or value == 1 else 1


def _output_exif(exif: Image.Exif, size: tuple[int, int]) -> bytes:
    """``exif`` as an output carries it: orientation 1, the upright pixel size, no thumbnail."""
    out = Image.Exif()
    for tag, value in exif.items():
        if tag not in _THUMBNAIL_TAGS and tag not in (_EXIF_IFD, _GPS_IFD):
            out[tag] = value
    out[_ORIENTATION] = 1
    for ifd in (_EXIF_IFD, _GPS_IFD):
        entries = exif.get_ifd(ifd)
        if entries:
            target = out.get_ifd(ifd)
            target.update(entries)
            if ifd == _EXIF_IFD and _PIXEL_X in target:
                target[_PIXEL_X], target[_PIXEL_Y] = size
    return out.tobytes()


def _rgb_profile(icc: Any) -> Optional[bytes]:
    """``icc`` when it is an RGB display profile (its header's colour space is ``RGB ``), else None:
    a grey or CMYK profile does not describe the RGB pixels the reader returns."""
    return bytes(icc) if isinstance(icc, (bytes, bytearray)) and len(icc) >= 20 and icc[16:20] == b"RGB " else None


def photo_info(im: Image.Image, exif: Optional[Image.Exif], size: tuple[int, int], converted: bool) -> PhotoInfo:
    """The :class:`PhotoInfo` of the decoded ``im`` whose upright ``size`` is (width, height);
    ``converted``: the reader changed its colours' meaning (CMYK through its profile to sRGB),
    so the profile no longer applies."""
    subsampling = JpegImagePlugin.get_sampling(im) if im.format in ("JPEG", "MPO") else -1
    exif_bytes = None
    if exif is not None:
        try:
            exif_bytes = _output_exif(exif, size)
        except Exception:  # noqa: BLE001 - a value Pillow read but cannot write back: drop the block
            exif_bytes = None
    return PhotoInfo(format=im.format or "", icc_profile=None if converted else _rgb_profile(im.info.get("icc_profile")),
                     exif=exif_bytes, jpeg_subsampling=subsampling if subsampling in (0, 1, 2) else None,
                     focal_35mm=focal_35mm(exif))


def output_suffix(input_path: PathLike, choice: str = "auto") -> str:
    """The extension of a photo output of ``input_path``: ``.jpg`` for a JPEG input (by its
    extension) or ``choice`` ``jpg``, ``.png`` otherwise or for ``png``."""
    if choice not in OUTPUT_FORMATS:
        raise ValueError(f"format {choice!r}: expected one of {', '.join(OUTPUT_FORMATS)}")
    if choice == "auto":
        return ".jpg" if Path(input_path).suffix.lower() in _JPEG_SUFFIXES else ".png"
    return f".{choice}"


def save_options(fmt: str, info: Optional[PhotoInfo]) -> dict[str, Any]:
    """Pillow's save arguments for format ``fmt`` (``JPEG``, ``PNG`` …) carrying ``info``'s profile and
    EXIF; JPEG at :data:`JPEG_QUALITY` with the input's chroma subsampling (4:4:4 for a non-JPEG input)."""
    options: dict[str, Any] = {"JPEG": {"quality": JPEG_QUALITY}, "PNG": {"compress_level": 1}}.get(fmt, {})
    if info is None:
        return options
    if fmt == "JPEG":
        options["subsampling"] = 0 if info.jpeg_subsampling is None else info.jpeg_subsampling
    if fmt in ("JPEG", "PNG", "WEBP", "TIFF"):
        if info.icc_profile:
            options["icc_profile"] = info.icc_profile
        if info.exif:
            options["exif"] = info.exif
    return options
