"""User-facing errors: one line saying what went wrong and what to do.

The CLI catches :class:`StabilityLabError` and prints its message without a traceback; anything
else is a bug and keeps its traceback.
"""


class StabilityLabError(Exception):
    """An error caused by the user's input (file, argument, field); its message is shown as is.

    Library messages never name CLI options. When the error is about one argument, ``param`` names
    it and the message starts with that name (``"out must name a .zarr store"``); the CLI shows
    the option that sets it instead (``--out must name a .zarr store``).
    """

    def __init__(self, *args, param: str | None = None):
        super().__init__(*args)
        self.param = param


class CheckpointError(StabilityLabError):
    """A checkpoint that cannot be read, is corrupt, or does not match its config."""


class ConfigError(StabilityLabError):
    """An invalid model or solver configuration."""


class FieldError(StabilityLabError):
    """A user-supplied field that cannot be imported or does not satisfy the Field contract."""


class NonFiniteError(StabilityLabError):
    """NaN or Inf appeared in a state, a force or a weight."""


class ConvergenceWarning(UserWarning):
    """A solver stopped before reaching its tolerance; the partial result is returned."""


def did_you_mean(name: str, choices) -> str:
    """'; did you mean X?' for the closest of ``choices`` to a mistyped ``name`` ('' if none is close)."""
    import difflib

    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""
