"""segdepth.tensors, the helpers every segmenter and depth model shares: image → tensor,
ImageNet normalisation, resizing and padding to a network's input."""
import numpy as np
import pytest
import torch

from segdepth.tensors import IMAGENET_MEAN, IMAGENET_STD, fit_to_network, image_to_tensor, imagenet_normalize


def test_image_to_tensor_scales_and_checks_the_layout():
    image = np.zeros((5, 7, 3), np.uint8)
    image[1, 2] = (255, 0, 51)
    x = image_to_tensor(image)
    assert x.shape == (1, 3, 5, 7) and x.dtype == torch.float32
    assert x[0, :, 1, 2].tolist() == pytest.approx([1.0, 0.0, 0.2])
    with pytest.raises(ValueError, match="expected uint8 RGB"):
        image_to_tensor(image.astype(np.float32))


def test_imagenet_normalize_maps_the_mean_to_zero():
    x = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    assert torch.allclose(imagenet_normalize(x), torch.zeros(1, 3, 2, 2), atol=1e-7)
    one = imagenet_normalize(torch.ones(1, 3, 1, 1))[0, :, 0, 0]
    assert one.tolist() == pytest.approx([(1 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)])


def test_fit_to_network_resizes_the_long_side_and_pads_to_32():
    x, (h, w) = fit_to_network(torch.rand(1, 3, 50, 100), 64)
    assert (h, w) == (32, 64) and x.shape == (1, 3, 32, 64)
    x, (h, w) = fit_to_network(torch.rand(1, 3, 70, 90), 64)
    assert (h, w) == (50, 64) and x.shape == (1, 3, 64, 64)
