"""What `codenet detect` writes: one output name per input, never two alike, and the detections as
JSON and CSV, each written atomically (a reader or a crash never sees half a file).

detections.json: {"<input>": [{"box": [x1, y1, x2, y2], "score": s, "label": i, "name": "<class>"}, ...]}
with one key per image (its path as given), per video frame ("<video>#<frame>") and per camera frame
("<index>#<frame>"); boxes in the input's own pixels (EXIF orientation applied), best score first.
detections.csv: one row per detection, columns image, name, score, x1, y1, x2, y2 (same keys and values).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

from codenet.host.io import write_bytes_atomic, write_json_atomic

CSV_COLUMNS = ["image", "name", "score", "x1", "y1", "x2", "y2"]


def output_names(sources, suffix_of) -> dict:
    """{source: output file name} for (kind, src) sources, all distinct: `a.jpg`, then `a.png.jpg`
    for a second `a.*` in the same run, then parent folders for the same name from two folders
    (`imgs2_a.jpg`, `imgs2_a.png.jpg`), then a counter. `suffix_of(kind)` is the output's extension (".jpg", ".avi")."""
    def stem(kind, src):
        return f"camera{src}" if kind == "camera" else Path(src).stem

    def folder(src):
        return Path(src).resolve().parent.name

    candidates = [  # cameras are unique by their index already
        lambda k, s: stem(k, s),
        lambda k, s: stem(k, s) if k == "camera" else Path(s).name,
        lambda k, s: stem(k, s) if k == "camera" else f"{folder(s)}_{stem(k, s)}",
        lambda k, s: stem(k, s) if k == "camera" else f"{folder(s)}_{Path(s).name}",
    ]
    names = {}
    todo = list(sources)
    for make in candidates:
        proposed = {src: make(kind, src) + suffix_of(kind) for kind, src in todo}
        counts = Counter(n.lower() for n in [*proposed.values(), *names.values()])
        names.update({src: n for src, n in proposed.items() if counts[n.lower()] == 1})
        todo = [(k, s) for k, s in todo if s not in names]
    for i, (kind, src) in enumerate(todo, start=2):  # same folder names two levels up: number them
        names[src] = f"{stem(kind, src)}-{i}{suffix_of(kind)}"
    return names


def write_results(results: dict, out: Path) -> None:
    """detections.json and detections.csv in `out`, each atomically."""
    write_json_atomic(results, out / "detections.json")
    rows = io.StringIO()
    w = csv.writer(rows)
    w.writerow(CSV_COLUMNS)
    for image, dets in results.items():
        for d in dets:
            w.writerow([image, d["name"], d["score"], *d["box"]])
    write_bytes_atomic(rows.getvalue().encode(), out / "detections.csv")
