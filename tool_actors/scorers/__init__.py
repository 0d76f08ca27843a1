"""No-reference image-quality scorers: the reward of restore-ray.

Each module registers its scorers in ``tool_actors.registry.SCORERS`` when imported:

* ``niqe`` (``niqe.py``): NIQE with the original LIVE pristine model, shipped in ``data/``.
* ``piqe`` (``piqe.py``): PIQE, a pure formula.
* ``brisque`` (``brisque_svm.py``): BRISQUE with the SVM the ``brisque`` package ships.
* ``musiq``, ``maniqa``, ``clipiqa`` (``pyiqa_nets.py``): pyiqa's networks, weights from the
  weights directory only.
* ``deqa`` (``deqa.py`` on ``deqa_arch.py``): DeQA-Score, the paper's reward, from a local folder.
* ``nr-combo`` (``combined.py``): a z-score combination of the formula scorers.

Scores are raw (in each metric's own unit and direction); ``Scorer.normalised`` maps them to the
one higher-is-better reward scale using the calibrated ``score_range`` of each scorer.
"""
