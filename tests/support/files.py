"""Files a hostile or unlucky user leaves around, made for the tests: a killed writer's temporary."""
from __future__ import annotations

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
