"""What a curation run works on: its settings (:class:`CurateConfig`), one photo
(:class:`Item`) and the person check it is given (:data:`PersonCheckFactory`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Protocol

AUTO_REASONS = ("unreadable", "too_small", "grayscale", "exif_model", "dup_exact", "dup_res_size", "dup_near",
                "no_person")
MANUAL = "manual"
FEATURES_VERSION = 4  # 3: features from the reduced decode (read_image_reduced); 4: from read_photo's 256-px copy
PERSON_CHECK_VERSION = 2  # 2: the check works at 256 px (segdepth.person.WORK_SIDE)


#: The run's settings, written beside its results (a ``--config`` file for scripts/curate.py).
CONFIG_FILE = "curate_config.json"


@dataclass
class CurateConfig:
    """Settings of one curation run (saved as ``OUT/curate_config.json``, reloadable with ``--config``)."""

    raw: str
    out: str
    domain_a: str = "ordinary"
    domain_b: str = "shallow"
    min_side: int = 256
    grey_chroma: float = 1.0
    colour_spread: float = 0.65
    tone_ratio: float = 0.12
    phash_threshold: int = 6
    res_size_phash: int = 12
    min_person_fraction: float = 0.05
    segmenter: str = "mediapipe"
    min_face_score: float = 0.5
    min_on_mask: float = 0.5
    exif_model: str = ""
    test_size_a: int = 100
    test_size_b: int = 100
    seed: int = 0
    decisions: str = ""
    dry_run: bool = False
    quiet: bool = False

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
