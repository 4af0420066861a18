"""shallowdof: synthetic shallow depth of field for portraits, three ways side by side."""
from setuptools import find_packages, setup

# Pinned: torch/torchvision are a matching pair (other pairs fail to import together);
# mediapipe 0.10.14 is the last release whose wheel ships selfie_segmentation.tflite and the
# legacy `solutions` API. It brings opencv-contrib-python, the one OpenCV we use.
INSTALL_REQUIRES = [
    "torch==2.14.1",
    "torchvision==0.29.1",
    "mediapipe==0.10.14",
    "numpy>=1.26,<3",
    "pillow>=10.0",
    "requests>=2.31",
    "dominate==2.9.1",
    "tqdm>=4.66",
    "imagehash==4.3.2",
    "matplotlib>=3.8",
    "scikit-image>=0.22",
    "scipy>=1.11",
    "h5py>=3.10",
    # closed-form matting (Levin et al. 2008) for the mask snap in compositing/matte.py
    "pymatting==1.1.16",
]

EXTRAS = {
    "test": ["pytest>=8.0", "pytest-httpserver>=1.0", "pytest-timeout>=2.3", "pytest-xdist==3.8.0", "ruff==0.17.5"],
    # visdom 0.2.4 imports pkg_resources at build time: needs setuptools<81 in the build env.
    "visdom": ["visdom==0.2.4"],
    "browser": ["websocket-client>=1.7"],
    # LPIPS is optional in evaluation/metrics.py (skipped with a note when missing).
    "lpips": ["lpips==0.1.4"],
    # ONNX export of a generator (gan/export.py, scripts/export_onnx.py): torch's dynamo exporter
    # needs onnxscript. onnx 1.22.0, not 1.23.x: 1.23 requires protobuf >= 6.31, and mediapipe 0.10.14
    # (which needs protobuf < 5) fails with it; 1.22.0 takes protobuf >= 4.25.1.
    "onnx": ["onnx==1.22.0", "onnxscript==0.7.2", "onnxruntime==1.31.1"],
    # the local app (scripts/app.py): its web page, and HEIC photos (datasets.io reads them when
    # pillow-heif is there). Gradio pins pillow<13.
    "app": ["gradio==6.31.0", "pillow-heif==1.8.1"],
}

setup(
    name="shallowdof",
    version="0.1.0",
    description="Synthetic shallow depth of field for portraits: lens blur, CycleGAN, segmentation and depth",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["plumbing*", "datasets*", "segdepth*", "compositing*", "gan*", "evaluation*",
                                    "shallowdof*"]),
    # one command for every program: `shallowdof NAME ...` (shallowdof/programs.py lists them)
    entry_points={"console_scripts": ["shallowdof = shallowdof.__main__:main"]},
    # the local fake Flickr answers from real answer shapes (datasets/testing/flickr/README.md)
    package_data={"datasets.testing": ["flickr/*.json", "flickr/README.md"]},
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS,
)
