"""A local web app for one portrait: tap to focus, set the aperture, compare, save at full resolution.

    python scripts/app.py                       # then open the address it prints
    python scripts/app.py photo.jpg --gan dof=runs/dof --out my_blurs

Open a photo (file picker or drag and drop: JPEG, PNG, HEIC with pillow-heif, any format blur.py
reads, EXIF orientation applied) or try the bundled astronaut. Tap the photo to focus there: on the
face tapped, or on the depth at that point. Every compositing method is offered (lens by
default): the lens's aperture as an f-number of a virtual full-frame lens (distances from face
sizes, as blur.py --params f_number=...) or as the relative strength (blur.py's default), its
blades and their rotation, highlight boost, grain; the mask refinement; views of the result, the
mask and the depth. A change renders a preview at screen size (--preview-side) from the photo's
cached mask, matting and depth. Compare before/after with a wipe slider, and two settings or two
methods side by side. --gan NAME=CHECKPOINT (a train_cyclegan checkpoint or run folder), or a
checkpoint added in the page, adds the GAN's translation as one more method.

Save renders the full-resolution photo with the blur program itself and writes, under --out,
NAME/photo/NAME.EXT (a copy of the photo), NAME/METHOD/NAME_METHOD.png and its
blur_METHOD_config.json: `python scripts/blur.py --config FILE` writes the same pixels again. A
GAN's save writes NAME/GAN/NAME.png and a test_config.json that scripts/test_cyclegan.py repeats.

Privacy: the app listens on 127.0.0.1 only (--host to change that, at your own risk), makes no
request that leaves this machine (no share link, no analytics, no update check, no web fonts;
the program refuses any outbound connection), limits uploads to --max-upload-mb and removes its
temporary files (uploads, previews) when it stops. Nothing is written except what Save writes.

The program behind ``scripts/app.py``: :class:`AppConfig`, its parser and :func:`main`; the work is
evaluation/app.py, the page evaluation/app_ui.py (Gradio, the ``app`` extra).
"""
from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from plumbing.cli import EXIT_CODES_EPILOG, EXIT_USAGE, add_download_flag, output_folder
from plumbing.config import add_config_option, parse_config_args
from plumbing.fields import SettingError, add_setting, setting
from datasets.io import DEFAULT_MAX_PIXELS, MAX_PIXELS_CEILING
from segdepth.segment import SEGMENTERS

from evaluation import app as A

log = logging.getLogger("app")

LOOPBACK = "127.0.0.1"
#: environment the web framework and the Hugging Face hub client read at import: no analytics or
#: telemetry, no update check, no hub requests
PRIVATE_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
               "DO_NOT_TRACK": "1", "GRADIO_SHARE": "False"}


@dataclass
class AppConfig:
    """The app's settings (``--config`` reads them from a JSON file); each field declares its flag's
    help and allowed values or range (:func:`plumbing.fields.setting`)."""

    photo: Optional[str] = setting(None, "a photo to open when the page loads")
    host: str = setting(LOOPBACK, f"address to listen on (default {LOOPBACK}: this machine only)", shown_default="")
    port: Optional[int] = setting(None, "port (default 7860 or the next free one)", lo=1, hi=65535)
    out: str = setting("app_out", "where Save writes")
    gan: list[str] = setting(default_factory=list, metavar="NAME=CHECKPOINT",
                             help="add a trained CycleGAN (checkpoint file or run folder) as the method NAME; repeatable")
    segmenter: str = setting("mediapipe", "person segmenter", tuple(sorted(SEGMENTERS)))
    max_pixels: int = setting(DEFAULT_MAX_PIXELS, "refuse photos above this many pixels", lo=1, hi=MAX_PIXELS_CEILING)
    max_upload_mb: int = setting(100, "refuse uploads above this many megabytes", lo=1, hi=10_000)
    preview_side: int = setting(A.PREVIEW_SIDE, "longest side of the preview in pixels", lo=64, hi=8192)
    quiet: bool = setting(False, "log only errors")


def build_parser() -> argparse.ArgumentParser:
    """The command line of scripts/app.py: a flag per AppConfig field, made from its declaration."""
    p = argparse.ArgumentParser(prog="app.py", description=__doc__.split("\nThe program behind")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXIT_CODES_EPILOG)
    add_setting(p, AppConfig, "photo", "photo", nargs="?")
    add_config_option(p)
    add_setting(p, AppConfig, "host")
    add_setting(p, AppConfig, "port")
    add_setting(p, AppConfig, "out", type=output_folder)
    add_setting(p, AppConfig, "gan", action="append")
    for name in ("segmenter", "max_pixels", "max_upload_mb", "preview_side", "quiet"):
        add_setting(p, AppConfig, name)
    add_download_flag(p)
    return p


def parse_gan(spec: str) -> tuple[str, str]:
    """``NAME=CHECKPOINT`` → (name, checkpoint); ValueError for anything else."""
    name, sep, checkpoint = spec.partition("=")
    if not sep or not checkpoint:
        raise ValueError(f"--gan {spec!r}: expected NAME=CHECKPOINT")
    return A.check_method_name(name), checkpoint


def parse_args(argv: Optional[list[str]] = None) -> AppConfig:
    """Command line (and ``--config FILE``) → AppConfig, every value checked; a bad one is one line
    and exit status 2."""
    return parse_config_args(build_parser(), AppConfig, argv, check_config=check_config)[1]


def check_config(cfg: AppConfig) -> None:
    """SettingError for a --gan that is not NAME=CHECKPOINT with a usable name (each setting's own
    type, choices and range are checked before, by its declaration)."""
    for spec in cfg.gan:
        try:
            parse_gan(spec)
        except ValueError as exc:
            raise SettingError("gan", str(exc)) from None


# --------------------------------------------------------------------------------- no outbound requests

def is_local(host: Any, allowed: tuple[str, ...] = ()) -> bool:
    """Whether connecting to ``host`` stays on this machine (a loopback address or name, or one of
    ``allowed``: the address the app itself listens on)."""
    if host is None or not isinstance(host, str) or host in allowed:
        return True  # None: a local bind; bytes and other forms never come from Python's own clients
    name = host.split("%", 1)[0].strip("[]").lower()
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return name == "localhost" or name.endswith(".localhost")


class OutboundRefused(ConnectionRefusedError):
    """A connection or name lookup that would leave this machine, refused by :func:`refuse_outbound`."""


def refuse_outbound(allowed: tuple[str, ...] = ()) -> None:
    """Refuse, for the rest of this process, every connection and name lookup to a host that is not
    local (:func:`is_local`), through a Python audit hook (PEP 578: ``socket.connect``,
    ``socket.getaddrinfo``, ``socket.sendto``): whatever a library would send, nothing leaves the
    machine. Each refusal is logged as a warning and raises :class:`OutboundRefused`."""
    def hook(event: str, args: tuple) -> None:
        if event in ("socket.connect", "socket.sendto"):
            sock, address = args[0], args[1]
            host = address[0] if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple) else None
        elif event == "socket.getaddrinfo":
            host = args[0]
        else:
            return
        if not is_local(host, allowed):
            log.warning("refused a connection to %s: this app makes no request that leaves the machine", host)
            raise OutboundRefused(f"{host}: outbound connections are refused by the local app")

    sys.addaudithook(hook)


# --------------------------------------------------------------------------------- the program

def load_gans(specs: list[str]) -> dict[str, A.GanMethod]:
    """The ``--gan`` methods, loaded now (a missing or wrong checkpoint is one ValueError line)."""
    gans: dict[str, A.GanMethod] = {}
    for spec in specs:
        name, checkpoint = parse_gan(spec)
        if name in gans:
            raise ValueError(f"--gan {spec!r}: the name {name} is given twice")
        gans[name] = A.load_gan(name, checkpoint)
    return gans


def serve(cfg: AppConfig, temp_dir: Path, stop: threading.Event) -> None:
    """Build the page and serve it until ``stop`` is set (Ctrl-C or SIGTERM)."""
    gans = load_gans(cfg.gan)  # before the web framework loads: a bad checkpoint fails at once
    import gradio as gr

    from evaluation.app_ui import CSS, Callbacks, PageConfig, build_blocks

    models = A.Models(cfg.segmenter)
    page = PageConfig(Path(cfg.out).resolve(), temp_dir, cfg.max_pixels, cfg.preview_side, gans, cfg.photo)
    blocks = build_blocks(Callbacks(page, models))
    blocks.queue(default_concurrency_limit=1)
    theme = gr.themes.Default(font=["system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
                              font_mono=["ui-monospace", "Menlo", "Consolas", "monospace"])
    _, url, _ = blocks.launch(server_name=cfg.host, server_port=cfg.port, share=False, prevent_thread_lock=True,
                              quiet=True, footer_links=[], run_history=False, enable_monitoring=False,
                              max_file_size=f"{cfg.max_upload_mb}mb", ssr_mode=False, pwa=False, mcp_server=False,
                              theme=theme, css=CSS, inbrowser=False)
    print(f"shallowdof app: open {url} in a browser (Ctrl-C stops it); Save writes to {page.out}", flush=True)
    threading.Thread(target=A.warm_up, args=(models,), daemon=True, name="warm-up").start()
    try:
        stop.wait()
    finally:
        blocks.close()


def main(argv: Optional[list[str]] = None) -> int:
    """scripts/app.py: serve the app until Ctrl-C or SIGTERM; 2 for a bad command line or checkpoint."""
    cfg = parse_args(argv)
    logging.basicConfig(level=logging.ERROR if cfg.quiet else logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the framework's requests to its own server
    if not is_local(cfg.host):
        log.warning("listening on %s: anyone who can reach this machine can open the app", cfg.host)
    os.environ.update(PRIVATE_ENV)
    refuse_outbound((cfg.host,))
    temp_dir = Path(tempfile.mkdtemp(prefix="shallowdof-app-"))
    os.environ["GRADIO_TEMP_DIR"] = str(temp_dir)  # uploads and previews, removed below
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:  # Ctrl-C goes on to scripts/app.py's one line (exit status 130), after the clean-up below
        serve(cfg, temp_dir, stop)
    except (ValueError, OSError) as exc:  # a bad --gan checkpoint, a port in use
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)
    return 0
