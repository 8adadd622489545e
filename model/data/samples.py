"""Writes the demo's sample images (host/samples/): held-out synthetic scenes, one of them wide.

python -m codenet.model.data.samples [folder]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from codenet.model.data.synthetic import SyntheticDetection

SAMPLES = Path(__file__).resolve().parents[2] / "host" / "samples"


def write_samples(folder: Path = SAMPLES, n: int = 4) -> list:
    folder.mkdir(parents=True, exist_ok=True)
    scenes = SyntheticDetection(n + 2, size=256, seed=2026, split="test")
    paths = []
    for i in range(n):
        paths.append(folder / f"scene{i}.jpg")
        Image.fromarray(scenes[i][0]).save(paths[-1], quality=90)
    # a 512x256 frame: the host letterboxes it to the network's square input
    wide = np.concatenate([scenes[n][0], scenes[n + 1][0]], axis=1)
    paths.append(folder / "wide.jpg")
    Image.fromarray(wide).save(paths[-1], quality=90)
    return paths


if __name__ == "__main__":
    for p in write_samples(Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLES):
        print(p)
