"""What a curation run works on: its settings (:class:`CurateConfig`), one photo
(:class:`Item`) and the person check it is given (:data:`PersonCheckFactory`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Protocol

from plumbing.fields import BIG, setting

AUTO_REASONS = ("unreadable", "too_small", "grayscale", "exif_model", "dup_exact", "dup_res_size", "dup_near",
                "no_person")
MANUAL = "manual"
FEATURES_VERSION = 4  # 3: features from the reduced decode (read_image_reduced); 4: from read_photo's 256-px copy
PERSON_CHECK_VERSION = 2  # 2: the check works at 256 px (segdepth.person.WORK_SIDE)


#: The run's settings, written beside its results (a ``--config`` file for scripts/curate.py).
CONFIG_FILE = "curate_config.json"


@dataclass
class CurateConfig:
    """Settings of one curation run (saved as ``OUT/curate_config.json``, reloadable with ``--config``);
    each field declares its flag's help and range (:func:`plumbing.fields.setting`)."""

    raw: str = setting(help="scrape folder (raw/DOMAIN/ and manifest.jsonl)")
    out: str = setting(help="dataset folder to write")
    domain_a: str = setting("ordinary", "domain A, ordinary photos")
    domain_b: str = setting("shallow", "domain B, shallow DoF")
    min_side: int = setting(256, "minimum shorter side in px", lo=0, hi=100_000)
    grey_chroma: float = setting(1.0, "grayscale below this mean Lab chroma", lo=0.0, hi=200.0)
    colour_spread: float = setting(0.65, "grayscale below this colour spread, Lab units", lo=0.0, hi=200.0)
    tone_ratio: float = setting(0.12, "toned monochrome below this colour spread / mean chroma", lo=0.0, hi=10.0)
    phash_threshold: int = setting(6, "near-duplicate at pHash Hamming distance <= this, of 64 bits", lo=0, hi=64)
    res_size_phash: int = setting(12, "same resolution and file size is a duplicate at pHash distance <= this",
                                  lo=0, hi=64)
    min_person_fraction: float = setting(0.05, "reject images whose person mask covers less (0 disables the person "
                                         "check)", lo=0.0, hi=1.0)
    segmenter: str = setting("mediapipe", "person segmenter by name")
    min_face_score: float = setting(0.5, "face detector confidence a face needs", lo=0.01, hi=0.99)
    min_on_mask: float = setting(0.5, "share of the face box / pose landmarks the person mask must cover",
                                 lo=0.0, hi=1.0)
    exif_model: str = setting("", 'required EXIF camera model in domain A, e.g. "iPhone 7"')
    test_size_a: int = setting(100, "test images of A", lo=0, hi=BIG)
    test_size_b: int = setting(100, "test images of B", lo=0, hi=BIG)
    seed: int = setting(0, "seed of the train/test split", lo=0, hi=BIG)
    decisions: str = setting("", "decisions CSV (default OUT/decisions.csv)")
    dry_run: bool = setting(False, "report what would happen; move and write nothing")
    quiet: bool = setting(False, "no progress bars, warnings only")

    def decisions_path(self) -> Path:
        return Path(self.decisions) if self.decisions else Path(self.out) / "decisions.csv"

    def person_key(self) -> str:
        """What cached person evidence depends on: recomputed when any of it changes."""
        return f"v{PERSON_CHECK_VERSION}/{self.segmenter}/face {self.min_face_score}/mask {self.min_on_mask}"


class Evidence(Protocol):
    """What a person check returns (segdepth.person.PersonEvidence is one)."""

    evidence: str  # "face", "pose" or "none"
    mask_fraction: float

    def describe(self) -> str: ...

    def to_json(self) -> dict: ...


#: Builds the check: ``check(image, size=(width, height))`` with ``image`` a reduced decode of a photo
#: of ``size``, whose face boxes are reported in the full photo's pixels.
PersonCheckFactory = Callable[[], Callable[..., Evidence]]


@dataclass
class Item:
    """One photo: where it lives now, its features and its fate."""

    domain: str
    name: str
    path: Path
    features: dict = field(default_factory=dict)
    reason: Optional[str] = None
    detail: str = ""
    auto_reason: Optional[str] = None

    @property
    def key(self) -> str:
        return f"{self.domain}/{self.name}"
