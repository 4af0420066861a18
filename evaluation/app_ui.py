"""The local app's web page (Gradio): its layout and the callbacks that tie it to evaluation.app.

Gradio is imported by :func:`build_blocks` only (the ``app`` extra); :class:`Callbacks` holds the
page's behaviour as plain methods, values in and values out, so tests call them directly. Every
callback that can meet bad input (a file that is not a photo, a checkpoint of the wrong kind)
shows one line in the page's status box and leaves the session as it was: the app stays up.
Previews are written as JPEG into the app's temporary folder (which Gradio serves and the program
removes on exit), faster than Gradio's own encoding; the saved results are PNG at full resolution.
(No ``from __future__ import annotations`` here: Gradio reads the callbacks' type hints at run time
to pass the click's ``gradio.SelectData``.)
"""
import dataclasses
import html
import itertools
import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import cv2
import numpy as np

from compositing.methods import METHODS
from compositing.pipeline import REFINEMENTS
from datasets.io import DEFAULT_MAX_PIXELS, ImageError
from segdepth.depth.metric import DEFAULT_FOCAL_35MM

from . import app as A
from . import app_save as S

log = logging.getLogger(__name__)

#: what one bad input may raise: shown in the page, the app goes on
INPUT_ERRORS = (ImageError, ValueError, OSError, RuntimeError, MemoryError)
VIEWS = ("result", "mask", "depth")
NO_B, PINNED = "(none)", "pinned settings"
FOCAL_CHOICES = (24, 28, 35, 50, 85, 135)
BLADE_CHOICES = [("round (disk)", 0)] + [(f"{n} blades", n) for n in (5, 6, 7, 8, 9)]
UPLOAD_TYPES = ["image", ".heic", ".heif"]
CHECKPOINT_TYPES = [".pt", ".pth"]


@dataclass
class PageConfig:
    """What the page needs from the program: where saves go, the limits, the preview size, the GANs
    given on the command line and a photo to open first."""

    out: Path
    temp_dir: Path
    max_pixels: int = DEFAULT_MAX_PIXELS
    preview_side: int = A.PREVIEW_SIDE
    gans: dict[str, A.GanMethod] = field(default_factory=dict)
    photo: Optional[str] = None


class PreviewFiles:
    """Writes preview images as JPEG (quality 92) into ``folder`` and keeps only the ``keep`` newest."""

    def __init__(self, folder: Path, keep: int = 96) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._names = itertools.count()
        self._written: deque[Path] = deque()
        self._keep = keep
        self._lock = threading.Lock()
        self._original: Optional[tuple[str, str]] = None

    def original(self, photo: A.Photo) -> str:
        """The path of ``photo``'s preview copy, written once per photo."""
        if self._original is None or self._original[0] != photo.key or not Path(self._original[1]).exists():
            self._original = (photo.key, self.write(photo.preview))
        return self._original[1]

    def write(self, image: np.ndarray) -> str:
        """The path of a new JPEG of ``image`` (uint8 RGB)."""
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
        if not ok:
            raise OSError("cannot encode the preview")
        with self._lock:
            path = self.folder / f"{next(self._names)}.jpg"
            path.write_bytes(data.tobytes())
            self._written.append(path)
            while len(self._written) > self._keep:
                self._written.popleft().unlink(missing_ok=True)
        return str(path)


def status(text: str, kind: str = "info") -> str:
    """The status box's HTML: ``text`` escaped, styled as ``info``, ``error`` or ``done``."""
    mark = {"error": "⚠ ", "done": "✓ "}.get(kind, "")
    return f'<div class="app-status {kind}">{mark}{html.escape(text)}</div>'


def settings_from(method: str, aperture: str, f_number: float, focal: float, strength: float, blades: int,
                  rotation: float, highlight: float, grain: bool, k: float, refine: str) -> A.Settings:
    """The controls' values as :class:`evaluation.app.Settings` (focal 0: the photo's own)."""
    return A.Settings(method=method, aperture=aperture, f_number=float(f_number),
                      focal_length_mm=float(focal) if focal else None, strength=float(strength), blades=int(blades),
                      rotation_deg=float(rotation), highlight_gain=float(highlight), grain=bool(grain),
                      k=int(k) if method in A.KERNEL_METHODS else None, refine=refine)


def focal_choices(photo: Optional[A.Photo]) -> list[tuple[str, float]]:
    """The focal-length menu: the photo's own field of view (EXIF, else the portrait lens's 85 mm), then the classics."""
    own = f"the photo's own ({photo.focal_35mm:g} mm, EXIF)" if photo is not None and photo.focal_35mm else \
        f"the photo's own ({DEFAULT_FOCAL_35MM:g} mm assumed)"
    return [(own, 0)] + [(f"{f} mm", f) for f in FOCAL_CHOICES]


@dataclass
class Views:
    """What one render shows: the main view (with the tapped point), the before/after pair, the
    side-by-side pair with captions, and the note on how it was blurred."""

    main: str
    wipe: tuple[str, str]
    side_a: tuple[str, str]
    side_b: Optional[tuple[str, str]]
    note: str


class Callbacks:
    """The page's behaviour (see the module docstring); ``models`` are shared by every tab."""

    def __init__(self, config: PageConfig, models: A.Models) -> None:
        self.config = config
        self.models = models
        self.previews = PreviewFiles(config.temp_dir / "previews")

    # ------------------------------------------------------------------ opening
    def open_file(self, path: Optional[str], session: Optional[A.Session]) -> tuple[Optional[A.Session], str, bool]:
        """(session, status line, whether a photo was opened) for the photo at ``path`` (an
        upload); a bad file keeps ``session`` and says why."""
        if not path:
            return session, status("No file received.", "error"), False
        try:
            photo = A.open_photo(path, self.models, display_name=Path(path).name, max_pixels=self.config.max_pixels,
                                 preview_side=self.config.preview_side)
        except INPUT_ERRORS as exc:
            return session, status(str(exc), "error"), False
        return self._new_session(photo, session)

    def open_astronaut(self, session: Optional[A.Session]) -> tuple[Optional[A.Session], str, bool]:
        """A session on scikit-image's astronaut."""
        return self._new_session(A.open_astronaut(self.models, self.config.preview_side), session)

    def _new_session(self, photo: A.Photo, old: Optional[A.Session]) -> tuple[A.Session, str, bool]:
        h, w = photo.image.shape[:2]
        faces = len(photo.faces)
        session = A.Session(photo, {**self.config.gans, **(old.gans if old else {})})
        return session, status(f"Opened {photo.name}{photo.suffix}: {w}×{h}, {faces} face{'s' * (faces != 1)} found. "
                               "Tap the photo to focus."), True

    # ------------------------------------------------------------------ rendering
    def views(self, session: A.Session, settings: A.Settings, view: str, b_choice: str) -> Views:
        """Render ``settings`` (and the side-by-side's B) on the preview and write what the page shows."""
        photo = session.photo
        a = session.render(settings)
        shown = A.mask_view(photo.preview, a.mask) if view == "mask" else \
            A.depth_view(a.depth, a.focus_depth) if view == "depth" else a.image
        main = self.previews.write(A.marked(shown, photo, session.focus))
        before, after = self.previews.original(photo), self.previews.write(a.image)
        b_settings = self.b_settings(session, settings, b_choice)
        side_b = None
        if b_settings is not None:
            side_b = (self.previews.write(session.render(b_settings).image), "B: " + A.describe(b_settings))
        return Views(main, (before, after), (after, "A: " + A.describe(settings)), side_b, a.note)

    @staticmethod
    def b_settings(session: A.Session, settings: A.Settings, b_choice: str) -> Optional[A.Settings]:
        """The side-by-side's B: the pinned settings, or the current ones with another method (a
        uniform method keeps A's kernel size when A has one)."""
        if b_choice == PINNED:
            return session.pinned
        if b_choice not in METHODS and b_choice not in session.gans:
            return None
        k = (settings.k or default_k(b_choice)) if b_choice in A.KERNEL_METHODS else None
        return dataclasses.replace(settings, method=b_choice, k=k)

    def render(self, session: Optional[A.Session], settings: A.Settings, view: str,
               b_choice: str) -> tuple[Optional[Views], str]:
        """The views of ``settings``, or None and the line that says why not."""
        if session is None:
            return None, status("Open a photo first (or try the astronaut).")
        if settings.method not in METHODS and settings.method not in session.gans:
            return None, status(f"Unknown method {settings.method!r}.", "error")
        try:
            return self.views(session, settings, view, b_choice), status(A.describe(settings))
        except INPUT_ERRORS as exc:
            log.exception("render failed")
            return None, status(f"{session.photo.name}: {exc}", "error")

    def tap(self, session: Optional[A.Session], x: float, y: float, settings: A.Settings, view: str,
            b_choice: str) -> tuple[Optional[Views], str]:
        """Focus where the preview was tapped at pixel (x, y), then render."""
        if session is None:
            return None, status("Open a photo first (or try the astronaut).")
        focus = session.tap(x, y)
        views, line = self.render(session, settings, view, b_choice)
        what = "the tapped face" if focus.face is not None else f"the depth at ({focus.xy[0]}, {focus.xy[1]})"
        return views, (line if views is None else status(f"Focus on {what}. " + A.describe(settings)))

    def pin(self, session: Optional[A.Session], settings: A.Settings) -> str:
        """Keep ``settings`` as the side-by-side's B."""
        if session is None:
            return status("Open a photo first (or try the astronaut).")
        session.pinned = settings
        return status(f"Pinned as B: {A.describe(settings)}. Choose “{PINNED}” under Compare.")

    # ------------------------------------------------------------------ saving, GANs
    def save(self, session: Optional[A.Session], settings: A.Settings) -> str:
        """Render at full resolution and write the result and its config (evaluation.app_save.save)."""
        if session is None:
            return status("Open a photo first (or try the astronaut).")
        try:
            saved = S.save(session, settings, self.models, self.config.out, self.config.max_pixels)
        except INPUT_ERRORS as exc:
            log.exception("save failed")
            return status(f"Not saved: {exc}", "error")
        return status(f"Saved {saved.result} (full resolution) and {saved.config.name}; repeat it with: "
                      f"{saved.command}", "done")

    def add_gan(self, session: Optional[A.Session], path: Optional[str], name: str) -> tuple[Optional[A.Session], str]:
        """Load the checkpoint uploaded at ``path`` as the GAN method ``name`` (default: its file's stem)."""
        if session is None:
            return session, status("Open a photo first, then add a GAN checkpoint.")
        if not path:
            return session, status("Choose a checkpoint file (.pt) first.", "error")
        shown = Path(path).name
        try:
            gan = A.load_gan((name or "").strip() or A.safe_name(shown), path, uploaded=True)
        except INPUT_ERRORS as exc:
            return session, status(str(exc).replace(str(path), shown), "error")
        session.gans[gan.name] = gan
        return session, status(f"Added the GAN {gan.name} ({shown}) as a method.", "done")

    def method_names(self, session: Optional[A.Session]) -> list[str]:
        """Every method the method menu offers: the compositor's, then the GANs'."""
        gans = session.gans if session is not None else self.config.gans
        return [*METHODS, *gans]


def default_k(method: str) -> Optional[int]:
    """The default kernel size of a uniform method (None for the others)."""
    return getattr(METHODS[method].params_type(), "k", None) if method in METHODS else None


CSS = """
.app-status { padding: 6px 10px; border-radius: 6px; background: #eef2f7; }
.app-status.error { background: #fde8e8; color: #8a1010; font-weight: 600; }
.app-status.done { background: #e6f4ea; color: #14532d; }
#photo img { cursor: crosshair; }
"""


def build_blocks(callbacks: Callbacks) -> Any:
    """The page (a gradio.Blocks): the photo to tap, before/after and side-by-side views, controls,
    compare, GAN and save."""
    # longer than 80 lines: Gradio builds a page inside one Blocks context, and its event handlers
    # are closures over the components made there; splitting it would pass ~30 components around
    import gradio as gr

    cb = callbacks
    lens = A.Settings()
    with gr.Blocks(analytics_enabled=False, title="shallowdof") as blocks:
        state = gr.State(None)
        gr.Markdown("## shallowdof: tap to focus, set the aperture, compare, save")
        with gr.Row():
            with gr.Column(scale=3):
                with gr.Tabs():
                    with gr.Tab("Photo: tap to focus", id="photo-tab"):
                        main = gr.Image(label="preview", interactive=False, elem_id="photo",
                                        buttons=["fullscreen"], show_label=False)
                    with gr.Tab("Before / after", id="wipe-tab"):
                        wipe = gr.ImageSlider(label="before / after", interactive=False, elem_id="wipe",
                                              buttons=["fullscreen"])
                    with gr.Tab("Side by side", id="side-tab"):
                        with gr.Row():
                            side_a = gr.Image(label="A", interactive=False, elem_id="side-a", buttons=["fullscreen"])
                            side_b = gr.Image(label="B", interactive=False, elem_id="side-b", buttons=["fullscreen"])
                save = gr.Button("Save full resolution", variant="primary", elem_id="save")
                message = gr.HTML(status("Open a photo (JPEG, PNG, HEIC) or try the astronaut."), elem_id="status")
                note = gr.HTML("", elem_id="note")
            with gr.Column(scale=1, min_width=300):
                upload = gr.File(label="Open a photo (drop it here)", file_types=UPLOAD_TYPES, type="filepath",
                                 elem_id="upload")
                astronaut = gr.Button("Try the astronaut", elem_id="astronaut")
                method = gr.Dropdown(cb.method_names(None), value=lens.method, label="method", elem_id="method")
                with gr.Group(visible=True) as lens_group:
                    aperture = gr.Radio([("strength (relative)", "strength"), ("f-number (virtual lens)", "f_number")],
                                        value=lens.aperture, label="aperture", elem_id="aperture")
                    f_number = gr.Slider(1.0, 22.0, value=lens.f_number, step=0.1, label="f-number", elem_id="f-number",
                                         visible=lens.aperture == "f_number")
                    focal = gr.Dropdown(focal_choices(None), value=0, label="focal length (full-frame equivalent)",
                                        elem_id="focal", visible=lens.aperture == "f_number")
                    strength = gr.Slider(0.0, 0.03, value=lens.strength, step=0.0005, label="strength",
                                         elem_id="strength", visible=lens.aperture == "strength")
                    blades = gr.Dropdown(BLADE_CHOICES, value=lens.blades, label="aperture blades", elem_id="blades")
                    rotation = gr.Slider(0.0, 180.0, value=lens.rotation_deg, step=1.0, label="blade rotation (°)")
                    highlight = gr.Slider(1.0, 20.0, value=lens.highlight_gain, step=0.5, label="highlight boost")
                    grain = gr.Checkbox(value=lens.grain, label="grain (the photo's own noise on the blur)")
                k = gr.Slider(1, 101, value=21, step=2, label="kernel size k", visible=False, elem_id="k")
                refine = gr.Radio(list(REFINEMENTS), value=lens.refine, label="mask refinement", elem_id="refine")
                view = gr.Radio(list(VIEWS), value="result", label="view", elem_id="view")
                with gr.Accordion("Compare", open=True):
                    b_choice = gr.Dropdown([NO_B, PINNED, *cb.method_names(None)], value=NO_B,
                                           label="side by side: B", elem_id="b-choice")
                    pin = gr.Button("Pin the current settings as B", elem_id="pin")
                with gr.Accordion("Add a GAN checkpoint", open=False):
                    gan_file = gr.File(label="train_cyclegan checkpoint (.pt)", file_types=CHECKPOINT_TYPES,
                                       type="filepath", elem_id="gan-file")
                    gan_name = gr.Textbox(label="name", placeholder="the file's name", elem_id="gan-name")
                    add_gan = gr.Button("Add as a method", elem_id="add-gan")

        controls = [method, aperture, f_number, focal, strength, blades, rotation, highlight, grain, k, refine]
        shown = [main, wipe, side_a, side_b, note]
        work = dict(concurrency_id="work", concurrency_limit=1, show_progress="minimal")

        def pictures(views: Optional[Views]) -> list:
            if views is None:
                return [gr.skip()] * len(shown)
            b = gr.Image(value=views.side_b[0], label=views.side_b[1]) if views.side_b else gr.Image(value=None, label="B")
            return [views.main, views.wipe, gr.Image(value=views.side_a[0], label=views.side_a[1]), b,
                    status(views.note)]

        def rerender(session, *values):
            *control_values, view_value, b_value = values
            views, line = cb.render(session, settings_from(*control_values), view_value, b_value)
            return [*pictures(views), line]

        def opened(session, line, ok, *values):
            if not ok:
                return [session, *[gr.skip()] * (len(shown) + 2), line]
            *control_values, view_value, b_value = values
            views, render_line = cb.render(session, settings_from(*control_values), view_value, b_value)
            return [session, gr.Dropdown(choices=focal_choices(session.photo), value=0),
                    gr.Dropdown(choices=cb.method_names(session)), *pictures(views),
                    line if views is not None else render_line]

        def on_upload(path, session, *values):
            return [*opened(*cb.open_file(path, session), *values), None]  # the upload box empties again

        def on_astronaut(session, *values):
            return opened(*cb.open_astronaut(session), *values)

        def on_load(session, *values):
            if cb.config.photo is None:
                return [session, *[gr.skip()] * (len(shown) + 2), gr.skip()]
            return opened(*cb.open_file(cb.config.photo, session), *values)

        def on_tap(evt: gr.SelectData, session, *values):
            *control_values, view_value, b_value = values
            x, y = evt.index
            views, line = cb.tap(session, x, y, settings_from(*control_values), view_value, b_value)
            return [*pictures(views), line]

        def on_method(name):
            return gr.Group(visible=name == "lens"), gr.Slider(visible=name in A.KERNEL_METHODS,
                                                               value=default_k(name) or 21)

        def on_aperture(mode):
            return [gr.Slider(visible=mode == "f_number"), gr.Dropdown(visible=mode == "f_number"),
                    gr.Slider(visible=mode == "strength")]

        def on_pin(session, *values):
            return cb.pin(session, settings_from(*values))

        def on_save(session, *values):
            return cb.save(session, settings_from(*values))

        def on_add_gan(session, path, name, b_value):
            session, line = cb.add_gan(session, path, name)
            menu = cb.method_names(session)
            return session, gr.Dropdown(choices=menu), gr.Dropdown(choices=[NO_B, PINNED, *menu], value=b_value), line

        inputs = [state, *controls, view, b_choice]
        opened_outputs = [state, focal, method, *shown, message]
        upload.upload(on_upload, [upload, *inputs], [*opened_outputs, upload], **work)
        astronaut.click(on_astronaut, inputs, opened_outputs, **work)
        blocks.load(on_load, inputs, opened_outputs, **work)
        main.select(on_tap, inputs, [*shown, message], **work)
        method.change(on_method, method, [lens_group, k], queue=False)
        aperture.change(on_aperture, aperture, [f_number, focal, strength], queue=False)
        for control in [*controls, view, b_choice]:
            control.change(rerender, inputs, [*shown, message], trigger_mode="always_last", **work)
        pin.click(on_pin, [state, *controls], message, **work)
        save.click(on_save, [state, *controls], message, **work)
        add_gan.click(on_add_gan, [state, gan_file, gan_name, b_choice], [state, method, b_choice, message], **work)
    return blocks
