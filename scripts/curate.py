"""Curate a Flickr scrape into trainA/trainB/testA/testB (A = ordinary, B = shallow depth of field).

    python scripts/curate.py --raw data/flickr --out data/portraits
    # look at data/portraits/review.html, edit data/portraits/decisions.csv (keep / reject), then
    python scripts/curate.py --raw data/flickr --out data/portraits      # applies the decisions

Automatic rejects (first that applies): unreadable; too_small (shorter side < --min-side);
grayscale (mean Lab chroma < --grey-chroma, or hue spread across the mean tint < --tint-spread:
one hue everywhere, as in sepia);
exif_model (with --exif-model, domain A only); dup_exact (sha256, within and across domains);
dup_res_size (same resolution and file size in a domain, the paper's rule); dup_near (pHash
Hamming distance <= --phash-threshold, default 6 of 64 bits); no_person (the --segmenter mask covers
< --min-person-fraction of the image). Rejects are MOVED to OUT/quarantine/REASON/DOMAIN/ (never
deleted) and listed in OUT/rejects.csv. The split is deterministic from --seed. OUT/summary.md is
the paper's Table 1 (scraped, rejected by reason, retained, per domain).
Exit status: 0 done; 1 some files could not be moved or some decisions were invalid.
"""
from __future__ import annotations

import argparse
import logging
import sys

from datasets.cli import (EXIT_CODES_EPILOG, add_download_flag, float_range, int_range, non_negative_int,
                          output_folder, run_main)
from datasets.curate import CurateConfig, curate


def parse_args(argv: list[str] | None = None) -> CurateConfig:
    d = CurateConfig(raw="", out="")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=EXIT_CODES_EPILOG)
    p.add_argument("--raw", required=True, help="scrape folder (raw/DOMAIN/ and manifest.jsonl)")
    p.add_argument("--out", required=True, type=output_folder, help="dataset folder to write")
    p.add_argument("--domain-a", default=d.domain_a, help=f"domain A, ordinary photos (default {d.domain_a})")
    p.add_argument("--domain-b", default=d.domain_b, help=f"domain B, shallow DoF (default {d.domain_b})")
    p.add_argument("--min-side", type=int_range(0, 100_000), default=d.min_side,
                   help=f"minimum shorter side in px ({d.min_side})")
    p.add_argument("--grey-chroma", type=float_range(0.0, 200.0), default=d.grey_chroma,
                   help=f"grayscale below this mean Lab chroma ({d.grey_chroma})")
    p.add_argument("--tint-spread", type=float_range(0.0, 200.0), default=d.tint_spread,
                   help=f"monochrome below this hue spread, a/b std across the mean tint ({d.tint_spread})")
    p.add_argument("--phash-threshold", type=int_range(0, 64), default=d.phash_threshold,
                   help=f"near-duplicate at pHash Hamming distance <= this, of 64 bits ({d.phash_threshold})")
    p.add_argument("--min-person-fraction", type=float_range(0.0, 1.0), default=d.min_person_fraction,
                   help=f"reject images whose person mask covers less (0 disables; {d.min_person_fraction})")
    p.add_argument("--segmenter", default=d.segmenter, help=f"person segmenter by name ({d.segmenter})")
    p.add_argument("--exif-model", default="", help='required EXIF camera model in domain A, e.g. "iPhone 7"')
    p.add_argument("--test-size-a", type=non_negative_int, default=d.test_size_a,
                   help=f"test images of A ({d.test_size_a})")
    p.add_argument("--test-size-b", type=non_negative_int, default=d.test_size_b,
                   help=f"test images of B ({d.test_size_b})")
    p.add_argument("--seed", type=non_negative_int, default=d.seed, help="seed of the train/test split")
    p.add_argument("--decisions", default="", help="decisions CSV (default OUT/decisions.csv)")
    p.add_argument("--dry-run", action="store_true", help="report what would happen; move and write nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bars, warnings only")
    add_download_flag(p)
    a = p.parse_args(argv)
    return CurateConfig(raw=a.raw, out=a.out, domain_a=a.domain_a, domain_b=a.domain_b, min_side=a.min_side,
                        grey_chroma=a.grey_chroma, tint_spread=a.tint_spread, phash_threshold=a.phash_threshold,
                        min_person_fraction=a.min_person_fraction, segmenter=a.segmenter, exif_model=a.exif_model,
                        test_size_a=a.test_size_a, test_size_b=a.test_size_b, seed=a.seed, decisions=a.decisions,
                        dry_run=a.dry_run, quiet=a.quiet)


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    logging.basicConfig(level=logging.WARNING if config.quiet else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        result = curate(config)
    except (FileNotFoundError, ValueError) as exc:
        logging.getLogger("curate").error("%s", exc)
        return 2
    if not config.quiet:
        print(("dry run, nothing moved\n" if config.dry_run else f"dataset written to {config.out}\n")
              + result.markdown())
    if result.problems:
        logging.getLogger("curate").error("%d problems (see above)", result.problems)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "curate"))
