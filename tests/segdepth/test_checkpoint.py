"""segdepth.checkpoint: the one module that writes and reads segdepth checkpoints — atomic
weights_only files with a format tag that every read checks, untagged ones read as version 1,
and a run folder's latest file."""
import logging

import pytest
import torch

from segdepth.checkpoint import (CHECKPOINT_FORMAT, WeightsError, latest_checkpoint, list_checkpoints,
                                 load_checkpoint, save_checkpoint)
from segdepth.segment import build_segmenter, get_arch
from segdepth.segment.torch_segmenter import build_network
from segdepth.train import SegTrainConfig, fit

TINY_UNET = {"base": 4, "depth": 2}


def unet_checkpoint() -> dict:
    net, kwargs = build_network("unet", get_arch("unet"), "none", **TINY_UNET)
    return {"arch": "unet", "arch_kwargs": kwargs, "model": net.state_dict()}


def test_save_writes_the_format_tag_atomically_and_load_reads_it_back(tmp_path):
    ckpt = unet_checkpoint()
    path = tmp_path / "run" / "checkpoints" / "last.pt"
    save_checkpoint(path, ckpt)
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temporary file left
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == CHECKPOINT_FORMAT == "shallowdof.segdepth.train/1"
    back = load_checkpoint(path)
    assert back["arch"] == "unet" and back["arch_kwargs"] == TINY_UNET
    assert all(torch.equal(back["model"][k], v) for k, v in ckpt["model"].items())


def test_untagged_checkpoints_are_read_as_version_1_with_a_note(tmp_path, caplog):
    ckpt = unet_checkpoint()
    torch.save(ckpt, tmp_path / "old.pt")
    torch.save(ckpt["model"], tmp_path / "bare.pt")
    with caplog.at_level(logging.INFO, logger="plumbing.checkpoint"):
        assert load_checkpoint(tmp_path / "old.pt")["arch"] == "unet"
        assert set(load_checkpoint(tmp_path / "bare.pt")) == {"model"}
    notes = [r.getMessage() for r in caplog.records]
    assert any("old.pt: no format tag; read as shallowdof.segdepth.train/1" in n for n in notes)
    assert any("bare.pt: no format tag" in n for n in notes)
    assert build_segmenter("unet", weights=str(tmp_path / "old.pt"), input_size=32).postprocess is None


def test_files_with_the_earlier_tag_spelling_still_load(tmp_path):
    path = tmp_path / "earlier.pt"
    torch.save({**unet_checkpoint(), "format": "shallowdof-segdepth/1"}, path)
    assert load_checkpoint(path)["arch"] == "unet"
    assert build_segmenter("unet", weights=str(path), input_size=32).postprocess is None


@pytest.mark.parametrize("tag, says", [
    ("shallowdof-segdepth/2", "checkpoint format 'shallowdof-segdepth/2' is not one this version of shallowdof reads"),
    ("shallowdof-segdepth/x", "checkpoint format 'shallowdof-segdepth/x' is not one"),
    ("shallowdof.cyclegan.train/1", "not a segdepth checkpoint (format 'shallowdof.cyclegan.train/1'"),
    (3, "not a segdepth checkpoint (format 3"),
])
def test_an_unknown_format_is_one_clear_line_everywhere_a_checkpoint_is_read(tmp_path, tag, says):
    path = tmp_path / "future.pt"
    torch.save({**unet_checkpoint(), "format": tag}, path)
    for read in (lambda: load_checkpoint(path), lambda: build_segmenter("unet", weights=str(path))):
        with pytest.raises(WeightsError) as info:
            read()
        message = str(info.value)
        assert message.startswith(f"{path}: ") and says in message and "\n" not in message


def test_a_run_folder_resolves_to_its_latest_checkpoint(tmp_path):
    run = tmp_path / "run"
    assert latest_checkpoint(run) is None and list_checkpoints(run) == []
    cfg = SegTrainConfig(run_dir=str(run), model="unet", weights="none", arch_kwargs=TINY_UNET,
                         data={"n": 4, "shape": [32, 32], "seed": 0}, buckets=[[32, 32]], epochs=1,
                         batch_size=2, quiet=True)
    fit(cfg)
    assert latest_checkpoint(run) == run / "checkpoints" / "last.pt"
    assert list_checkpoints(run) == [run / "checkpoints" / "best.pt", run / "checkpoints" / "last.pt"]
    # resuming reads through the same checks: a checkpoint of an unknown version is refused by name
    last = torch.load(latest_checkpoint(run), weights_only=True)
    torch.save({**last, "format": "shallowdof-segdepth/9"}, run / "checkpoints" / "last.pt")
    cfg.epochs = 2
    with pytest.raises(WeightsError, match="last.pt: checkpoint format 'shallowdof-segdepth/9'"):
        fit(cfg, resume=True)
