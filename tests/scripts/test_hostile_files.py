"""Hostile files in the middle of a batch, run as a user runs the programs (a subprocess: a native
crash would end the process, not raise): what OpenCV cannot take (a side of 32,767 px or more, a
bottom-up uncompressed AVI), special files (a FIFO, a link to /dev/zero, a symbolic link loop), a
newline in a name, a corrupt EXIF block. Each is one line, and the rest of the batch is done."""
from __future__ import annotations

import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datasets import io
from datasets.synthetic import make_scene
from plumbing.outputs import RECORD_NAME
from tests.support.files import uncompressed_avi

ROOT = Path(__file__).resolve().parents[2]
H, W = 64, 80


def _run(program: str, *args, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / f"{program}.py"), *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def _scene(path: Path, seed: int = 3) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    io.write_image(path, make_scene(seed, size=(H, W), render_dof=False).image)
    return path


def _wide(path: Path) -> Path:
    """0.4 megapixels, but a side of 40,000: MediaPipe's OpenCV aborts the process on it."""
    Image.new("RGB", (40_000, 10), (90, 120, 150)).save(path)
    return path


def _lines_naming(stderr: str, path: Path) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(f"{path}:")]


def _corrupt_exif_jpeg(path: Path) -> Path:
    """A JPEG whose EXIF block points past its end (Pillow warns, anonymously, on reading it)."""
    ifd = (struct.pack("<H", 2) + struct.pack("<HHII", 0x010F, 2, 40, 5000)
           + struct.pack("<HHI", 0x0112, 3, 1) + struct.pack("<HH", 6, 0) + struct.pack("<I", 0))
    Image.fromarray(make_scene(5, size=(H, W), render_dof=False).image).save(
        path, exif=b"Exif\0\0II*\0" + struct.pack("<I", 8) + ifd)
    return path


def test_blur_names_each_hostile_file_on_one_line_and_renders_the_rest(tmp_path):
    src = tmp_path / "in"
    _scene(src / "a_good.png", 3)
    _wide(src / "b_wide.png")
    (src / "c_loop.jpg").symlink_to("c_loop.jpg")
    os.mkfifo(src / "d_pipe.png")
    (src / "e_zero.png").symlink_to("/dev/zero")
    newline = src / "f_new\nline.png"
    newline.write_text("not an image")
    exif = _corrupt_exif_jpeg(src / "g_exif.jpg")
    _scene(src / "z_good.png", 4)
    r = _run("blur", src, "--method", "gaussian", "--out", tmp_path / "out", "--quiet", timeout=180)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.strip().splitlines()[-1] == "3 done, 5 failed", r.stderr
    expected = {"b_wide.png": "32,766", "c_loop.jpg": "symbolic link loop", "d_pipe.png": "FIFO",
                "e_zero.png": "device", "f_new\\nline.png": "not an image"}
    for name, words in expected.items():
        hits = [line for line in r.stderr.splitlines() if line.startswith(f"{src}/{name}:")]
        assert len(hits) == 1 and words in hits[0], (name, r.stderr)
    exif_lines = _lines_naming(r.stderr, exif)
    assert len(exif_lines) == 1 and "corrupt EXIF data ignored" in exif_lines[0], r.stderr
    assert "UserWarning" not in r.stderr and "warnings.warn" not in r.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.name != RECORD_NAME) == [
        "a_good_gaussian.png", "blur_gaussian_config.json", "g_exif_gaussian.jpg", "z_good_gaussian.png"]


def test_prepare_masks_goes_on_past_a_side_opencv_cannot_take(tmp_path):
    root = tmp_path / "photos"
    _scene(root / "a.png", 3)
    _wide(root / "b_wide.png")
    _scene(root / "c.png", 4)
    r = _run("prepare_masks", root, "--quiet", timeout=180)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    lines = _lines_naming(r.stderr.replace("ERROR segdepth.masks: ", ""), root / "b_wide.png")
    assert len(lines) == 1 and "32,766" in lines[0], r.stderr
    assert sorted(p.name for p in (tmp_path / "photos_masks").glob("*.png")) == ["a.png", "c.png"]


def test_compare_goes_on_past_a_side_opencv_cannot_take(tmp_path):
    photos = tmp_path / "photos"
    _scene(photos / "a.png", 3)
    _wide(photos / "b_wide.png")
    _scene(photos / "c.png", 4)
    r = _run("compare", "--input", photos, "--out", tmp_path / "cmp", "--methods", "gaussian", "--fid-weights",
             "off", "--quiet", timeout=300)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert "1 bad image(s)" in r.stdout and "32,766" in r.stderr, (r.stdout, r.stderr)
    assert sorted(p.name for p in (tmp_path / "cmp" / "results" / "gaussian").iterdir()) == ["a.png", "c.png"]


def test_webcam_refuses_a_bottom_up_uncompressed_avi_before_opencv_reads_it(tmp_path):
    video = tmp_path / "raw.avi"
    uncompressed_avi(video, 64, 48)
    r = _run("webcam", "--input", video, "--output", tmp_path / "out.mp4", "--quiet", timeout=120)
    assert r.returncode == 1, (r.returncode, r.stderr)  # an error line, not killed by a signal
    lines = [line for line in r.stderr.splitlines() if str(video) in line]
    assert len(lines) == 1 and "bottom-up" in lines[0], r.stderr
    assert not (tmp_path / "out.mp4").exists()


def test_curate_is_not_blocked_by_a_fifo_or_a_link_to_dev_zero_in_raw(tmp_path):
    raw = tmp_path / "scrape" / "raw"
    for domain, seeds in (("ordinary", (3, 4, 5)), ("shallow", (6, 7, 8))):
        for seed in seeds:
            _scene(raw / domain / f"p{seed}.png", seed)
    os.mkfifo(raw / "ordinary" / "pipe.jpg")
    (raw / "shallow" / "zero.jpg").symlink_to("/dev/zero")
    start = time.monotonic()
    r = _run("curate", "--raw", tmp_path / "scrape", "--out", tmp_path / "data", "--min-side", "32",
             "--min-person-fraction", "0", "--test-size-a", "1", "--test-size-b", "1", "--quiet", timeout=120)
    assert time.monotonic() - start < 100
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    unreadable = tmp_path / "data" / "quarantine" / "unreadable"
    assert (unreadable / "ordinary" / "pipe.jpg").is_fifo()
    assert (unreadable / "shallow" / "zero.jpg").is_symlink()
    rejects = (tmp_path / "data" / "rejects.csv").read_text()
    assert "FIFO" in rejects and "device" in rejects


def test_a_native_crash_on_the_first_frames_is_one_line_not_the_end_of_the_program(tmp_path):
    """The second guard of video files: what the header check does not know is decoded in a child
    process first, so a crash there is reported (here the bottom-up AVI, read past the first guard)."""
    from compositing.video_check import probe_decode

    uncompressed_avi(tmp_path / "bottom_up.avi", 32, 24)
    uncompressed_avi(tmp_path / "top_down.avi", 32, -24)
    assert "crashed on this file (SIG" in probe_decode(tmp_path / "bottom_up.avi")
    assert probe_decode(tmp_path / "top_down.avi") is None


def test_two_blur_runs_into_one_folder_at_once_both_finish(tmp_path):
    """Each run removes only temporaries whose writer is gone: the other run's, still being
    written, are left alone (before, a second run's clean-up deleted the first's in-flight file)."""
    out = tmp_path / "out"
    runs = []
    for name in ("first", "second"):
        for i in range(4):
            _scene(tmp_path / name / f"{name}{i}.png", 10 * len(name) + i)
    for name in ("first", "second"):
        runs.append(subprocess.Popen([sys.executable, str(ROOT / "scripts" / "blur.py"), str(tmp_path / name),
                                      "--method", "gaussian", "--out", str(out), "--quiet"], cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = [run.communicate(timeout=300) for run in runs]
    for run, (_, err) in zip(runs, results):
        assert run.returncode == 0 and "Traceback" not in err, err
        assert err.strip().splitlines()[-1] == "4 done, 0 failed", err
    names = sorted(p.name for p in out.iterdir() if p.name != RECORD_NAME)
    assert names == sorted(["blur_gaussian_config.json"] + [f"{n}{i}_gaussian.png" for n in ("first", "second")
                                                            for i in range(4)])


def test_a_live_writers_temporary_survives_another_runs_clean_up(tmp_path):
    from plumbing.files import remove_stale_temporaries

    writer = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom plumbing.files import atomic_path\n"
        "with atomic_path(sys.argv[1]) as tmp:\n    tmp.write_bytes(b'half')\n    print(tmp, flush=True)\n"
        "    time.sleep(60)\n"), str(tmp_path / "slow_lens.png")], cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        tmp = Path(writer.stdout.readline().strip())
        assert tmp.exists()
        assert remove_stale_temporaries(tmp_path) == 0 and tmp.exists()  # its writer still runs
    finally:
        writer.kill()
        writer.wait()
    assert remove_stale_temporaries(tmp_path) == 1 and not tmp.exists()  # now it is gone


@pytest.mark.parametrize("stem_bytes", [221, 241])
def test_a_long_input_name_gets_its_output_whatever_the_temporarys_name(tmp_path, stem_bytes):
    """A 225- or 245-byte input name: the output's name (9 bytes longer) fits the 255-byte limit;
    the temporary it is written through must fit too (before, it added 18 bytes: Errno 36)."""
    from compositing.cli import blur

    _scene(tmp_path / "in" / ("p" * stem_bytes + ".png"))
    cfg = blur.BlurConfig(inputs=[str(tmp_path / "in")], method="gaussian", out=str(tmp_path / "out"), quiet=True)
    assert blur.run(cfg) == (1, 0)
    output = tmp_path / "out" / ("p" * stem_bytes + "_gaussian.png")
    assert np.asarray(Image.open(output)).shape == (H, W, 3)
