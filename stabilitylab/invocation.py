"""The command line that asked for the outputs being made: the CLI sets :data:`COMMAND_LINE`
around a command (the library never reads ``sys.argv``); outside it, provenance says "python".
:data:`DEFAULT_CHECKPOINT` is what a command analyses when given neither --ckpt nor --field.
A module of its own, importing nothing heavy, so the CLI can set it before ``--help`` answers."""
from contextvars import ContextVar

COMMAND_LINE: ContextVar[str | None] = ContextVar("stabilitylab_command_line", default=None)

#: the shipped checkpoint analysed by default (``$STABILITYLAB_CHECKPOINT`` overrides)
DEFAULT_CHECKPOINT = "s3200.pt"
