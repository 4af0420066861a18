"""A phone photo's own data, made for the tests: a Display P3 ICC profile and camera EXIF with an
orientation and an embedded thumbnail, and the check that an output kept what it should.

The profile is built here from its published numbers (ICC.1:2010 layout, version 4.3): the
Display P3 primaries adapted to the D50 connection space and the sRGB tone curve, as the
profile in Apple's photos has them. The EXIF block is written by hand (TIFF layout) because
Pillow does not write the thumbnail directory (IFD1) a camera writes.
"""
from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageCms, JpegImagePlugin

#: Display P3 (D65 primaries, Bradford-adapted to D50) and the sRGB parametric curve.
_P3_XYZ = {b"rXYZ": (0.5151, 0.2412, -0.0011), b"gXYZ": (0.2920, 0.6922, 0.0419), b"bXYZ": (0.1571, 0.0666, 0.7841)}
_D50 = (0.9642, 1.0, 0.8249)
_SRGB_CURVE = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)

CAMERA = {"make": "Apple", "model": "iPhone 15 Pro", "taken": "2024:05:06 07:08:09", "focal_35mm": 24}


def _s15(x: float) -> bytes:
    return struct.pack(">i", round(x * 65536))


def _mluc(text: str) -> bytes:
    utf16 = text.encode("utf-16-be")
    return b"mluc\0\0\0\0" + struct.pack(">II2s2sII", 1, 12, b"en", b"US", len(utf16), 28) + utf16


def display_p3_profile() -> bytes:
    """The bytes of a Display P3 ICC profile (see the module docstring)."""
    tags = [(b"desc", _mluc("Display P3")), (b"cprt", _mluc("No copyright, use freely")),
            (b"wtpt", b"XYZ \0\0\0\0" + b"".join(map(_s15, _D50)))]
    tags += [(sig, b"XYZ \0\0\0\0" + b"".join(map(_s15, xyz))) for sig, xyz in _P3_XYZ.items()]
    curve = b"para\0\0\0\0" + struct.pack(">HH", 3, 0) + b"".join(map(_s15, _SRGB_CURVE))
    tags += [(sig, curve) for sig in (b"rTRC", b"gTRC", b"bTRC")]
    table, data = b"", b""
    offset = 128 + 4 + 12 * len(tags)
    for sig, body in tags:
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body + b"\0" * (-len(body) % 4)
    size = offset + len(data)
    header = (struct.pack(">I", size) + b"\0" * 4 + struct.pack(">I", 0x04300000) + b"mntrRGB XYZ " + b"\0" * 12
              + b"acsp" + b"\0" * 24 + struct.pack(">I", 0) + b"".join(map(_s15, _D50)) + b"\0" * 48)
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data


def _ifd(entries: list[tuple[int, int, int, bytes]], start: int, next_ifd: int) -> bytes:
    """One little-endian TIFF directory at file offset ``start``: (tag, type, count, value bytes);
    values longer than 4 bytes go after the directory."""
    head = struct.pack("<H", len(entries))
    data_at = start + 2 + 12 * len(entries) + 4
    data = b""
    for tag, kind, count, value in entries:
        if len(value) <= 4:
            head += struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\0")
        else:
            head += struct.pack("<HHII", tag, kind, count, data_at + len(data))
            data += value + b"\0" * (len(value) % 2)
    return head + struct.pack("<I", next_ifd) + data


def _ascii(tag: int, text: str) -> tuple[int, int, int, bytes]:
    raw = text.encode("ascii") + b"\0"
    return tag, 2, len(raw), raw


def camera_exif(stored_size: tuple[int, int], orientation: int, thumbnail: bytes) -> bytes:
    """A camera's EXIF block (with its ``Exif\\0\\0`` header) for a photo stored ``stored_size``
    (width, height): make, model, orientation, date taken, 35 mm focal length, pixel size, and a
    JPEG ``thumbnail`` in IFD1."""
    def layout(exif_at: int, ifd1_at: int, thumb_at: int) -> list[bytes]:
        ifd0 = [_ascii(0x010F, CAMERA["make"]), _ascii(0x0110, CAMERA["model"]),
                (0x0112, 3, 1, struct.pack("<H", orientation)), (0x8769, 4, 1, struct.pack("<I", exif_at))]
        sub = [_ascii(0x9003, CAMERA["taken"]), (0xA002, 4, 1, struct.pack("<I", stored_size[0])),
               (0xA003, 4, 1, struct.pack("<I", stored_size[1])), (0xA405, 3, 1, struct.pack("<H", CAMERA["focal_35mm"]))]
        ifd1 = [(0x0201, 4, 1, struct.pack("<I", thumb_at)), (0x0202, 4, 1, struct.pack("<I", len(thumbnail)))]
        parts = [b"II*\0" + struct.pack("<I", 8)]
        parts.append(_ifd(ifd0, 8, ifd1_at))
        parts.append(_ifd(sub, exif_at, 0))
        parts.append(_ifd(ifd1, ifd1_at, 0))
        return parts

    first = layout(0, 0, 0)  # sizes do not depend on the offsets
    exif_at = 8 + len(first[1])
    ifd1_at = exif_at + len(first[2])
    thumb_at = ifd1_at + len(first[3])
    return b"Exif\0\0" + b"".join(layout(exif_at, ifd1_at, thumb_at)) + thumbnail


def thumbnail_jpeg() -> bytes:
    """A small, recognisable JPEG (the camera's preview)."""
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (250, 10, 200)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def save_phone_photo(path: Path, pixels: np.ndarray, orientation: int = 6) -> None:
    """``pixels`` (uint8 RGB as stored) as a phone would save them: JPEG 4:2:0 with the Display P3
    profile and camera EXIF (``orientation``, a thumbnail in IFD1)."""
    h, w = pixels.shape[:2]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, "JPEG", quality=92, subsampling=2, icc_profile=display_p3_profile(),
                                 exif=camera_exif((w, h), orientation, thumbnail_jpeg()))


def assert_keeps_photo_metadata(output: Path, upright: tuple[int, int], jpeg: bool = True) -> None:
    """``output`` carries the phone photo's profile and EXIF: the same ICC bytes, make, model, date
    and focal length, orientation 1 with the ``upright`` (width, height) pixel size, and no thumbnail."""
    data = output.read_bytes()
    assert thumbnail_jpeg() not in data, f"{output}: the camera's thumbnail was copied"
    with Image.open(output) as im:
        assert im.format == ("JPEG" if jpeg else "PNG"), (output, im.format)
        assert im.size == upright, (output, im.size, upright)
        assert im.info.get("icc_profile") == display_p3_profile(), f"{output}: the Display P3 profile is lost"
        assert ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(im.info["icc_profile"]))).strip() \
            == "Display P3"
        exif = im.getexif()
        assert (exif.get(0x010F), exif.get(0x0110), exif.get(0x0112)) == (CAMERA["make"], CAMERA["model"], 1), dict(exif)
        sub = exif.get_ifd(ExifTags.IFD.Exif)
        assert sub.get(0x9003) == CAMERA["taken"] and sub.get(0xA405) == CAMERA["focal_35mm"], sub
        assert (sub.get(0xA002), sub.get(0xA003)) == upright
        assert not exif.get_ifd(ExifTags.IFD.IFD1), f"{output}: a thumbnail directory is left"
        if jpeg:
            assert JpegImagePlugin.get_sampling(im) == 2  # the input's 4:2:0, at quality 95
