"""curate: a Flickr scrape → trainA/trainB/testA/testB (datasets.curate), from the command line.

Its parser (every dest a CurateConfig field, so a saved ``curate_config.json`` is a ``--config``
file and the flags given override it), ``run`` (the program with any person check) and ``main``
(with segdepth's person check: MediaPipe mask, face, pose). The program lives in segdepth/ because
it runs that check; the curation itself takes the check as an argument, so datasets/ does not
import segdepth/.
"""
from __future__ import annotations

import argparse
import logging
from typing import Callable, Optional, Sequence

from plumbing.cli import EXIT_CODES_EPILOG, EXIT_SOME_FAILED, EXIT_USAGE, add_download_flag, output_folder
from plumbing.config import add_config_option, parse_config_args
from plumbing.fields import add_setting
from datasets.curate import CurateConfig, PersonCheckFactory, curate
from segdepth.person import person_check_factory

log = logging.getLogger("curate")

#: ``scripts/curate.py --help``.
PROGRAM_HELP = """Curate a Flickr scrape into trainA/trainB/testA/testB (A = ordinary, B = shallow depth of field).

    python scripts/curate.py --raw data/flickr --out data/portraits
    # look at data/portraits/review.html, edit data/portraits/decisions.csv (keep / reject), then
    python scripts/curate.py --raw data/flickr --out data/portraits      # applies the decisions
    python scripts/curate.py --raw data/flickr --out data/v2 --config data/portraits/curate_config.json  # same settings

Automatic rejects (first that applies): unreadable; too_small (shorter side < --min-side);
grayscale; exif_model (with --exif-model, domain A only); dup_exact (sha256, within and across
domains); dup_res_size (same resolution and file size in a domain, the paper's rule, confirmed by
a pHash distance <= --res-size-phash); dup_near (pHash Hamming distance <= --phash-threshold, of 64
bits); no_person (see below). Rejects are MOVED to OUT/quarantine/REASON/DOMAIN/ (never deleted)
and listed in OUT/rejects.csv with the evidence that decided; OUT/review.html shows it too, and
the person check's findings for every image. The split is deterministic from --seed.
OUT/summary.md is the paper's Table 1 (scraped, rejected by reason, retained, per domain).

grayscale, in CIE Lab on a 64-px thumbnail: mean chroma < --grey-chroma, or colour spread (RMS
distance of a pixel's a/b from the mean a/b at its lightness) < --colour-spread, or colour spread
< --tone-ratio x mean chroma (one hue per lightness: sepia, cyanotype, split toning). Measured on
79 real colour portraits saved as JPEG q95 (bench/bench_curation.py) and variants made from them:
                           mean chroma  colour spread  spread/chroma  rejected
  colour photos              5.3-33.2     3.5-36.0       0.19-1.46      0 of 79
  desaturated to chroma 2.9  2.8-3.1      0.74-4.2       0.26-1.41      0 of 79
  desaturated to chroma 4.0  3.8-4.2      0.98-5.8       0.25-1.44      0 of 79
  the black-and-white photo  0.03         0.02           -              1 of 1
  grey versions              0.01-0.06    0.01-0.03      -              79 of 79
  sepia / cyanotype          12.6-26.9    0.48-0.79      0.020-0.050    158 of 158
  split-toned                8.5-28.9     0.84-1.44      0.032-0.139    70 of 79
The desaturated ones stand for the low-saturation colour photos (overcast, low light, grey
clothes: mean chroma 2.9-4.0) that the former rule, mean chroma < 4.0, rejected.

no_person: a real person needs a face (MediaPipe BlazeFace, score >= --min-face-score) whose box
the --segmenter person mask covers for >= --min-on-mask, or, when no face qualifies, a body pose
(MediaPipe Pose) whose visible landmarks lie on the mask for >= --min-on-mask; and the mask must
cover >= --min-person-fraction of the image. On scikit-image's photos a cup, a cat, microscopy,
a retina, a rocket, coins and a colour chart all fail it (the selfie mask alone passed the first
four); the astronaut passes, and so do 79 of the 80 real portraits (the other: no face, pose off the mask).

Exit status: 0 done; 1 some files could not be moved or some decisions were invalid.
"""


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``scripts/curate.py``: a flag per CurateConfig field, made from its declaration."""
    p = argparse.ArgumentParser(description=PROGRAM_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=EXIT_CODES_EPILOG)
    add_setting(p, CurateConfig, "raw", required=True)
    add_setting(p, CurateConfig, "out", required=True, type=output_folder)
    add_config_option(p)
    for name in ("domain_a", "domain_b", "min_side", "grey_chroma", "colour_spread", "tone_ratio", "phash_threshold",
                 "res_size_phash", "min_person_fraction", "min_face_score", "min_on_mask", "segmenter", "exif_model",
                 "test_size_a", "test_size_b", "seed", "decisions", "dry_run", "quiet"):
        add_setting(p, CurateConfig, name)
    add_download_flag(p)
    return p


def parse_args(argv: Optional[Sequence[str]] = None) -> CurateConfig:
    """The CurateConfig of a command line: defaults, then ``--config``, then the flags given."""
    return parse_config_args(build_parser(), CurateConfig, argv)[1]


def run(argv: Optional[Sequence[str]], person_check: Callable[[CurateConfig], PersonCheckFactory]) -> int:
    """``scripts/curate.py`` with ``person_check(config)`` building the person check; the exit status
    (0 done, 1 some files could not be moved or some decisions were invalid, 2 bad input)."""
    config = parse_args(argv)
    logging.basicConfig(level=logging.WARNING if config.quiet else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        result = curate(config, person_check(config))
    except (FileNotFoundError, ValueError) as exc:
        log.error("%s", exc)
        return EXIT_USAGE
    if not config.quiet:
        print(("dry run, nothing moved\n" if config.dry_run else f"dataset written to {config.out}\n")
              + result.markdown())
    if result.problems:
        log.error("%d problems (see above)", result.problems)
        return EXIT_SOME_FAILED
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """curate with segdepth's person check (:func:`segdepth.person.person_check_factory`)."""
    return run(argv, lambda c: person_check_factory(c.segmenter, c.min_face_score, c.min_on_mask))
