"""Frozen image encoders: the policy's view of an image.

* ``stats`` (``stats.py`` on ``stats_features.py``): hand-crafted degradation statistics, the
  embedded default (no weights, deterministic, ≈ 5–10 ms per 256² image on one core).
* ``detect``, ``stats-detect`` (``detect.py``): the learned degradation detector's 7 logits, alone
  or appended to ``stats`` (weights ship in the package, ≈ 20 ms per 256² image).
* ``clip``, ``clip-b32`` (``clip.py``): open_clip image towers (the paper's CLIP ViT-L/14), from a
  local checkpoint only.
"""
