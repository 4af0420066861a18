"""The image pool of the discriminators: a history of generated images, as in the reference CycleGAN."""
from __future__ import annotations

from typing import Any

import torch


class ImagePool:
    """History of generated images (Shrivastava et al. 2017) as in the reference CycleGAN:
    until ``pool_size`` images are stored each query image is stored and returned; then with
    probability ½ a random stored image is returned and replaced by the query image.

    The random draws come from a ``torch.Generator`` owned by the pool and saved in
    ``state_dict`` with the stored images, so a resumed run continues exactly.
    """

    def __init__(self, pool_size: int, seed: int = 0) -> None:
        self.pool_size = pool_size
        self.images: list[torch.Tensor] = []
        self.generator = torch.Generator()
        self.generator.manual_seed(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """N×C×H×W (detached) -> N×C×H×W mixing new and stored images."""
        images = images.detach()
        if self.pool_size == 0:
            return images
        out = []
        for image in images:
            image = image.unsqueeze(0)
            if len(self.images) < self.pool_size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand((), generator=self.generator).item() > 0.5:
                idx = int(torch.randint(self.pool_size, (), generator=self.generator))
                out.append(self.images[idx])
                self.images[idx] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, 0)

    def state_dict(self) -> dict[str, Any]:
        return {"pool_size": self.pool_size, "images": [t.cpu() for t in self.images],
                "rng": self.generator.get_state()}

    def load_state_dict(self, d: dict[str, Any], device: torch.device) -> None:
        if d["pool_size"] != self.pool_size:
            raise ValueError(f"image pool size {d['pool_size']} in the state differs from {self.pool_size}")
        self.images = [t.to(device) for t in d["images"]]
        self.generator.set_state(d["rng"])
