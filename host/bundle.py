"""Loading a bundle (manifest.json + graph.npz [+ codenet.bit/.hwh]) with every check up front."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codenet.host.bundle_check import check_manifest
from codenet.host.errors import CodenetError

BUNDLE_FORMAT = "codenet-bundle/1"
GRAPH_FORMAT = "codenet-graph/1"
DEFAULT_BUNDLE = Path(__file__).parent / "bundles" / "codenet-s"


def sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class Graph:
    input: str
    output: str
    layers: list
    arrays: dict


@dataclass
class Bundle:
    path: Path
    manifest: dict
    graph: Graph

    @property
    def classes(self) -> list:
        return self.manifest["classes"]

    @property
    def input_size(self) -> int:
        return int(self.manifest["input"]["shape"][1])

    @property
    def score_threshold(self) -> float | None:
        """The model's own score threshold (its best F1 on its val split), if the bundle has one."""
        return self.manifest.get("score_threshold")


def load_manifest(path) -> dict:
    path = Path(path)
    if not path.is_dir():
        raise CodenetError(f"{path}: no such bundle folder")
    mpath = path / "manifest.json"
    if not mpath.is_file():
        raise CodenetError(f"{path}: not a bundle (no manifest.json)")
    try:
        manifest = json.loads(mpath.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise CodenetError(f"{mpath}: not valid JSON ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise CodenetError(f"{mpath}: bundle format {found!r}, this version reads {BUNDLE_FORMAT!r}")
    return manifest


def verify_file(bundle_dir: Path, manifest: dict, name: str) -> Path:
    """The file exists and its hash is the manifest's: a file from another build is refused."""
    path = bundle_dir / name
    expected = manifest.get("files", {}).get(name)
    if expected is None:
        raise CodenetError(f"{bundle_dir}: manifest lists no {name}")
    if not path.is_file():
        raise CodenetError(f"{path}: missing (the manifest lists it)")
    if sha256(path) != expected:
        raise CodenetError(f"{path}: hash does not match the manifest (a file from another build?)")
    return path


def load_graph(path) -> Graph:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(str(arrays.pop("__graph__")))
        if not isinstance(meta, dict):
            raise ValueError("graph metadata is not an object")
    except Exception as e:  # numpy raises several types for damaged archives
        raise CodenetError(f"{path}: unreadable graph ({type(e).__name__})") from None
    if meta.get("format") != GRAPH_FORMAT:
        raise CodenetError(f"{path}: graph format {meta.get('format')!r}, this version reads {GRAPH_FORMAT!r}")
    if not all(isinstance(meta.get(k), t) for k, t in (("input", str), ("output", str), ("layers", list))):
        raise CodenetError(f"{path}: graph metadata lacks input/output/layers (a damaged graph)")
    return Graph(meta["input"], meta["output"], meta["layers"], arrays)


def load_bundle(path=None) -> Bundle:
    path = Path(path) if path is not None else DEFAULT_BUNDLE
    manifest = load_manifest(path)
    graph = load_graph(verify_file(path, manifest, "graph.npz"))
    check_manifest(path / "manifest.json", manifest, graph)
    return Bundle(path, manifest, graph)
