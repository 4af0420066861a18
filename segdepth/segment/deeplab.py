"""DeepLabV3 person segmenter (Chen et al. 2017) from torchvision, the segmenter of the GAN paper's masks.

Backbones ResNet-50, ResNet-101 and MobileNetV3-Large with the COCO-with-VOC-labels weights
(21 Pascal VOC classes; person is class 15). The 21 logits are folded into two exactly:
person = logit 15, rest = logsumexp of the other 20, so softmax over the pair equals the
21-way softmax probability of person, and the network trains with the same two-class losses
as every other segmenter here.
"""
from __future__ import annotations

import torch
from torch import nn
from torchvision.models import segmentation as tv_seg

from ..tensors import imagenet_normalize
from ..weights import torchvision_pretrained
from .torch_segmenter import SegArch

PERSON_CLASS = 15
NUM_VOC_CLASSES = 21

BACKBONES = {
    "resnet50": (tv_seg.deeplabv3_resnet50, tv_seg.DeepLabV3_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1),
    "resnet101": (tv_seg.deeplabv3_resnet101, tv_seg.DeepLabV3_ResNet101_Weights.COCO_WITH_VOC_LABELS_V1),
    "mobilenet_v3_large": (
        tv_seg.deeplabv3_mobilenet_v3_large,
        tv_seg.DeepLabV3_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1,
    ),
}


def person_logits(voc_logits: torch.Tensor, person_class: int = PERSON_CLASS) -> torch.Tensor:
    """N×21×H×W VOC logits → N×2×H×W [rest, person] logits with identical softmax probabilities."""
    others = torch.cat([voc_logits[:, :person_class], voc_logits[:, person_class + 1 :]], dim=1)
    return torch.stack([torch.logsumexp(others, dim=1), voc_logits[:, person_class]], dim=1)


class DeepLabPerson(nn.Module):
    """torchvision DeepLabV3 (21 VOC classes) → two-class person logits; input RGB in [0, 1].

    The auxiliary FCN head is dropped so pretrained and randomly initialised networks have the
    same state dict.
    """

    def __init__(self, backbone: str = "resnet50", pretrained: bool = False) -> None:
        super().__init__()
        if backbone not in BACKBONES:
            raise ValueError(f"unknown DeepLabV3 backbone {backbone!r}; choose from {sorted(BACKBONES)}")
        builder, weights = BACKBONES[backbone]
        if pretrained:
            net = torchvision_pretrained(builder, weights)
        else:
            net = builder(weights=None, weights_backbone=None, num_classes=NUM_VOC_CLASSES, aux_loss=False)
        net.aux_classifier = None
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return person_logits(self.net(imagenet_normalize(x))["out"])


def _maker(backbone: str):
    def make(pretrained: bool = False) -> DeepLabPerson:
        return DeepLabPerson(backbone, pretrained=pretrained)

    return make


# this module's entries of segdepth.segment.SEG_ARCHS
ARCHS = {
    f"deeplabv3_{short}": SegArch(_maker(backbone), "COCO with VOC labels (torchvision)", library_default=True)
    for short, backbone in (("resnet50", "resnet50"), ("resnet101", "resnet101"), ("mobilenet", "mobilenet_v3_large"))
}
