"""Model side of codenet-fpga: PyTorch + Brevitas layers, the network, data, training, evaluation."""
