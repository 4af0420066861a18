"""The real-photo benchmark on a tiny folder laid out like the team's real portraits."""
import math
from pathlib import Path

import cv2
import numpy as np

from bench import bench_realphotos as B
from datasets.io import write_image
from datasets.synthetic import make_scene


def _folder(root: Path, n: int = 2) -> Path:
    for i in range(n):
        scene = make_scene(seed=i, size=(128, 128))
        mask = (scene.mask >= 0.5).astype(np.uint8) * 255
        write_image(root / "ordinary" / f"{i}.png", scene.image)
        write_image(root / "ordinary_masks" / f"{i}.png", mask)
        write_image(root / "shallow" / f"r{i}.png", scene.dof)
        write_image(root / "shallow_masks" / f"r{i}.png", mask)
        write_image(root / "paper_results" / "blurry" / f"{i}.png", cv2.GaussianBlur(scene.image, (0, 0), 2.0))
    return root


def test_real_photo_benchmark_scores_methods_and_published_results(tmp_path):
    folder = _folder(tmp_path / "photos")
    out = tmp_path / "out"

    def renderer(variant: B.Variant, image: np.ndarray) -> np.ndarray:  # no segmenter needed
        return image.copy() if variant.name == "identity" else cv2.GaussianBlur(image, (0, 0), 1.0)

    def no_person(sub: str, path: Path, image: np.ndarray) -> np.ndarray:
        return np.zeros(image.shape[:2], np.float32)

    summaries, bad = B.run_folder(folder, out, [B.Variant("identity", "box"), B.Variant("blur", "box")],
                                  renderer=renderer, crop_columns=["identity", "paper:blurry"],
                                  scorings={"folder": B.folder_masker(folder), "none": no_person})
    summary = summaries["folder"]
    assert bad == 0 and set(summary) == {"identity", "blur", "paper:blurry"}
    assert summary["identity"]["rim2"] == 1.0 and summary["identity"]["subject_psnr"] == float("inf")
    assert summary["identity"]["bg_grey"] == 0.0 and summary["identity"]["edge_in"] == 1.0
    # the references are the synthetic shallow-DoF renders: blurring moves the inputs towards them
    assert summary["identity"]["gap"] > summary["blur"]["gap"]
    assert summary["paper:blurry"]["subject_psnr"] < 40  # the whole frame blurred
    assert 0.0 < summary["blur"]["w1_p"] <= 1.0
    # each scoring on its own masks: without a person there is no ring and no subject
    assert math.isnan(summaries["none"]["identity"]["rim2"]) and math.isnan(summaries["none"]["blur"]["subject_psnr"])
    assert summaries["none"]["identity"]["seconds"] == summary["identity"]["seconds"]  # one render, timed once
    table = (out / "table.md").read_text(encoding="utf-8")
    assert "| paper:blurry |" in table and "rim2 (≤ 1.3)" in table
    assert "Scored with the folder's DeepLab masks" in table and "Scored with none" in table
    assert table.count("Resolution at this size: two samples of 2 drawn from the reference") == 2
    assert (out / "scores" / "none" / "metrics.csv").is_file() and (out / "scores" / "folder" / "metrics.csv").is_file()
    assert (out / "gallery" / "index.html").is_file() and (out / "results" / "paper_blurry" / "0.png").is_file()
    # the look sheet: per photo its head and background at 2× (a square of 3/8 of 128 px, 48 → 96),
    # as input, the two columns and the most alike reference photo
    sheet = cv2.imread(str(out / "look.png"))
    assert sheet.shape[1] == 2 * 4 * 96 and sheet.shape[0] == 18 + 2 * (96 + 14)
    # defocus: blurring moves the outputs' far background to a larger radius; no noise added
    assert summary["blur"]["defocus"] > summary["identity"]["defocus"]
    assert summary["identity"]["flat_noise"] == 1.0 and summary["blur"]["flat_noise"] < 1.0


def test_real_photo_benchmark_skips_without_a_folder(tmp_path):
    assert "Skipped: no folder given" in B.run(quick=True)
    assert "missing sub-folder(s) ordinary" in B.run(quick=True, folder=str(tmp_path), out=str(tmp_path / "o"))


def test_bad_photos_and_mismatched_masks_are_counted_named_and_skipped(tmp_path, caplog):
    folder = _folder(tmp_path / "photos", n=3)
    (folder / "ordinary" / "1.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")  # a broken download
    write_image(folder / "ordinary_masks" / "2.png", np.zeros((64, 64), np.uint8))  # mask of another size
    out = tmp_path / "out"

    def renderer(variant: B.Variant, image: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(image, (0, 0), 1.0)

    with caplog.at_level("ERROR"):
        summaries, bad = B.run_folder(folder, out, [B.Variant("blur", "box")], renderer=renderer)
    assert bad == 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 2
    assert any("1.png" in e for e in errors) and any("2.png" in e and "64×64" in e for e in errors)
    # the good photo is scored and written; nothing of the bad ones
    assert summaries["folder"]["blur"]["rim2"] > 0
    assert (out / "results" / "blur" / "0.png").is_file()
    assert not (out / "results" / "blur" / "1.png").exists() and not (out / "results" / "blur" / "2.png").exists()
    assert "1 portraits" in (out / "table.md").read_text(encoding="utf-8")
