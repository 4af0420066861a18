"""Files a hostile or unlucky user leaves around, made for the tests: a killed writer's temporary,
an uncompressed AVI in either row order."""
from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_KILLED_WRITER = """
import os, sys, tempfile
from plumbing.files import temporary_affixes
prefix, suffix = temporary_affixes(sys.argv[1])
fd, name = tempfile.mkstemp(dir=os.path.dirname(sys.argv[1]), prefix=prefix, suffix=suffix)
os.write(fd, b"half a file")
print(name, flush=True)
os._exit(9)
"""


def killed_writers_temporary(target: Path) -> Path:
    """The temporary file that an atomic write of ``target`` leaves when its process dies mid-write:
    made by a child process (plumbing.files' own naming, the child's process id) that then exits."""
    run = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(target)], cwd=ROOT, capture_output=True,
                         text=True, env={"PYTHONPATH": str(ROOT), "PATH": ""}, check=False)
    assert run.returncode == 9, run.stderr
    return Path(run.stdout.strip())


def _chunk(fourcc: bytes, data: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(data)) + data + b"\0" * (len(data) % 2)


def uncompressed_avi(path: Path, width: int, height: int, frames: int = 5) -> None:
    """An AVI of uncompressed 24-bit frames (BI_RGB). A positive ``height`` is the usual bottom-up
    DIB layout (OpenCV 5.1's reader corrupts its heap on it); a negative one is top-down."""
    stride = (width * 3 + 3) // 4 * 4
    size = stride * abs(height)
    avih = struct.pack("<10I4I", 100_000, size * 10, 0, 0x10, frames, 0, 1, size, width, abs(height), 0, 0, 0, 0)
    strh = b"vids" + b"\0" * 4 + struct.pack("<IHHIIIIIIIIhhhh", 0, 0, 0, 0, 1, 10, 0, frames, size, 0xFFFFFFFF, 0,
                                             0, 0, width, abs(height))
    strf = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, size, 0, 0, 0, 0)
    strl = _chunk(b"LIST", b"strl" + _chunk(b"strh", strh) + _chunk(b"strf", strf))
    hdrl = _chunk(b"LIST", b"hdrl" + _chunk(b"avih", avih) + strl)
    movi = _chunk(b"LIST", b"movi" + b"".join(_chunk(b"00db", bytes((i * 7 + j) % 256 for j in range(size)))
                                              for i in range(frames)))
    body = b"AVI " + hdrl + movi
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
