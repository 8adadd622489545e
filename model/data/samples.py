"""Writes the demo's sample images: held-out synthetic scenes, one of them wide (host/samples/), and
aerial crops that no training or tuning saw (host/samples/trees/, from the deepforest wheel).

python -m codenet.model.data.samples [folder]
python -m codenet.model.data.samples --trees [folder]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from codenet.model.data.synthetic import SyntheticDetection

SAMPLES = Path(__file__).resolve().parents[2] / "host" / "samples"
#: (file, scene, (x, y, width, height)): a 448x448 piece of the YELL test band (larger than the input:
#: the host's --tile case) and the two cross-site images whole
TREE_SAMPLES = (
    ("yell_test_band.jpg", "2019_YELL_2_528000_4978000_image_crop2", (960, 2000, 448, 448)),
    ("osbs_029.jpg", "OSBS_029", (0, 0, 400, 400)),
    ("soap_061.jpg", "SOAP_061", (0, 0, 400, 400)),
)
TREE_ATTRIBUTION = """# Aerial samples: where they come from

NEON (National Ecological Observatory Network) RGB orthophotos at 0.1 m per pixel, as shipped with
their crown annotations in the data folder of DeepForest 2.1.0 (https://github.com/weecology/DeepForest,
MIT licence, (c) Ben Weinstein and contributors), `deepforest/data/` in the wheel on PyPI:

{rows}
None of these pixels is used for training or tuning the tree detector: the YELL crop lies in that
image's test band, OSBS and SOAP are the cross-site test. Made by
`python -m codenet.model.data.samples --trees` from the wheel that `make trees-data` downloads.
"""


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


def write_tree_samples(folder: Path = SAMPLES / "trees", path=None) -> list:
    from codenet.host.io import write_bytes_atomic
    from codenet.model.data.trees import find_data, load_scene

    data = find_data(path)
    folder.mkdir(parents=True, exist_ok=True)
    paths, rows = [], []
    for name, scene, (x, y, w, h) in TREE_SAMPLES:
        image = load_scene(data, scene)[0][y:y + h, x:x + w]
        paths.append(folder / name)
        Image.fromarray(image).save(paths[-1], quality=85)
        rows.append(f"- `{name}`: `{scene}.png`, pixels x {x}..{x + w}, y {y}..{y + h}")
    write_bytes_atomic(TREE_ATTRIBUTION.format(rows="\n".join(rows) + "\n").encode(), folder / "ATTRIBUTION.md")
    return paths + [folder / "ATTRIBUTION.md"]


if __name__ == "__main__":
    args = sys.argv[1:]
    trees = "--trees" in args
    args = [a for a in args if a != "--trees"]
    write = write_tree_samples if trees else write_samples
    for p in write(Path(args[0])) if args else write():
        print(p)
