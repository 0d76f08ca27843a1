"""The embedded classical toolbox: OpenCV / NumPy / SciPy operators for all seven degradations.

Importing this package registers every tool in ``tool_actors.registry.TOOLS`` (embedded,
backend ``classical``). Each tool is blind (parameters fixed or estimated from the image alone),
deterministic, and works image by image on any size; see ``base.ClassicalTool`` for how tiny
images are handled.
"""

from tool_actors.classical import brighten, deblur, dehaze, dejpeg, denoise, derain  # noqa: F401 (registers)
