"""Reading images, masks and depth maps: strict, one ``"PATH: problem"`` :class:`ImageError` per
bad file (the conventions are in :mod:`datasets.io`)."""
from __future__ import annotations

import contextlib
import logging
import math
import struct
import zipfile
from io import BytesIO
from pathlib import Path
from typing import BinaryIO, Iterator, Optional

import cv2
import numpy as np
from PIL import Image, ImageCms, UnidentifiedImageError

from plumbing.files import FileProblem, PathLike, open_regular

from .meta import TRANSPOSE, PhotoInfo, focal_35mm, open_warning_free, orientation, parse_exif, photo_info

log = logging.getLogger(__name__)

#: Largest image (width × height) :func:`read_image` decodes by default: 120 megapixels, far
#: above any camera in use (a 100 MP medium-format frame fits) and small enough that a
#: decompression bomb cannot exhaust memory (120 MP × 3 bytes = 360 MB of RGB).
DEFAULT_MAX_PIXELS = 120_000_000

#: The highest ``max_pixels`` that can take effect: Pillow refuses to open images above twice its
#: ``MAX_IMAGE_PIXELS`` whatever our own limit says (a hard decompression-bomb error).
MAX_PIXELS_CEILING = 2 * (Image.MAX_IMAGE_PIXELS or 89_478_485)

#: Longest side (pixels) of an image the reader accepts: OpenCV stores coordinates in 16 bits in
#: ``remap`` and related code (``src.cols < SHRT_MAX``), and the OpenCV that MediaPipe bundles
#: aborts the whole process on a side of 32,767 or more, however few pixels the image has.
MAX_SIDE = 32_766

#: Extensions :func:`list_images` picks up inside folders (compared case-insensitively). HEIC/HEIF
#: (phone photos) are read through pillow-heif where it is installed (the ``app`` extra).
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm", ".pnm",
     ".heic", ".heif"}
)


def _register_heif() -> bool:
    """Let Pillow open HEIC/HEIF files through pillow-heif's plugin (its documented
    ``register_heif_opener``), where pillow-heif is installed; whether it is."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


HEIF_READABLE = _register_heif()

#: Scale of 16-bit PNG depth maps: stored value / DEPTH_PNG_SCALE = metres (i.e. millimetres, the
#: Kinect / NYU Depth v2 convention). 0 is kept as 0 (sensors use it for "no reading").
DEPTH_PNG_SCALE = 1000.0

_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, TypeError, KeyError)


class ImageError(FileProblem):
    """A file that cannot be used as input. ``str(err)`` is ``"PATH: problem"``, one line."""


# ---------------------------------------------------------------------------------------------
# reading


def check_side(width: int, height: int) -> Optional[str]:
    """Why an image of ``width`` × ``height`` cannot go through OpenCV, or None (:data:`MAX_SIDE`)."""
    if max(width, height) > MAX_SIDE:
        return (f"image is {width}×{height}: a side above {MAX_SIDE:,} pixels cannot be processed (OpenCV's "
                "limit, whatever the pixel count); crop or scale it down")
    return None


def _open_file(path: Path) -> BinaryIO:
    """``path`` opened for reading when it is a non-empty regular file (plumbing.files.open_regular)."""
    try:
        f = open_regular(path)
    except FileProblem as exc:
        raise ImageError(path, exc.problem) from None
    if f.seek(0, 2) == 0:
        f.close()
        raise ImageError(path, "empty file (0 bytes)")
    f.seek(0)
    return f


_MAGIC = {
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"GIF8": "GIF",
    b"BM": "BMP",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
}


def _sniff(f: BinaryIO) -> str:
    """A short reason why Pillow did not recognise the open file ``f`` (what the file looks like)."""
    f.seek(0)
    head = f.read(512)
    for magic, name in _MAGIC.items():
        if head.startswith(magic):
            return f"corrupt {name} file (its headers cannot be parsed)"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "corrupt WebP file (its headers cannot be parsed)"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"hevc", b"heim", b"heis"):
        return ("corrupt HEIC/HEIF file (its headers cannot be parsed)" if HEIF_READABLE else
                "HEIC/HEIF photo, which needs pillow-heif to read: pip install -e '.[app]'")
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html")) or b"<html" in text:
        return "not an image: looks like an HTML page (a failed download?)"
    if text.startswith((b"<?xml", b"<svg")):
        return "not a raster image: looks like XML/SVG"
    if text.startswith((b"{", b"[")):
        return "not an image: looks like JSON text"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "not a recognised image file (unknown or corrupt format)"
    return "not an image: looks like a text file"


def _open_checked(f: BinaryIO, path: Path, max_pixels: int) -> Image.Image:
    """Open the image in ``f`` (read from ``path``) and check its size against ``max_pixels`` and
    :data:`MAX_SIDE` before anything is decoded."""
    try:
        im = open_warning_free(f, path)
    except UnidentifiedImageError:
        raise ImageError(path, _sniff(f)) from None
    except Image.DecompressionBombError as exc:
        raise ImageError(path, f"too many pixels (decompression bomb?): {exc}") from None
    except _ERRORS as exc:
        raise ImageError(path, f"cannot read image header: {exc}") from None
    width, height = im.size
    problem = ""
    if width <= 0 or height <= 0:
        problem = f"invalid image size {width}×{height}"
    elif width * height > max_pixels:
        problem = (f"image is {width}×{height} = {width * height / 1e6:.1f} MP, above the limit of "
                   f"{max_pixels / 1e6:.1f} MP (decompression bomb?); raise the limit (--max-pixels) if it is genuine")
    else:
        problem = check_side(width, height) or ""
    if problem:
        im.close()
        raise ImageError(path, problem)
    return im


@contextlib.contextmanager
def open_image(path: PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> Iterator[Image.Image]:
    """The image at ``path`` opened but not decoded, for readers that need Pillow's own modes (a
    palette label's indices): from a checked regular file (:func:`_open_file`: not a FIFO or a
    device), its size checked against ``max_pixels`` and :data:`MAX_SIDE` before decoding
    (:func:`_open_checked`); file and image are closed after the block. ImageError for a bad file."""
    path = Path(path)
    with _open_file(path) as f:
        im = _open_checked(f, path, max_pixels)
        try:
            yield im
        finally:
            im.close()


def _decode(im: Image.Image, path: Path, exif: Optional[Image.Exif] = None) -> Image.Image:
    """``im`` decoded fully (truncated or corrupt data fails here) and turned upright by its EXIF
    orientation (``exif``: :func:`datasets.io.meta.parse_exif` of ``im``): ``im`` itself when it
    is upright already, else a turned copy."""
    try:
        im.load()
    except _ERRORS as exc:
        msg = str(exc) or type(exc).__name__
        if "truncated" in msg or isinstance(exc, EOFError):
            raise ImageError(path, f"truncated image file ({msg})") from None
        raise ImageError(path, f"corrupt image data ({msg})") from None
    turn = orientation(exif)
    return im if turn == 1 else im.transpose(TRANSPOSE[turn])


@contextlib.contextmanager
def _decoded(path: Path, max_pixels: int) -> Iterator[Image.Image]:
    """The image at ``path`` decoded fully and upright (:func:`open_image`, :func:`_decode`), closed after the block."""
    with open_image(path, max_pixels) as im:
        upright = _decode(im, path, parse_exif(im, path))
        try:
            yield upright
        finally:
            if upright is not im:
                upright.close()


def _sixteen_bit_to_u8(a: np.ndarray) -> np.ndarray:
    """0…65535 → 0…255 by rounding ``v / 257`` (65535 ↦ 255 exactly; scales, never clips)."""
    a = np.clip(a.astype(np.float64), 0, 65535)
    return np.round(a / 257.0).astype(np.uint8)


def _to_rgb_alpha(im: Image.Image, path: Path) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """Any Pillow mode → (uint8 RGB H×W×3, float32 alpha H×W in [0,1] or None)."""
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit grayscale (PNG/TIFF). "I" (32-bit) is taken as the same 16-bit range: it is how
        # Pillow opens 16-bit PNGs in older releases and 16-bit TIFFs in some.
        gray = _sixteen_bit_to_u8(np.asarray(im))
        return np.repeat(gray[..., None], 3, axis=2), None
    if mode == "F":
        gray = np.round(np.clip(np.asarray(im, dtype=np.float64), 0.0, 1.0) * 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2), None
    if mode == "CMYK":
        icc = im.info.get("icc_profile")
        if icc:
            try:
                src = ImageCms.ImageCmsProfile(BytesIO(icc))
                rgb_im = ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
                return np.asarray(rgb_im, dtype=np.uint8).copy(), None
            except (ImageCms.PyCMSError, OSError, ValueError) as exc:
                log.warning("%s: cannot apply the embedded CMYK ICC profile (%s); naive conversion", path, exc)
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy(), None

    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    try:
        if has_alpha:
            rgba = np.asarray(im.convert("RGBA"), dtype=np.uint8)
            return rgba[..., :3].copy(), rgba[..., 3].astype(np.float32) / 255.0
        if mode == "RGB":
            return np.asarray(im, dtype=np.uint8).copy(), None
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy(), None
    except ValueError as exc:
        raise ImageError(path, f"unsupported image mode {mode} ({exc})") from None


def _read(path: Path, max_pixels: int) -> tuple[np.ndarray, Optional[np.ndarray], PhotoInfo]:
    """(RGB, alpha or None, PhotoInfo) of the image at ``path``: the one full read behind
    :func:`read_image`, :func:`read_image_with_alpha` and :func:`read_photo`."""
    with open_image(path, max_pixels) as im:
        exif = parse_exif(im, path)
        upright = _decode(im, path, exif)
        try:
            rgb, alpha = _to_rgb_alpha(upright, path)
            return rgb, alpha, photo_info(im, exif, upright.size, converted=im.mode == "CMYK")
        finally:
            if upright is not im:
                upright.close()


def read_image_with_alpha(
    path: PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """Read an image as (uint8 RGB H×W×3, float32 alpha H×W in [0, 1] or ``None``).

    Alpha comes from RGBA/LA/PA images and from palette or tRNS transparency; images without
    alpha give ``None``. EXIF orientation is applied; other modes are converted as in
    :func:`read_image`. Raises :class:`ImageError` for any unusable file.
    """
    rgb, alpha, _ = _read(Path(path), max_pixels)
    return rgb, alpha


def read_image(path: PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read any still image as uint8 RGB H×W×3.

    * only a regular file is opened (plumbing.files.open_regular: not a folder, FIFO or device);
    * the size is checked against ``max_pixels`` and each side against :data:`MAX_SIDE` before
      decoding (decompression bombs; OpenCV's limit);
    * the file is decoded fully, so truncated or corrupt data raises here;
    * EXIF orientation is applied (the array is upright as a viewer shows it); a corrupt EXIF
      block is ignored with one warning naming the file;
    * 1-bit, grayscale, palette, CMYK (through its ICC profile when embedded) → RGB;
      16-bit grayscale is scaled 0…65535 → 0…255 (v / 257, rounded), not clipped;
      alpha is dropped (use :func:`read_image_with_alpha` to keep it); animations give frame 0.

    Raises :class:`ImageError` ("PATH: problem") for any unusable file.
    """
    return _read(Path(path), max_pixels)[0]


def read_photo(path: PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[np.ndarray, PhotoInfo]:
    """:func:`read_image` and the photo's :class:`PhotoInfo` (format, ICC profile, EXIF made ready
    for an output): what a program that writes a processed photo hands to ``write_image``."""
    rgb, _, info = _read(Path(path), max_pixels)
    return rgb, info


#: Formats whose decoder can scale while decoding (Pillow's ``Image.draft``: JPEG's DCT scaling).
_DRAFT_FORMATS = ("JPEG", "MPO")

#: EXIF orientations (tag 0x0112) that turn the image by 90°: width and height swap.
_QUARTER_TURNS = (5, 6, 7, 8)


def upright_size(im: Image.Image, path: PathLike) -> tuple[int, int]:
    """(width, height) of the opened image ``im`` (read from ``path``) once its EXIF orientation is
    applied, from the header alone (a corrupt EXIF block counts as none, with one warning)."""
    return (im.height, im.width) if orientation(parse_exif(im, path)) in _QUARTER_TURNS else im.size


def read_image_reduced(path: PathLike, long_side: int, *,
                       max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[np.ndarray, tuple[int, int]]:
    """Read an image as uint8 RGB H×W×3 decoded at a reduced size, and the (width, height) of the full image.

    JPEGs are decoded with Pillow's draft mode (``Image.draft``: the decoder scales the DCT blocks
    by 1/2, 1/4 or 1/8, several times faster than a full decode): the smallest scale whose longer
    side is still at least ``long_side`` pixels. Other formats, and JPEGs within ``long_side``, are
    decoded in full. Callers resize the result further to what they need. The full size is the
    upright one, as :func:`read_image` would return it.

    Everything else is :func:`read_image`'s: ``max_pixels`` applies to the full size before any
    decoding, the decode is complete (truncated data raises), EXIF orientation is applied, every
    mode is converted the same way, and any unusable file raises :class:`ImageError` ("PATH: problem").
    """
    if long_side < 1:
        raise ValueError(f"long_side must be at least 1, got {long_side}")
    path = Path(path)
    with open_image(path, max_pixels) as im:
        exif = parse_exif(im, path)
        full = (im.height, im.width) if orientation(exif) in _QUARTER_TURNS else im.size
        width, height = im.size
        if im.format in _DRAFT_FORMATS and max(width, height) > long_side:
            scale = long_side / max(width, height)
            im.draft(im.mode, (max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))))
        upright = _decode(im, path, exif)
        try:
            return _to_rgb_alpha(upright, path)[0], full
        finally:
            if upright is not im:
                upright.close()


def shrink_to(image: np.ndarray, long_side: int) -> np.ndarray:
    """``image`` area-averaged (OpenCV's INTER_AREA) to a longer side of ``long_side`` pixels, the
    other side rounded (at least 1); ``image`` itself when it is no larger. For the smaller copy a
    caller of :func:`read_image_reduced` needs."""
    h, w = image.shape[:2]
    scale = long_side / max(h, w)
    if scale >= 1:
        return image
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def read_exif(path: PathLike) -> Optional[Image.Exif]:
    """The EXIF of the image file ``path`` with its Exif and GPS blocks, from the header alone; None
    when it has none, when the block is corrupt (one warning names the file) or when the file is
    not a readable image (the reader of its pixels reports that)."""
    try:
        with open_image(Path(path), DEFAULT_MAX_PIXELS) as im:
            return parse_exif(im, path)
    except ImageError:
        return None


def read_focal_35mm(path: PathLike) -> Optional[float]:
    """The photo's 35 mm-equivalent focal length in mm (EXIF ``FocalLengthIn35mmFilm``, tag
    0xA405 of the Exif IFD), or None when the file has none (or no readable EXIF)."""
    return focal_35mm(read_exif(path))


def _shape_str(shape: tuple[int, ...]) -> str:
    return f"{shape[1]}×{shape[0]}"


#: Units a depth map can be in: metres, or relative (an arbitrary scale, e.g. the portrait prior).
DEPTH_UNITS = ("m", "relative")


def read_depth(path: PathLike, expected_shape: Optional[tuple[int, ...]] = None) -> np.ndarray:
    """Read a depth map as float32 H×W, larger = farther (:func:`read_depth_with_unit` without the unit)."""
    return read_depth_with_unit(path, expected_shape)[0]


def _load_npz_depth(path: Path) -> tuple[np.ndarray, str]:
    """An ``.npz`` of :func:`write_depth`: arrays ``depth`` and ``unit`` (one of DEPTH_UNITS)."""
    try:
        with _open_file(path) as f, np.load(f, allow_pickle=False) as z:
            if "depth" not in z.files or "unit" not in z.files:
                raise ImageError(path, f"depth .npz must hold arrays 'depth' and 'unit', found {sorted(z.files)}")
            depth, unit = z["depth"], str(z["unit"])
    except ImageError:
        raise
    except (*_ERRORS, zipfile.BadZipFile) as exc:
        raise ImageError(path, f"not a readable .npz archive ({exc})") from None
    if unit not in DEPTH_UNITS:
        raise ImageError(path, f"unknown depth unit {unit!r}; expected one of {list(DEPTH_UNITS)}")
    return depth, unit


def read_depth_with_unit(path: PathLike, expected_shape: Optional[tuple[int, ...]] = None) -> tuple[np.ndarray, str]:
    """Read a depth map as (float32 H×W, larger = farther; its unit, one of :data:`DEPTH_UNITS`).

    Formats:

    * ``.npz`` (as :func:`write_depth` writes it): the map with its unit, metres or relative;
    * ``.npy``: a 2-D (or H×W×1) numeric array, returned as float32 and taken as metres (a
      relative map is saved as ``.npz`` so that it is read back as relative);
    * ``.png`` / ``.tif``: a single-channel **16-bit** image in millimetres; returned in metres
      (value / :data:`DEPTH_PNG_SCALE`). 0 stays 0. 8-bit images are refused: 256 levels are too
      coarse and such files are often inverse-depth visualisations (bright = near).

    ``expected_shape`` (H, W) or an image shape (H, W, C): a depth map of another size raises
    ``ImageError("PATH: depth map 640×480 does not match image 512×512")`` (sizes as W×H).
    Non-finite values (NaN, inf) are refused, and so is a map in metres with a negative value or
    without a single positive one (0 is a pixel without a reading).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    unit = "m"
    if suffix in (".npy", ".npz"):
        if suffix == ".npz":
            depth, unit = _load_npz_depth(path)
        else:
            try:
                with _open_file(path) as f:
                    depth = np.load(f, allow_pickle=False)
            except ImageError:
                raise
            except _ERRORS as exc:
                raise ImageError(path, f"not a readable .npy array ({exc})") from None
        if depth.ndim == 3 and depth.shape[2] == 1:
            depth = depth[..., 0]
        if depth.ndim != 2:
            raise ImageError(path, f"depth map must be a 2-D array, got shape {depth.shape}")
        if not (np.issubdtype(depth.dtype, np.floating) or np.issubdtype(depth.dtype, np.integer)):
            raise ImageError(path, f"depth map must be numeric, got dtype {depth.dtype}")
        depth = depth.astype(np.float32)
    elif suffix in (".png", ".tif", ".tiff"):
        with _decoded(path, DEFAULT_MAX_PIXELS) as im:
            if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
                depth = np.asarray(im).astype(np.float32) / DEPTH_PNG_SCALE
            elif im.mode == "F":
                depth = np.asarray(im, dtype=np.float32).copy()
            elif im.mode in ("L", "P", "1"):
                raise ImageError(
                    path,
                    "8-bit depth map refused (256 levels; often inverse depth): save a float .npy "
                    "or a 16-bit PNG in millimetres",
                )
            else:
                raise ImageError(path, f"depth PNG must be single-channel 16-bit, got mode {im.mode}")
    else:
        raise ImageError(path, f"unknown depth format {path.suffix!r}: use .npz, .npy or a 16-bit .png")
    if not np.isfinite(depth).all():
        raise ImageError(path, "depth map contains NaN or infinite values")
    if expected_shape is not None and tuple(depth.shape) != tuple(expected_shape[:2]):
        raise ImageError(
            path, f"depth map {_shape_str(depth.shape)} does not match image {_shape_str(tuple(expected_shape))}"
        )
    if unit == "m" and depth.size and depth.min() < 0:
        raise ImageError(path, f"depth map has negative values (down to {depth.min():g} m): a depth map holds "
                               "distances in metres, larger = farther")
    if unit == "m" and depth.size and not (depth > 0).any():
        raise ImageError(path, "depth map has no positive value (every pixel is 0, which means no reading)")
    return np.ascontiguousarray(depth, dtype=np.float32), unit


def read_mask(path: PathLike, shape: Optional[tuple[int, ...]] = None) -> np.ndarray:
    """Read a mask file as float32 H×W in [0, 1] (1 = person).

    8-bit greyscale (the layout's format) is divided by 255, 16-bit by 65535, float images are
    clipped; colour or palette files are converted to grey first (alpha is ignored).
    ``shape`` (H, W) or an image shape (H, W, C): a mask of another size raises
    ``ImageError("PATH: mask is 64×48, its image is 640×480")`` (sizes as W×H).
    """
    path = Path(path)
    with _decoded(path, DEFAULT_MAX_PIXELS) as im:
        try:
            if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
                mask = np.asarray(im).astype(np.float32) / 65535.0
            elif im.mode == "F":
                mask = np.asarray(im, dtype=np.float32)
            else:
                mask = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
        except ValueError as exc:
            raise ImageError(path, f"unsupported mask mode {im.mode} ({exc})") from None
    if shape is not None and mask.shape != tuple(shape[:2]):
        raise ImageError(path, f"mask is {_shape_str(mask.shape)}, its image is {_shape_str(tuple(shape))}")
    return np.ascontiguousarray(np.clip(mask, 0.0, 1.0), dtype=np.float32)
