"""Which assets are training data or model weights."""
