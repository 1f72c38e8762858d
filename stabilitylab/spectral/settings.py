"""The settings of one spectrum, frozen and validated: what ``stabilitylab spectrum`` and every
point of ``stabilitylab sweep spectrum``/``batches`` compute with. The CLI's options are
generated from these fields (their defaults and ``help``), so the commands cannot drift apart."""
from dataclasses import asdict, dataclass, field

from ..errors import ConfigError

DIAGNOSTICS = ("fast", "full", "none")
SEARCHES = ("shared", "separate")  # a continuation's, per point
SPECTRUM_SEARCHES = (*SEARCHES, "blocks")  # one spectrum's: also per sequence of a batch


@dataclass(frozen=True)
class SpectrumSettings:
    """Keyword arguments of :func:`~stabilitylab.spectral.spectrum.spectrum` (:meth:`kwargs`)."""

    eps: float | None = field(default=None, metadata={
        "help": "Euler step size ε (M = I + εJ). Default: the ε the checkpoint was trained and deployed at "
                "(recorded in it), else 0.1."})
    k: int = field(default=8, metadata={"help": "Eigenvalues wanted from each search."})
    tol: float = field(default=1e-8, metadata={"help": "Relative eigen-residual tolerance."})
    ncv: int | None = field(default=None, metadata={
        "help": "Krylov subspace size (default: shared search max(2K+1, 60) for K wanted in all; separate "
                "searches max(2k+1, 40))."})
    diagnostics: str = field(default="fast", metadata={
        "help": "Non-normality diagnostics (‖Av‖/‖Jv‖, ω(J), ‖A‖, transient growth): fast (tol 1e-3; ‖A‖ only "
                "where ω < 0; the growth within a work budget of ~100 products at n = 131,072, shown as a "
                "lower bound if that does not certify it), full (tol 1e-8, everything certified) or none.",
        "choices": DIAGNOSTICS})
    search: str = field(default="shared", metadata={
        "help": "shared: one Krylov space for J, M and ε_crit; separate: independent searches of J and M; "
                "blocks: one shared search per sequence of a batch (its J is block-diagonal: sequences do not "
                "interact), all run together with one batched product per round, modes labelled by sequence, "
                "the verdict the worst sequence's (1.3× faster than shared at C=512, T=256, B=8).",
        "choices": SPECTRUM_SEARCHES})

    def __post_init__(self):
        if self.eps is not None and not self.eps > 0:
            raise ConfigError(f"eps must be > 0, got {self.eps}", param="eps")
        if self.k < 1:
            raise ConfigError(f"k must be >= 1, got {self.k}", param="k")
        if not self.tol > 0:
            raise ConfigError(f"tol must be > 0, got {self.tol}", param="tol")
        if self.diagnostics not in DIAGNOSTICS:
            raise ConfigError(f"diagnostics must be one of {', '.join(DIAGNOSTICS)}, got {self.diagnostics!r}",
                              param="diagnostics")
        if self.search not in SPECTRUM_SEARCHES:
            raise ConfigError(f"search must be one of {', '.join(SPECTRUM_SEARCHES)}, got {self.search!r}",
                              param="search")
        if self.ncv is not None and self.ncv < self.k + 2:
            raise ConfigError(f"ncv must be >= k + 2 = {self.k + 2}, got {self.ncv}", param="ncv")

    def kwargs(self) -> dict:
        return asdict(self)
