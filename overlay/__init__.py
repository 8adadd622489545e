"""FINN flow: custom steps, custom ops, folding, estimates, bundle, bitstream."""
