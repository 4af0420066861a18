"""What OpenCV's video reader cannot take, found before it reads a frame.

OpenCV decodes videos in native code (FFmpeg inside opencv-python); a file it mishandles does not
raise an error, it corrupts the memory of the process and kills it: an uncompressed AVI stored
bottom-up (the usual DIB layout, a positive frame height) makes OpenCV 5.1 copy every frame with
a negative row stride and corrupt its heap. :func:`check_video` therefore looks at a video file in
two steps before the program opens it, and refuses it with one ``PATH: problem`` line:

1. the container, from its header (parsed here, not by OpenCV): a known video container, and for
   AVI each video stream's frame format: an uncompressed bottom-up frame, a frame of no pixels or
   with a side above ``datasets.io.MAX_SIDE`` is refused;
2. the first frames, decoded by OpenCV in a child process (:func:`probe_decode`): a crash there
   ends the child, and this process reports it.
"""
from __future__ import annotations

import signal
import struct
import subprocess
import sys
from pathlib import Path
from typing import BinaryIO, Optional

from datasets.io import check_side
from plumbing.files import FileProblem, open_regular

#: Containers OpenCV reads, by their first bytes (offset, magic).
_CONTAINERS = (
    ("AVI", 0, b"RIFF"), ("Matroska/WebM", 0, b"\x1a\x45\xdf\xa3"), ("MPEG program stream", 0, b"\x00\x00\x01\xba"),
    ("MPEG video", 0, b"\x00\x00\x01\xb3"), ("FLV", 0, b"FLV"), ("Ogg", 0, b"OggS"),
    ("ASF/WMV", 0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"), ("GIF", 0, b"GIF8"),
) + tuple(("MP4/QuickTime", 4, box) for box in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"))
#: Uncompressed frame formats of an AVI stream (BITMAPINFOHEADER biCompression / FourCC).
_UNCOMPRESSED = (0, 3, int.from_bytes(b"DIB ", "little"), int.from_bytes(b"RGB ", "little"),
                 int.from_bytes(b"RAW ", "little"))
#: How much of an AVI's header list is read (stream headers are a few hundred bytes each).
_HEADER_LIMIT = 1 << 20
#: Frames the child process decodes, and how long it may take.
PROBE_FRAMES, PROBE_TIMEOUT_S = 3, 120.0

_PROBE = """
import sys
import cv2
cap = cv2.VideoCapture(sys.argv[1])
n = 0
while cap.isOpened() and n < int(sys.argv[2]):
    ok, frame = cap.read()
    if not ok:
        break
    n += 1
print(n)
"""


def _container(head: bytes) -> Optional[str]:
    for name, offset, magic in _CONTAINERS:
        if head[offset:offset + len(magic)] == magic:
            return name
    if len(head) > 188 and head[0] == head[188] == 0x47:
        return "MPEG transport stream"
    return None


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The RIFF chunks of ``data`` as (FourCC, body); a LIST's body starts with its type."""
    found, pos = [], 0
    while pos + 8 <= len(data):
        fourcc, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        found.append((fourcc, data[pos + 8:pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return found


def _avi_problem(f: BinaryIO) -> Optional[str]:
    """Why the AVI in ``f`` is unsafe for OpenCV (see the module docstring), or None."""
    f.seek(12)
    head = f.read(12)
    if len(head) < 12 or head[:4] != b"LIST" or head[8:12] != b"hdrl":
        return "an AVI without its header list (hdrl): corrupt or truncated"
    size = struct.unpack_from("<I", head, 4)[0]
    hdrl = f.read(min(size - 4, _HEADER_LIMIT))
    for fourcc, body in _chunks(hdrl):
        if fourcc != b"LIST" or body[:4] != b"strl":
            continue
        parts = dict(_chunks(body[4:]))
        strh, strf = parts.get(b"strh", b""), parts.get(b"strf", b"")
        if strh[:4] != b"vids" or len(strf) < 20:
            continue
        width, height, _, bits, compression = struct.unpack_from("<iiHHI", strf, 4)
        if width <= 0 or height == 0:
            return f"an AVI video stream of {width}×{height} pixels"
        side = check_side(width, abs(height))
        if side:
            return side
        if compression in _UNCOMPRESSED and height > 0:
            return (f"an uncompressed bottom-up AVI ({bits}-bit frames): OpenCV's reader corrupts its memory "
                    "on these; convert it first (e.g. ffmpeg -i IN.avi -c:v libx264 OUT.mp4)")
    return None


def container_problem(path: Path) -> Optional[str]:
    """Why the header of the video file ``path`` is unsafe for OpenCV, or None (step 1 above);
    raises FileProblem when ``path`` is not a regular non-empty file."""
    with open_regular(path) as f:
        head = f.read(512)
        if not head:
            return "empty file (0 bytes)"
        kind = _container(head)
        if kind is None:
            return ("not a video container OpenCV reads (AVI, MP4/MOV, MKV/WebM, MPEG, FLV, Ogg, ASF); "
                    "unknown or corrupt")
        return _avi_problem(f) if kind == "AVI" and head[8:12] == b"AVI " else None


def probe_decode(path: Path, frames: int = PROBE_FRAMES, timeout_s: float = PROBE_TIMEOUT_S) -> Optional[str]:
    """Why OpenCV cannot decode the first ``frames`` frames of ``path``, or None: they are decoded
    in a child process, so that a crash in native code ends the child instead of this program."""
    try:
        run = subprocess.run([sys.executable, "-c", _PROBE, str(path), str(frames)], capture_output=True,
                             text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return f"OpenCV's video reader did not decode the first {frames} frames within {timeout_s:g} s"
    if run.returncode < 0:
        try:
            name = signal.Signals(-run.returncode).name
        except ValueError:
            name = f"signal {-run.returncode}"
        return f"OpenCV's video reader crashed on this file ({name}); convert it first (e.g. with ffmpeg)"
    return None  # decoded, or a Python error in the child that the real open reports


def check_video(path: Path) -> None:
    """:class:`FileProblem` (a ValueError, ``PATH: problem``) when OpenCV should not be given the
    video file ``path``: not a regular file, an unsafe container (step 1), or a crash on its first
    frames (step 2)."""
    problem = container_problem(path) or probe_decode(path)
    if problem:
        raise FileProblem(path, problem)
