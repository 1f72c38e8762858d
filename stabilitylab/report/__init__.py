"""PDF stability reports and the figures shared with the CLI.

- :mod:`.battery` — runs (or reuses) the standard analyses on a field, one zarr per stage;
- :mod:`.kinds` — tells which section a stored dataset feeds (``report --from``);
- :mod:`.verdict` — the plain-language verdict, one sentence per section;
- :mod:`.pages` — page layout, from :mod:`.panels` (plots), :mod:`.tables` and :mod:`.figures`
  (palette, spectrum panels); :mod:`.drift` reads training drift in one layout; :mod:`.text`
  formats names and numbers;
- :mod:`.document` — writes the PDF (deterministic metadata) and a PNG per page.

The ``stabilitylab report`` command of the CLI ties them together.
"""
