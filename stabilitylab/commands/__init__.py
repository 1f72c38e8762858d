"""One module per CLI command; each defines ``command`` (a click.Command).

Module ``eps_sweep.py`` becomes ``stabilitylab eps-sweep``; ``common.py`` is shared plumbing.
"""
