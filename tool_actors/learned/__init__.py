"""Networks trained by this project, shipped inside the package: a learned no-reference judge
(scorer ``judge-small``) and small restoration experts (``dejpeg-small``, …).

They are trained without human labels from the project's own synthetic degradations of the
builtin TRAIN photographs (``restore-ray judge train``, ``restore-ray tools train CATEGORY``);
the weights (``weights/*.safetensors``) and a JSON card each (settings, seed, data, measured
quality, training time) ship with the package.
"""
