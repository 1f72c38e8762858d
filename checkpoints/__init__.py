"""The shipped checkpoints (package data): installed as ``stabilitylab.checkpoints`` from this
top-level ``checkpoints/`` folder (``setup.py`` maps it), read by
:data:`stabilitylab.checkpoint.SHIPPED_DIR`."""
