"""``--display visdom``: a real visdom server on 127.0.0.1 receives the loss plot and the sample
images of a short training run (read back through the visdom API).

The server normally downloads its browser scripts from CDNs at first start, which cannot work
offline. Its ``download_scripts`` skips every file already present when ``static/version.built``
holds the installed version, so the test lets visdom's own downloader write stand-ins into a
private copy of its static folder (network calls answered locally), then serves from that copy.
The installed package's folder is never touched.
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

visdom = pytest.importorskip("visdom", reason="visdom is not installed: pip install 'setuptools<81' && "
                                              "pip install --no-build-isolation visdom==0.2.4")

from datasets.synthetic import write_unaligned_dataset  # noqa: E402
from gan import train as T  # noqa: E402
from gan.cli import train_cyclegan as P  # noqa: E402
from gan.display import DisplayError, VisdomDisplay  # noqa: E402

TINY = ["--netG", "resnet", "--n-blocks", "1", "--ngf", "4", "--ndf", "4", "--n-layers-D", "2",
        "--vgg-weights", "none", "--load-size", "36", "--crop-size", "32", "--num-workers", "0", "--quiet"]

STAND_INS = '''
import sys
import requests
import visdom.server.build as build

class Reply:
    content = b"/* offline stand-in written by tests/gan/test_visdom.py */\\n"
    def read(self):
        return self.content

class Opener:
    def open(self, request, *args, **kwargs):
        return Reply()

build.request.build_opener = lambda *handlers: Opener()
requests.get = lambda url, *args, **kwargs: Reply()
build.download_scripts(install_dir=sys.argv[1])
'''

SERVE = '''
import shutil, sys
import visdom.server.app as app
import visdom.server.build as build
from visdom.server.run_server import main
from visdom.utils.shared_utils import get_visdom_path

install_dir, port, env_path = sys.argv[1:4]
shutil.copytree(get_visdom_path("static"), install_dir + "/static", dirs_exist_ok=True)
build.download_scripts(install_dir=install_dir)  # everything is there: nothing is fetched
app.tornado_settings["static_path"] = app.tornado_settings["template_path"] = install_dir + "/static"
sys.argv = ["visdom", "-port", port, "--hostname", "127.0.0.1", "-bind_local", "-env_path", env_path]
main()
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def visdom_server(tmp_path):
    install = tmp_path / "visdom"
    (tmp_path / "stand_ins.py").write_text(STAND_INS)
    (tmp_path / "serve.py").write_text(SERVE)
    subprocess.run([sys.executable, str(tmp_path / "stand_ins.py"), str(install)], check=True, timeout=120,
                   capture_output=True)
    port = _free_port()
    log = open(tmp_path / "server.log", "w")
    server = subprocess.Popen([sys.executable, str(tmp_path / "serve.py"), str(install), str(port),
                               str(tmp_path / "env")], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, "visdom server did not start"
            time.sleep(0.2)
        yield port, install
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.mark.slow
def test_training_shows_losses_and_images_in_visdom(tmp_path, visdom_server):
    port, install = visdom_server
    assert b"stand-in" in (install / "static" / "js" / "plotly-plotly.min.js").read_bytes()
    data = tmp_path / "data"
    write_unaligned_dataset(data, n_train=3, n_test=1, size=(40, 40), seed=2)
    cfg = P.parse_args(["--dataroot", str(data), "--runs-dir", str(tmp_path / "runs"), "--name", "vis", *TINY,
                        "--display", "visdom", "--display-port", str(port), "--max-steps", "3",
                        "--log-every", "1", "--display-every", "2"])
    result = T.train(cfg)

    client = visdom.Visdom(server="http://127.0.0.1", port=port, env="vis", use_incoming_socket=False)
    assert client.win_exists("vis_losses", env="vis") and client.win_exists("vis_images", env="vis")

    plot = json.loads(client.get_window_data("vis_losses", env="vis"))
    traces = {t["name"]: t for t in plot["content"]["data"]}
    assert set(traces) == set(result.model.loss_names)
    records = [json.loads(line) for line in (tmp_path / "runs" / "vis" / "log.jsonl").read_text().splitlines()]
    for name, trace in traces.items():  # the live plot holds the logged points, appended one by one
        np.testing.assert_allclose(trace["x"], [r["progress"] for r in records], rtol=1e-5)
        np.testing.assert_allclose(trace["y"], [r[name] for r in records], rtol=1e-6)

    images = json.loads(client.get_window_data("vis_images", env="vis"))
    assert images["title"] == "vis iteration 3"  # shown at step 2, then once more when the run ends
    assert images["content"]["src"].startswith("data:image/png;base64,")
    assert (tmp_path / "runs" / "vis" / "web" / "index.html").is_file()  # the HTML page is kept too


def test_visdom_display_without_server_says_how_to_start_one():
    with pytest.raises(DisplayError, match=r"no visdom server answers at http://127\.0\.0\.1:\d+.*visdom\.server"):
        VisdomDisplay("x", _free_port(), timeout_s=1)
