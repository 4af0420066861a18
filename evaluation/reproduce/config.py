"""The settings of a reproduction of Nasrullah 2018 (:class:`ReproduceConfig`), its two scales
(:data:`SCALES`) and where each stage writes (:class:`Layout`)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from plumbing import fields
from plumbing.fields import SettingError, setting
from datasets.flickr.api import DEFAULT_API_URL
from compositing.methods import METHODS
from gan.model import PAPER_PRESETS, PRESETS

#: The reproduction's settings, saved in its output folder (a ``--config`` file).
CONFIG_FILE = "reproduce_config.json"


@dataclass(frozen=True)
class Scale:
    """How big a reproduction is: the data, the image side, the schedule and the networks."""

    per_domain: int  # photos scraped per domain
    test_size: int  # test photos per domain (curation's split)
    min_side: int  # curation's smallest shorter side
    image_size: int  # every photo is fitted to image_size × image_size (the paper: 256)
    n_epochs: int  # epochs at the initial learning rate
    n_epochs_decay: int  # epochs of linear decay
    train_flags: tuple[str, ...]  # train_cyclegan flags beyond the preset (the networks' size)
    fid_weights: str  # compare's Inception weights for FID/KID
    thumb_size: int  # the gallery's thumbnails
    summary: str


#: ``paper``: Nasrullah 2018 as published (the scraper's and curation's defaults are the paper's;
#: ResNet-9 generators and 70×70 PatchGANs, 256×256, 50 + 25 epochs at batch 1, the ImageNet VGG19
#: of the mask loss). ``tiny``: the same stages at toy size, minutes on a CPU (tests, a dry run of
#: the pipeline, e.g. against the local fake Flickr with ``--fake-flickr``).
SCALES: dict[str, Scale] = {
    "paper": Scale(per_domain=4000, test_size=100, min_side=256, image_size=256, n_epochs=50, n_epochs_decay=25,
                   train_flags=(), fid_weights="imagenet", thumb_size=256,
                   summary="the paper: 4,000 photos per domain, 256×256, 50 + 25 epochs, paper-sized networks"),
    "tiny": Scale(per_domain=6, test_size=2, min_side=64, image_size=64, n_epochs=1, n_epochs_decay=1,
                  train_flags=("--netG", "resnet", "--n-blocks", "1", "--ngf", "4", "--ndf", "4", "--n-layers-D", "2",
                               "--vgg-weights", "none", "--num-workers", "0"),
                  fid_weights="off", thumb_size=64,
                  summary="a smoke run: 6 photos per domain, 64×64, 1 + 1 epochs, networks of a few hundred weights"),
}


@dataclass
class ReproduceConfig:
    """Settings of one reproduction (saved as ``OUT/reproduce_config.json``; never holds the API key);
    each field declares its flag's help and allowed values or range (:func:`plumbing.fields.setting`)."""

    out: str = setting("paper_out", "output folder of every stage")
    scale: str = setting("paper", "; ".join(f"{name} = {s.summary}" for name, s in SCALES.items()), tuple(SCALES))
    presets: list[str] = setting(default_factory=lambda: list(PAPER_PRESETS), choices=tuple(PRESETS),
                                 help="comma-separated presets to train (default: the paper's four)")
    per_domain: int = setting(0, "photos to scrape per domain (0: the scale's)", lo=0, hi=10**7)
    api_url: str = setting(DEFAULT_API_URL, "Flickr's REST endpoint")
    fake_flickr: bool = setting(False, "scrape a local fake Flickr serving photos of a person (offline; for "
                                "--scale tiny)")
    test_input: str = setting("", "photos to translate and compare (default: the curated testA at 256x256)")
    results: list[str] = setting(default_factory=list, metavar="NAME=DIR", help="a folder of published outputs "
                                 "named like the test photos, one more column (repeatable)")
    methods: list[str] = setting(default_factory=lambda: ["box"], choices=tuple(METHODS),
                                 help="compositor columns of the comparison (box: the paper's baseline; '' for none)")
    device: str = setting("auto", "where to train, translate and score (auto: a GPU when torch sees one)",
                          ("auto", "cpu", "cuda"))
    nproc_per_node: int = setting(1, "training processes through torchrun, one per GPU (each at batch 1: N GPUs "
                                  "train at batch N, N times fewer steps than the paper's schedule)", lo=1, hi=1024)
    train_args: list[str] = setting(default_factory=list, metavar='"FLAGS"', shown_default="",
                                    help='more train_cyclegan flags, e.g. --train-args="--amp bf16 --compile '
                                    '--compile-mode reduce-overhead" (faster on a GPU; the paper trained in fp32)')
    quiet: bool = setting(False, "the stage lines and errors only (no progress bars)")

    @property
    def scale_settings(self) -> Scale:
        return SCALES[self.scale]

    @property
    def photos_per_domain(self) -> int:
        return self.per_domain or self.scale_settings.per_domain

    def check(self) -> None:
        """SettingError naming the first setting that is of the wrong type, unknown, out of range
        (its declaration) or in conflict with another."""
        fields.check(self)
        if not self.presets or len(set(self.presets)) != len(self.presets):
            raise SettingError("presets", f"{self.presets}: give each of {list(PRESETS)} at most once, at least one")
        names = list(self.presets) + list(self.methods)
        for spec in self.results:
            name, sep, folder = spec.partition("=")
            if not (sep and name and folder):
                raise SettingError("results", f"{spec!r}: expected NAME=DIR")
            names.append(name)
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise SettingError("results", f"column names repeat across presets, methods and results: {repeated}")


@dataclass(frozen=True)
class Layout:
    """Where each stage of a reproduction writes, inside its output folder."""

    root: Path
    image_size: int

    @property
    def flickr(self) -> Path:  # scrape_flickr: raw/, manifest.jsonl
        return self.root / "flickr"

    @property
    def portraits(self) -> Path:  # curate: trainA/ trainB/ testA/ testB/, quarantine/, review.html
        return self.root / "portraits"

    @property
    def fitted(self) -> Path:  # the splits at image_size² (datasets.fit) and their masks
        return self.root / f"portraits{self.image_size}"

    @property
    def runs(self) -> Path:  # train_cyclegan: runs/PRESET/
        return self.root / "runs"

    def run(self, preset: str) -> Path:
        return self.runs / preset

    def results(self, preset: str) -> Path:  # test_cyclegan: results/PRESET/*.png
        return self.root / "results" / preset

    @property
    def compare(self) -> Path:  # compare: gallery/index.html, metrics.csv
        return self.root / "compare"


def layout(cfg: ReproduceConfig) -> Layout:
    """Where the stages of ``cfg`` write."""
    return Layout(Path(cfg.out), cfg.scale_settings.image_size)
