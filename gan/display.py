"""Training displays for the CycleGAN loop: an HTML page of recent samples and a live visdom view
(the run's loss-curve plot is :func:`gan.runlog.plot_loss_curves`).

Visuals handed in are GAN tensors, N×C×H×W in [-1, 1] (the model's convention); visuals whose
name contains ``mask`` are N×1×H×W in [0, 1]. Only the first item of a batch is shown.
Nothing here is called on ranks other than 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Protocol, Sequence

import numpy as np
import torch

from datasets import io
from plumbing.files import read_json, write_json, write_text


def visual_to_uint8(name: str, tensor: torch.Tensor) -> np.ndarray:
    """First item of an N×C×H×W visual → uint8 RGB H×W×3.

    Images are in [-1, 1]; visuals named ``*mask*`` are in [0, 1]. One channel is repeated to three.
    """
    x = tensor.detach()[0].float().cpu()
    if x.shape[0] not in (1, 3):
        x = x[:3]
    x = x.clamp(0, 1) if "mask" in name else (x.clamp(-1, 1) + 1) / 2
    if x.shape[0] == 1:
        x = x.expand(3, -1, -1)
    return (x.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)


class DisplayError(RuntimeError):
    """The live display cannot be used (visdom missing or no server answering)."""


class Display(Protocol):
    """What the training loop shows: losses as they are logged, and sample visuals."""

    def plot_losses(self, progress: float, losses: Mapping[str, float]) -> None: ...

    def show_visuals(self, iteration: int, epoch: int, visuals: Mapping[str, torch.Tensor]) -> None: ...


class NoDisplay:
    """``--display none``: show nothing."""

    def plot_losses(self, progress: float, losses: Mapping[str, float]) -> None:
        pass

    def show_visuals(self, iteration: int, epoch: int, visuals: Mapping[str, torch.Tensor]) -> None:
        pass


@dataclass
class _Row:
    iteration: int
    epoch: int
    images: list[tuple[str, str]]  # (visual name, file name relative to web/)


class HTMLDisplay:
    """``web/index.html``: the ``keep`` most recent sample rows, newest first (dominate).

    Images go to ``web/images/iterNNNNNNNN_NAME.png``; files of rows that fall off the page are
    deleted. The row list is kept in ``web/rows.json`` so a resumed run continues the page.
    """

    def __init__(self, web_dir: Path, title: str, keep: int = 10) -> None:
        self.web_dir = Path(web_dir)
        self.image_dir = self.web_dir / "images"
        self.title = title
        self.keep = keep
        self.rows: list[_Row] = []
        state = self.web_dir / "rows.json"
        if state.exists():
            self.rows = [_Row(r["iteration"], r["epoch"], [tuple(i) for i in r["images"]])
                         for r in read_json(state)]

    def plot_losses(self, progress: float, losses: Mapping[str, float]) -> None:
        pass

    def show_visuals(self, iteration: int, epoch: int, visuals: Mapping[str, torch.Tensor]) -> None:
        images = []
        for name, tensor in visuals.items():
            rel = f"images/iter{iteration:08d}_{name}.png"
            io.write_image(self.web_dir / rel, visual_to_uint8(name, tensor))
            images.append((name, rel))
        self.rows = [r for r in self.rows if r.iteration != iteration] + [_Row(iteration, epoch, images)]
        self.rows.sort(key=lambda r: r.iteration)
        dropped, self.rows = self.rows[:-self.keep], self.rows[-self.keep:]
        for row in dropped:
            for _, rel in row.images:
                (self.web_dir / rel).unlink(missing_ok=True)
        write_json(self.web_dir / "rows.json",
                      [{"iteration": r.iteration, "epoch": r.epoch, "images": r.images} for r in self.rows])
        write_text(self.web_dir / "index.html", render_page(self.title, self.rows))


def render_page(title: str, rows: Sequence[_Row]) -> str:
    """The sample page as HTML text; captions are escaped by dominate."""
    import dominate
    from dominate import tags

    doc = dominate.document(title=title)
    with doc.head:
        tags.meta(http_equiv="refresh", content="60")
        tags.style("td{padding:4px;text-align:center;font:12px sans-serif} img{width:192px}")
    with doc:
        tags.h1(title)
        for row in reversed(rows):
            tags.h3(f"iteration {row.iteration}, epoch {row.epoch}")
            with tags.table():
                with tags.tr():
                    for name, rel in row.images:
                        with tags.td():
                            tags.a(tags.img(src=rel, alt=name), href=rel)
                            tags.br()
                            tags.span(name)
    return doc.render()


class VisdomDisplay:
    """Live display in a visdom server on localhost: one line plot of all losses, one image grid.

    The server must already run (``python -m visdom.server -port PORT``); the window names are
    ``NAME_losses`` and ``NAME_images`` in the visdom environment ``NAME``.
    """

    def __init__(self, name: str, port: int, server: str = "http://127.0.0.1", timeout_s: float = 10.0) -> None:
        try:
            import visdom
        except ImportError as e:
            raise DisplayError("--display visdom needs the visdom package: "
                               "pip install 'setuptools<81' && pip install --no-build-isolation visdom==0.2.4") from e
        self.env = name
        self.loss_win = f"{name}_losses"
        self.image_win = f"{name}_images"
        problem = f"no visdom server answers at {server}:{port}"
        try:
            self.vis = visdom.Visdom(server=server, port=port, env=name, raise_exceptions=True,
                                     use_incoming_socket=False)
            connected = self.vis.check_connection(timeout_seconds=timeout_s)
        except Exception as e:  # requests' connection errors, visdom's own
            connected, problem = False, f"{problem} ({e})"
        if not connected:
            raise DisplayError(f"{problem}; start one with `python -m visdom.server -port {port} --hostname 127.0.0.1 "
                               f"-bind_local` or use --display html")
        self._loss_names: Optional[list[str]] = None

    def plot_losses(self, progress: float, losses: Mapping[str, float]) -> None:
        names = sorted(losses)
        update = "append" if self._loss_names == names and self.vis.win_exists(self.loss_win, env=self.env) else None
        self._loss_names = names
        x = np.full((1, len(names)), progress)
        y = np.array([[losses[n] for n in names]])
        self.vis.line(X=x, Y=y, win=self.loss_win, env=self.env, update=update,
                      opts={"title": f"{self.env} losses", "legend": names, "xlabel": "epoch", "ylabel": "loss"})

    def show_visuals(self, iteration: int, epoch: int, visuals: Mapping[str, torch.Tensor]) -> None:
        grid = np.stack([visual_to_uint8(n, t).transpose(2, 0, 1) for n, t in visuals.items()])
        self.vis.images(grid, nrow=len(visuals), win=self.image_win, env=self.env,
                        opts={"title": f"{self.env} iteration {iteration}", "caption": " | ".join(visuals)})


def make_display(kind: str, run_dir: Path, name: str, port: int, keep: int = 10) -> Display:
    """``none`` | ``html`` | ``visdom`` (visdom also writes the HTML page)."""
    if kind == "none":
        return NoDisplay()
    html = HTMLDisplay(run_dir / "web", title=f"{name}: recent samples", keep=keep)
    if kind == "html":
        return html
    if kind == "visdom":
        return _Both(html, VisdomDisplay(name, port))
    raise ValueError(f"unknown display {kind!r}: choose none, html or visdom")


class _Both:
    def __init__(self, *displays: Display) -> None:
        self.displays = displays

    def plot_losses(self, progress: float, losses: Mapping[str, float]) -> None:
        for d in self.displays:
            d.plot_losses(progress, losses)

    def show_visuals(self, iteration: int, epoch: int, visuals: Mapping[str, torch.Tensor]) -> None:
        for d in self.displays:
            d.show_visuals(iteration, epoch, visuals)
