"""Curate scraped photos into a CycleGAN dataset (Nasrullah 2018, §3.1 and Table 1).

Input: a scrape folder (``RAW/raw/DOMAIN/*.jpg`` + ``RAW/manifest.jsonl``, see datasets.flickr).
Output (``OUT``): ``trainA trainB testA testB`` (A = ordinary, B = shallow DoF, hard links or
copies of the kept photos), ``quarantine/REASON/DOMAIN/`` (rejects, *moved* there, never deleted),
``rejects.csv``, ``review.html`` + ``review/thumbs/``, ``decisions.csv`` (the manual pass: edit the
``decision`` column to keep / reject and run again), ``summary.md`` / ``summary.csv`` (Table 1);
those reports and the review page are written by :mod:`.report`.

Automatic rules, in this order (an image gets the first reason that applies):

``unreadable``   the image reader (datasets.io.read_image_reduced) refuses it.
``too_small``    shorter side below ``min_side`` pixels.
``grayscale``    black-and-white or toned monochrome (see ``colour_stats``): mean chroma below
                 ``grey_chroma`` (neutral grey), or a colour spread (the chroma that lightness does
                 not explain) below ``colour_spread`` (no colour beyond JPEG noise) or below
                 ``tone_ratio`` × the mean chroma (one hue at each lightness: sepia, cyanotype,
                 split toning). Low-saturation colour photos (overcast, low light, grey clothes)
                 keep a spread well above both; the evidence is in ``scripts/curate.py --help``.
``exif_model``   (optional, domain A only) the EXIF camera model is not ``exif_model``.
``dup_exact``    same sha256 as an earlier image, within or across domains.
``dup_res_size`` same (width, height, file size) as an earlier image of the same domain (the paper's rule),
                 confirmed by a pHash distance of at most ``res_size_phash`` (12 of 64 bits; distinct
                 portraits measure 18 and more, a re-encoded copy 0–4): equal byte counts by chance
                 are common when many photos share a resolution.
``dup_near``     64-bit perceptual hash (imagehash.phash) within Hamming distance ``phash_threshold``
                 (default 6) of an image kept already, within or across domains; the larger
                 image of a pair is kept.
``no_person``    no evidence of a real person: no face on the person mask and no body pose on it
                 (the check is segdepth.person.PersonCheck, passed in by the caller), or the mask
                 covers less than ``min_person_fraction`` of the image. The segmenter alone is no
                 evidence: MediaPipe's selfie model calls cups, cats and microscopy "person".

Every reject's ``detail`` (in rejects.csv and the review page) gives the evidence that decided:
the statistics and thresholds, the image it duplicates and the distance, or what the person check
saw (face score, box and share on the mask, pose, mask coverage).

Each photo is decoded once per run (datasets.io.read_image_reduced: a JPEG at 1/2, 1/4 or 1/8 of
its size, at least ``DECODE_SIDE`` = 256 px, then area-averaged to 256 px, the person check's working
size): the pHash, the colour statistics, the person check and the review thumbnail all use that
one copy, so the person check runs in the feature pass, on every photo the single-image rules keep
(duplicates included; their evidence is then recorded too). Width, height and face boxes are those
of the full photo. A worker thread decodes, hashes and writes thumbnails one chunk of photos
ahead of the person check; the check runs in the calling thread in item order, so results do
not depend on the timing. The thumbnails of a chunk are written as one atomic batch.

"Earlier" is the order domain A, domain B, then file name; so runs are deterministic. The EXIF
f-number and focal length are recorded for every image (``features.csv``). Manual decisions
override the automatic result (``keep`` un-quarantines an image; ``reject`` moves it to
``quarantine/manual/``). The split is deterministic from ``seed``: images are ranked by
sha256("seed/domain/name") and the first ``test_size_*`` go to test, so adding or removing one
image moves at most one other between train and test.

The package by job: :mod:`.records` (the settings, one photo, the person check's interface),
:mod:`.features` (what is measured of each photo), :mod:`.rules` (the reasons above),
:mod:`.run` (:func:`curate`: the feature pass, the splits, quarantine) and :mod:`.report`.
"""
from .features import colour_stats, grayscale_reason
from .records import CONFIG_FILE, CurateConfig, Evidence, Item, PersonCheckFactory
from .run import CurateResult, curate, split_names

__all__ = ["CONFIG_FILE", "CurateConfig", "CurateResult", "Evidence", "Item", "PersonCheckFactory", "colour_stats",
           "curate", "grayscale_reason", "split_names"]
