"""A data set made once and kept in memory: rendering a synthetic scene costs more than a training step.

Images of one shape share a single uint8 array, so loader workers (forked) read it without copies.
"""

from __future__ import annotations

import numpy as np


class InMemory:
    """Every item of `dataset`, made once; items are copies, so augmentation cannot alter the cache."""

    def __init__(self, dataset, progress: bool = False):
        self.name, self.classes = dataset.name, dataset.classes
        indices = range(len(dataset))
        if progress:
            from tqdm import tqdm

            indices = tqdm(indices, desc=f"making {dataset.name}", leave=False, dynamic_ncols=True)
        items = [dataset[i] for i in indices]
        shapes = {im.shape for im, _, _ in items}
        self._images = np.stack([im for im, _, _ in items]) if len(shapes) == 1 else [im for im, _, _ in items]
        self._targets = [(boxes, labels) for _, boxes, labels in items]

    def __len__(self) -> int:
        return len(self._targets)

    def __getitem__(self, i):
        boxes, labels = self._targets[i]
        return self._images[i].copy(), boxes.copy(), labels.copy()
