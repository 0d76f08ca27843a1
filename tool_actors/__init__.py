"""Tools, scorers and encoders: interfaces, registries, implementations, and the Ray actors that share them."""
