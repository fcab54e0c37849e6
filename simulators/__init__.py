"""Simulated devices on their real wire formats, shops with ground truth, a retail chain."""
