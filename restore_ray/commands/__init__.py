"""Sub-commands of the ``restore-ray`` CLI, one module per command group."""
