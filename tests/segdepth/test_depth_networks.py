"""Dense-depth network (MobileNetV2), its registry model, flip averaging, and MiDaS through torch.hub."""
import textwrap
import urllib.error

import numpy as np
import pytest
import torch

from segdepth.depth import DEPTH_MODELS, build_depth_model
from segdepth.depth.dense_depth import DenseDepthNet, predict_flip_averaged
from segdepth.weights import WeightsError

SMALL = {"decoder_channels": (16, 16, 8, 8, 8, 8)}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def hub(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def no_network(url, dst, *args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    return tmp_path / "hub"


def test_registered():
    assert {"dense_depth", "midas"} <= set(DEPTH_MODELS)


def test_dense_depth_structure_and_shape():
    net = DenseDepthNet(**SMALL).train()
    assert len(net.decoder) == 6
    for block in net.decoder:
        acts = [m for m in block.modules() if isinstance(m, torch.nn.LeakyReLU)]
        assert len(acts) == 2 and all(a.negative_slope == 0.2 for a in acts)
    # the last block concatenates the 3-channel image at full resolution
    assert net.decoder[-1].conv[0].in_channels == 8 + 3
    out = net(torch.rand(2, 3, 64, 96))
    assert out.shape == (2, 1, 64, 96)
    assert not torch.allclose(out[0], out[1])


def test_flip_averaging_is_flip_equivariant():
    net = DenseDepthNet(**SMALL).eval()
    x = torch.rand(1, 3, 64, 64)
    y = predict_flip_averaged(net, x)
    y_flipped = predict_flip_averaged(net, x.flip(-1))
    assert torch.allclose(y.flip(-1), y_flipped, atol=1e-5)
    assert not torch.allclose(net(x), net(x.flip(-1)).flip(-1), atol=1e-5)  # the raw net is not


def test_registry_depth_model_contract(tmp_path):
    model = build_depth_model("dense_depth", weights="none", input_size=64, max_depth=10.0, min_depth=0.5, **SMALL)
    assert model.relative is False
    image = np.random.default_rng(0).integers(0, 256, (48, 80, 3), dtype=np.uint8)
    depth = model(image)
    assert depth.shape == (48, 80) and depth.dtype == np.float32
    assert depth.min() >= 0.5 - 1e-5 and depth.max() <= 10.0 + 1e-4
    assert np.array_equal(depth, model(image, np.ones((48, 80), np.float32)))  # the mask is ignored
    # round trip through a checkpoint keeps the depth range and weights; wrong arch is refused
    path = tmp_path / "dd.pt"
    torch.save({"arch": "dense_depth", "arch_kwargs": {**SMALL, "max_depth": 10.0, "min_depth": 0.5},
                "model": model.net.state_dict()}, path)
    again = build_depth_model("dense_depth", weights=str(path), input_size=64)
    np.testing.assert_allclose(again(image), depth, rtol=1e-5)
    torch.save({"arch": "unet", "model": {}}, tmp_path / "unet.pt")
    with pytest.raises(WeightsError, match="'unet', not 'dense_depth'"):
        build_depth_model("dense_depth", weights=str(tmp_path / "unet.pt"))


def test_dense_depth_default_weights_missing(hub):
    with pytest.raises(WeightsError, match="shallowdof_dense_depth.pt"):
        build_depth_model("dense_depth")


def test_pretrained_encoder_offline_names_the_file(hub):
    with pytest.raises(WeightsError) as info:
        DenseDepthNet(pretrained=True)
    assert str(hub / "checkpoints" / "mobilenet_v2-b0353104.pth") in str(info.value)


def test_midas_without_hub_repo_names_repo_and_weights(hub):
    with pytest.raises(WeightsError) as info:
        build_depth_model("midas")
    message = str(info.value)
    assert str(hub / "intel-isl_MiDaS_master") in message
    assert str(hub / "checkpoints" / "midas_v21_small_256.pt") in message


def _fake_midas_repo(hub, body):
    repo = hub / "intel-isl_MiDaS_master"
    repo.mkdir(parents=True)
    (repo / "hubconf.py").write_text(textwrap.dedent(body))


def test_midas_missing_weights_inside_hub_load(hub):
    _fake_midas_repo(hub, """
        import torch
        dependencies = ["torch"]
        def MiDaS_small(pretrained=True):
            net = torch.nn.Conv2d(3, 1, 1)
            if pretrained:
                net.load_state_dict(torch.hub.load_state_dict_from_url(
                    "https://github.com/isl-org/MiDaS/releases/download/v2_1/midas_v21_small_256.pt"))
            return net
        """)
    with pytest.raises(WeightsError, match="midas_v21_small_256.pt"):
        build_depth_model("midas")


def test_midas_converts_inverse_depth(hub):
    # A stand-in MiDaS whose disparity is the red channel: brighter = nearer.
    _fake_midas_repo(hub, """
        import torch
        dependencies = ["torch"]
        class Red(torch.nn.Module):
            def forward(self, x):
                return torch.relu(x[:, 0] * 0.229 + 0.485)
        def MiDaS_small(pretrained=True):
            return Red()
        """)
    model = build_depth_model("midas")
    assert model.relative is True
    image = np.zeros((40, 60, 3), np.uint8)
    image[:, :30, 0] = 250  # near (high disparity) on the left
    image[:, 30:, 0] = 25
    depth = model(image)
    assert depth.shape == (40, 60) and depth.dtype == np.float32
    assert depth[20, 5] == pytest.approx(1.0, abs=0.02)  # the nearest point has depth 1
    assert depth[20, 55] == pytest.approx(10.0, rel=0.05)  # 10× less disparity → 10× farther
