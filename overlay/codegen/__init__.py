"""Our HLS kernels (hls/include/codenet) as FINN HLS ops: the backend, the ops, specialization of the
folded graph, code generation and cppsim."""
