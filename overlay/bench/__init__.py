"""`make bench` (`python -m codenet.overlay.bench`): simulator frames/s against onnxruntime on the same
graph, and the host's per-frame costs."""
