"""The GAN real-photo benchmark on a tiny synthetic folder laid out like the real portraits
(CI has no real photos): it trains, translates with test_cyclegan, scores beside the published
column and writes the tables and the crop sheet; a rerun continues the run."""
import math

import cv2

from bench import bench_gan_realphotos as G
from bench import bench_realphotos as R
from tests.bench.test_realphotos import _folder


def test_trains_translates_and_scores_beside_the_published_outputs(tmp_path):
    folder = _folder(tmp_path / "photos", n=2)
    (folder / "paper_results" / "blurry").rename(folder / "paper_results" / "mask_loss_overlay")
    out = tmp_path / "out"
    summaries, bad, trained = G.run_recipes(folder, out, ["tiny"], steps=3,
                                            scorings={"folder": R.folder_masker(folder)})
    assert bad == 0 and trained["tiny"][0] == 3 and trained["tiny"][1] > 0
    summary = summaries["folder"]
    assert set(summary) == {"gan:tiny", "paper:mask_loss_overlay"}
    for column in summary.values():
        assert all(math.isfinite(column[k]) for k in ("rim2", "edge_in", "checkerboard", "bg_grey", *R.BANDS))
    # the published column is the input blurred with σ 2 px (at 128 px): its finest bands are gone
    assert summary["paper:mask_loss_overlay"]["band0-1"] < 0.05 < summary["paper:mask_loss_overlay"]["band4-8"]
    for i in range(2):  # test_cyclegan's outputs, at the inputs' size
        assert cv2.imread(str(out / "translated" / "tiny" / f"{i}.png")).shape == (128, 128, 3)
    table = (out / "table.md").read_text(encoding="utf-8")
    assert table.startswith("- `gan:tiny`: a tiny network for the smoke test, preset mask_loss_overlay; 3 steps")
    assert "| gan:tiny |" in table and "| paper:mask_loss_overlay |" in table
    assert "shallow/ ÷ ordinary/ (unpaired medians: a guide)" in table and "| 2-4 px |" in table
    sheet = cv2.imread(str(out / "look.png"))
    cell = 2 * round(0.375 * 128)  # bench/look.py: a crop is 3/8 of the short side, shown at 2x
    assert sheet.shape[1] == 2 * 4 * cell  # heads, then backgrounds: input, gan:tiny, paper, a real shallow photo
    # a rerun with more steps continues the same run
    _, _, again = G.run_recipes(folder, out, ["tiny"], steps=5, scorings={"folder": R.folder_masker(folder)})
    assert again["tiny"][0] == 5 and (out / "runs" / "tiny" / "checkpoints" / "ckpt_00000005.pt").is_file()


def test_skips_with_a_message_without_the_folder(tmp_path):
    assert "Skipped: no folder given" in G.run(quick=True)
    assert "Skipped: " in (text := G.run(quick=True, folder=tmp_path / "nothing")) and "no such folder" in text
