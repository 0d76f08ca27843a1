"""restore-ray: Restore-R1 on Ray — learned, label-free tool chaining for image restoration."""

__version__ = "0.1.0"
