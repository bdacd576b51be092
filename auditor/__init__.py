"""Who can read, copy or tamper with training data and model weights, by which path."""

__version__ = "0.1.0"
