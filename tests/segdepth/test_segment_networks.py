"""Segmentation networks: forward shapes, the registry contract, DeepLab's class folding, the
DenseNet Sobel channel, and the weights rules (offline error, wrong checkpoint, round trip)."""
import urllib.error

import cv2
import numpy as np
import pytest
import torch

from segdepth.segment import SEG_ARCHS, SEGMENTERS, build_segmenter, get_arch
from segdepth.segment.torch_segmenter import build_network
from segdepth.weights import WeightsError

SMALL = {
    "unet": {"base": 4, "depth": 3},
    "effnet": {"decoder_channels": (16, 8, 8, 8)},
    "densenet": {"decoder_channels": (16, 8, 8, 8, 8)},
    "deconvnet": {"fc_channels": 32},
    "deeplabv3_mobilenet": {},
}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """An empty torch.hub dir where every download fails as it does without a network."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def no_network(url, dst, *args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    return tmp_path / "hub"


def test_every_network_is_registered():
    for name in SEG_ARCHS:
        assert name in SEGMENTERS


def test_the_table_and_each_modules_own_entries_agree():
    # a name in the table is defined by the module its loader imports, and no module defines
    # a network the table does not list
    for name, load in SEG_ARCHS.items():
        assert get_arch(name) is load()[name]
    for load in set(SEG_ARCHS.values()):
        assert set(load()) <= set(SEG_ARCHS)
    with pytest.raises(ValueError, match="unknown segmentation network 'nope'"):
        get_arch("nope")


def test_default_postprocess_comes_with_the_architecture():
    from segdepth.postprocess import sharpen_border_postprocess

    assert build_segmenter("densenet", weights="none", **SMALL["densenet"]).postprocess is sharpen_border_postprocess
    assert build_segmenter("densenet", weights="none", postprocess=None, **SMALL["densenet"]).postprocess is None
    assert build_segmenter("unet", weights="none", **SMALL["unet"]).postprocess is None


@pytest.mark.parametrize("name", sorted(SMALL))
def test_forward_gives_two_class_logits_at_input_size(name):
    net, _ = build_network(name, get_arch(name), "none", **SMALL[name])
    net.train()  # batch statistics: a random network's activations keep their scale
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        out = net(x)
    assert out.shape == (2, 2, 64, 64)
    assert torch.isfinite(out).all()
    # the two images give different outputs: the network looks at its input
    assert not torch.allclose(out[0], out[1])


@pytest.mark.parametrize("name", ["unet", "densenet"])
def test_registry_segmenter_contract(name):
    seg = build_segmenter(name, weights="none", input_size=64, **SMALL[name])
    image = np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    mask = seg(image)
    assert mask.shape == (50, 70) and mask.dtype == np.float32
    assert 0.0 <= mask.min() and mask.max() <= 1.0
    with pytest.raises(ValueError):
        seg(image.astype(np.float32))


def test_deeplab_folding_keeps_the_person_probability():
    from segdepth.segment.deeplab import PERSON_CLASS, person_logits

    voc = torch.randn(2, 21, 5, 7)
    folded = torch.softmax(person_logits(voc), dim=1)[:, 1]
    assert torch.allclose(folded, torch.softmax(voc, dim=1)[:, PERSON_CLASS], atol=1e-6)


def test_unet_structure():
    from segdepth.segment.unet import UNet

    net = UNet(base=8, depth=3)
    assert [m.out_channels for m in net.ups] == [32, 16, 8]
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules()) == 2 * (1 + 3 + 3)
    with pytest.raises(ValueError):
        UNet(depth=0)


def test_effnet_decoder_has_five_transposed_convolutions_and_mish():
    from segdepth.segment.effnet import EffNetSeg

    net = EffNetSeg(decoder_channels=(16, 8, 8, 8))
    tconvs = [m for m in net.decoder if isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(tconvs) == 5 and tconvs[-1].out_channels == 2
    assert any(isinstance(m, torch.nn.Mish) for m in net.decoder.modules())


def test_densenet_last_stage_sees_the_sobel_edges_of_the_input():
    from segdepth.segment.densenet import DenseNetUNet

    net = DenseNetUNet(decoder_channels=(16, 8, 8, 8, 8)).eval()
    image = np.zeros((64, 64, 3), np.uint8)
    cv2.circle(image, (30, 34), 15, (200, 120, 40), -1)
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    seen = {}

    def keep_skip(module, inputs, output):
        seen["skip"] = inputs[1]

    net.final.register_forward_hook(keep_skip)
    with torch.no_grad():
        net(x)
    skip = seen["skip"][0]
    assert skip.shape[0] == 4  # RGB + Sobel
    gray = (image.astype(np.float32) / 255) @ np.array([0.299, 0.587, 0.114], np.float32)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REPLICATE)
    np.testing.assert_allclose(skip[3].numpy(), np.hypot(gx, gy), atol=1e-4)
    assert skip[3].max() > 0.5


def test_deconvnet_unpools_with_the_encoder_switches():
    from segdepth.segment.deconvnet import DeconvNet

    net = DeconvNet(fc_channels=16).eval()
    assert len(net.encoder) == 5 and len(net.decoder) == 5
    convs = [m for stage in net.encoder for m in stage if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 13  # VGG16's convolutions
    calls = []

    def record(module, inputs, output):
        calls.append(output.shape[-1])

    net.unpool.register_forward_hook(record)
    with torch.no_grad():
        net(torch.rand(1, 3, 64, 64))
    assert calls == [4, 8, 16, 32, 64]


def test_offline_pretrained_weights_raise_one_clear_error(offline_hub):
    with pytest.raises(WeightsError) as info:
        build_segmenter("deeplabv3_mobilenet")  # default = COCO-with-VOC-labels weights
    message = str(info.value)
    assert str(offline_hub / "checkpoints" / "deeplabv3_mobilenet_v3_large-fc3c493d.pth") in message
    assert "download" in message


def test_pretrained_weights_are_read_from_the_hub_checkpoint_dir(offline_hub):
    from torchvision.models import segmentation as tv_seg

    reference = tv_seg.deeplabv3_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=21, aux_loss=True)
    (offline_hub / "checkpoints").mkdir(parents=True)
    torch.save(reference.state_dict(), offline_hub / "checkpoints" / "deeplabv3_mobilenet_v3_large-fc3c493d.pth")
    seg = build_segmenter("deeplabv3_mobilenet", input_size=64)
    got = seg.net.net.classifier[-1].weight
    assert torch.equal(got, reference.classifier[-1].weight)


def test_trained_here_default_weights_missing_names_the_file(offline_hub):
    with pytest.raises(WeightsError, match="shallowdof_unet.pt"):
        build_segmenter("unet")


def test_checkpoint_round_trip_and_wrong_architecture(tmp_path):
    net, kwargs = build_network("unet", get_arch("unet"), "none", **SMALL["unet"])
    path = tmp_path / "unet.pt"
    torch.save({"arch": "unet", "arch_kwargs": kwargs, "model": net.state_dict()}, path)
    seg = build_segmenter("unet", weights=str(path), input_size=64)
    for key, value in net.state_dict().items():
        assert torch.equal(seg.net.state_dict()[key], value)
    with pytest.raises(WeightsError, match="architecture 'unet', not 'effnet'"):
        build_segmenter("effnet", weights=str(path))
    # a bare state dict of another network: refused by name, not loaded half-way
    torch.save(net.state_dict(), tmp_path / "bare.pt")
    with pytest.raises(WeightsError, match="bare.pt: not a checkpoint of architecture 'densenet'"):
        build_segmenter("densenet", weights=str(tmp_path / "bare.pt"))
    with pytest.raises(WeightsError, match="no such checkpoint"):
        build_segmenter("unet", weights=str(tmp_path / "missing.pt"))
