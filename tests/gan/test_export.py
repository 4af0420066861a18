"""gan.export and scripts/export_onnx.py: a generator exported with dynamic height and width gives
onnxruntime's output within 1e-4 of PyTorch's at any size, through the same residual upsampling
test_cyclegan runs; a missing package or a bad command line is one line."""
import json
import sys

import numpy as np
import pytest
import torch

from gan.checkpoint import save_checkpoint
from gan.cli.export_onnx import main, parse_args
from gan.export import OPSET, ExportUnavailable, export_onnx, onnx_runner
from gan.infer import FullResolutionGenerator, load_generator
from gan.model import CycleGANModel, config_from_preset

TINY = dict(netG="resnet", n_blocks=1, ngf=4, ndf=4, n_layers_D=2, vgg_weights="none", upsample="resize")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A small trained-looking checkpoint (random weights) that records its training sizes."""
    torch.manual_seed(0)
    cfg = config_from_preset("mask_loss_overlay", **TINY)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, {"config": {"model": cfg.to_dict(), "train": {"load_size": 40, "crop_size": 32}},
                           "model": CycleGANModel(cfg).state_dict()})
    return path


@pytest.mark.slow
def test_onnxruntime_matches_pytorch_at_every_size(checkpoint, tmp_path):
    """One export (the program, default settings: residual upsampling at the training load size 40),
    then sizes smaller than 40 (translated whole), larger (residual path), odd and very unequal."""
    pytest.importorskip("onnxruntime")
    out = tmp_path / "g.onnx"
    assert main(["--checkpoint", str(checkpoint), "--out", str(out)]) == 0
    saved = json.loads((tmp_path / "g.onnx.json").read_text())
    assert (saved["size"], saved["full_res"], saved["opset"]) == (40, False, OPSET)
    import onnx

    model = onnx.load(str(out))
    assert model.opset_import[0].version == OPSET
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["shallowdof.size"] == "40" and meta["shallowdof.direction"] == "AtoB"
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims[1] == 3 and all(isinstance(d, str) for d in (dims[0], dims[2], dims[3]))  # dynamic N, H, W
    eager = FullResolutionGenerator(load_generator(checkpoint).generator, 40).eval()
    run = onnx_runner(out)
    g = torch.Generator().manual_seed(3)
    for h, w in ((24, 36), (40, 40), (57, 83), (130, 61), (9, 200)):
        x = torch.rand(1, 3, h, w, generator=g) * 2 - 1
        with torch.no_grad():
            want = eager(x).numpy()
        got = run(x.numpy())
        assert got.shape == (1, 3, h, w)
        assert np.abs(got - want).max() <= 1e-4, (h, w)
    # the residual path really ran on the large sizes: the output is not the generator at full size
    x = torch.rand(1, 3, 130, 61, generator=g) * 2 - 1
    with torch.no_grad():
        assert np.abs(run(x.numpy()) - eager.run(x).numpy()).max() > 1e-2


def test_a_missing_onnx_package_is_one_line(checkpoint, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # import onnxscript now raises ImportError
    with pytest.raises(ExportUnavailable, match=r"needs the package 'onnxscript': pip install 'shallowdof\[onnx\]'"):
        export_onnx(checkpoint, tmp_path / "g.onnx")
    assert main(["--checkpoint", str(checkpoint), "--out", str(tmp_path / "g.onnx")]) == 2
    assert "error: ONNX export needs the package 'onnxscript'" in capsys.readouterr().err
    assert not (tmp_path / "g.onnx").exists()


def test_bad_command_lines_and_checkpoints(checkpoint, tmp_path, capsys):
    for argv, words in ((["--out", "g.onnx"], "--checkpoint is required"),
                        (["--checkpoint", str(checkpoint), "--out", "g.pt"], "name the file NAME.onnx"),
                        (["--checkpoint", str(checkpoint), "--out", "g.onnx", "--size", "4"], "--size"),
                        (["--checkpoint", str(checkpoint), "--out", "g.onnx", "--opset", "13"], "--opset")):
        with pytest.raises(SystemExit) as info:
            parse_args(argv)
        assert info.value.code == 2 and words in capsys.readouterr().err
    (tmp_path / "junk.pt").write_bytes(b"junk")
    assert main(["--checkpoint", str(tmp_path / "junk.pt"), "--out", str(tmp_path / "g.onnx")]) == 2
    assert "junk.pt: not a readable checkpoint" in capsys.readouterr().err
