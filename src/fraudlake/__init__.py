"""fraudlake: real-time payment fraud detection on real data engines."""

__version__ = "0.1.0"
