"""gan.checkpoint: the one module that writes and reads CycleGAN checkpoints, for training and
inference alike: a format tag written on every save and checked on every read, one error class,
a run folder's checkpoints and its latest."""
from __future__ import annotations

import pytest
import torch

import gan.infer
import gan.train
from gan import checkpoint as C
from gan.infer import Translator
from gan.model import CycleGANModel, config_from_preset
from tests.support.files import killed_writers_temporary

TINY = dict(netG="resnet", n_blocks=1, ngf=4, ndf=4, n_layers_D=2, vgg_weights="none")


@pytest.fixture(scope="module")
def model() -> CycleGANModel:
    torch.manual_seed(0)
    return CycleGANModel(config_from_preset("cyclegan", **TINY))


def _state(model: CycleGANModel) -> dict:
    return {"config": {"model": model.cfg.to_dict(), "train": {"load_size": 36, "crop_size": 32}},
            "model": model.state_dict()}


def test_one_error_class_for_training_and_inference():
    assert gan.train.CheckpointError is gan.infer.CheckpointError is C.CheckpointError
    assert issubclass(C.CheckpointError, ValueError)  # the programs report it as a usage error


def test_save_writes_the_format_tag_atomically_and_load_reads_it_weights_only(tmp_path, model):
    path = C.checkpoint_path(tmp_path / "run", 7)
    assert path == tmp_path / "run" / "checkpoints" / "ckpt_00000007.pt" and C.checkpoint_iteration(path) == 7
    C.save_checkpoint(path, _state(model))
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == C.CHECKPOINT_FORMAT == "shallowdof.cyclegan.train/1"
    assert list((tmp_path / "run" / "checkpoints").iterdir()) == [path]  # no temporary file left
    loaded = C.load_checkpoint(path)
    assert torch.equal(loaded["model"]["netG_A"]["model.1.weight"], model.netG_A.state_dict()["model.1.weight"])
    with pytest.raises(C.CheckpointError, match=r"ckpt_00000007\.pt: not a complete CycleGAN checkpoint "
                                                r"\(missing schedulers, epoch, iter, rng\)"):
        C.load_checkpoint(path, C.TRAINING_KEYS)


@pytest.mark.parametrize("tag, problem", [
    (None, "no format tag, so not a checkpoint train_cyclegan wrote (it reads shallowdof.cyclegan.train/1)"),
    ("shallowdof-segdepth/1", "not a CycleGAN checkpoint (format 'shallowdof-segdepth/1'"),
    ("shallowdof.cyclegan.train/2", "checkpoint format 'shallowdof.cyclegan.train/2' is not one this version"),
    ("shallowdof.cyclegan.train/x", "is not one this version of shallowdof reads"),
])
def test_a_missing_foreign_or_unknown_format_is_one_line_in_training_and_inference(tmp_path, model, tag, problem):
    path = tmp_path / "odd.pt"
    torch.save({**({} if tag is None else {"format": tag}), **_state(model)}, path)
    for read in (C.load_checkpoint, Translator.from_checkpoint):
        with pytest.raises(C.CheckpointError) as err:
            read(path)
        assert str(err.value).startswith(f"{path}: ") and problem in str(err.value)
        assert "\n" not in str(err.value)


def test_a_checkpoint_with_todays_tag_loads_for_inference(tmp_path, model):
    """What train_cyclegan has always written: the tag shallowdof.cyclegan.train/1, a nested config."""
    path = tmp_path / "old.pt"
    torch.save({"format": "shallowdof.cyclegan.train/1", **_state(model)}, path)
    t = Translator.from_checkpoint(path, size="checkpoint")
    assert t.size == 36 and t.trained_sizes == (36, 32)


def test_unreadable_and_missing_files(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(C.CheckpointError, match="junk.pt: not a readable checkpoint"):
        C.load_checkpoint(junk)
    with pytest.raises(C.CheckpointError, match="nothing.pt: no such checkpoint file"):
        C.load_checkpoint(tmp_path / "nothing.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(C.CheckpointError, match=r"list.pt: not a checkpoint \(found list, expected a dict\)"):
        C.read_file(tmp_path / "list.pt")


def test_a_run_folder_resolves_to_its_latest_checkpoint(tmp_path, model):
    run = tmp_path / "run"
    assert C.list_checkpoints(run) == [] and C.latest_checkpoint(run) is None
    for it in (12, 3, 100):
        C.save_checkpoint(C.checkpoint_path(run, it), _state(model))
    killed_writers_temporary(run / "checkpoints" / "ckpt_00000200.pt")
    assert [C.checkpoint_iteration(p) for p in C.list_checkpoints(run)] == [3, 12, 100]
    latest = C.checkpoint_path(run, 100)
    assert C.latest_checkpoint(run) == latest
    assert C.resolve_checkpoint(run) == latest == C.resolve_checkpoint(run / "checkpoints")
    assert C.resolve_checkpoint(latest) == latest
    C.remove_stale_temporaries(run)
    C.prune_checkpoints(run, 2)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["ckpt_00000012.pt", "ckpt_00000100.pt"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(C.CheckpointError, match="empty: a directory without checkpoints"):
        C.resolve_checkpoint(tmp_path / "empty")


def test_depth_adds_one_input_channel_to_both_generators():
    plain = config_from_preset("cyclegan", **TINY, input_nc=3, output_nc=1, lambda_identity=0.0)
    depth = config_from_preset("cyclegan", **TINY, input_nc=3, output_nc=1, lambda_identity=0.0, use_depth=True)
    assert plain.generator_channels("AtoB") == (3, 1) and plain.generator_channels("BtoA") == (1, 3)
    assert depth.generator_channels("AtoB") == (4, 1) and depth.generator_channels("BtoA") == (2, 3)
    m = CycleGANModel(depth)
    assert m.netG_A.state_dict()["model.1.weight"].shape[1] == 4
    assert m.netG_B.state_dict()["model.1.weight"].shape[1] == 2


def test_networks_only_file_round_trips_in_fp16_and_refuses_a_training_checkpoint(tmp_path, model):
    """save_weights / load_weights (the demo's shipped start): four fp16 state dicts that load
    back into the networks; a training checkpoint or a file missing a network is one line."""
    path = tmp_path / "nets.pt"
    C.save_weights(path, {n: getattr(model, n).state_dict() for n in C.NETWORKS}, model.cfg.to_dict(), {"steps": 3})
    got = C.load_weights(path)
    assert got["format"] == C.WEIGHTS_FORMAT and got["trained_on"] == {"steps": 3}
    for name in C.NETWORKS:
        saved, live = got["nets"][name], getattr(model, name).state_dict()
        assert saved.keys() == live.keys() and all(t.dtype == torch.float16 for t in saved.values())
        assert all(torch.equal(saved[k], live[k].half()) for k in live)
    C.save_checkpoint(tmp_path / "train.pt", _state(model))
    with pytest.raises(C.CheckpointError, match="not a networks-only CycleGAN file"):
        C.load_weights(tmp_path / "train.pt")
    torch.save({"format": C.WEIGHTS_FORMAT, "nets": {"netG_A": {}}}, tmp_path / "part.pt")
    with pytest.raises(C.CheckpointError, match="without netG_B, netD_A, netD_B"):
        C.load_weights(tmp_path / "part.pt")


def test_a_full_resolution_head_is_another_architecture():
    saved = config_from_preset("cyclegan", netG="unet_128", ngf=4).to_dict()
    with pytest.raises(C.CheckpointError, match=r"x.pt: checkpoint from another architecture: "
                                              r"full_res_head=0 in the checkpoint but 4 here"):
        C.check_architecture("x.pt", saved, config_from_preset("cyclegan", netG="unet_128", ngf=4, full_res_head=4))
    with pytest.raises(ValueError, match="full_res_head: applies to U-Net generators only, not netG 'resnet'"):
        config_from_preset("cyclegan", netG="resnet", n_blocks=1, full_res_head=4)


def test_the_shipped_demo_file_with_its_earlier_tag_loads_and_new_files_get_the_new_spelling(tmp_path, model):
    from pathlib import Path

    shipped = Path(__file__).resolve().parents[2] / "scripts" / "demo_gan.pt"
    assert torch.load(shipped, weights_only=True)["format"] == "shallowdof-demo-gan-1"
    assert set(C.load_weights(shipped)["nets"]) == set(C.NETWORKS)
    path = tmp_path / "nets.pt"
    C.save_weights(path, {n: getattr(model, n).state_dict() for n in C.NETWORKS}, model.cfg.to_dict(), {"steps": 1})
    assert torch.load(path, weights_only=True)["format"] == C.WEIGHTS_FORMAT == "shallowdof.cyclegan.networks/1"


def test_one_checkpoint_error_for_every_package():
    from plumbing.checkpoint import CheckpointError
    from segdepth.checkpoint import WeightsError

    assert C.CheckpointError is WeightsError is CheckpointError
