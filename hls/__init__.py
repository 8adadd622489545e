"""Header-only HLS C++ kernels (hls/include) and the Python C-simulation harness."""
