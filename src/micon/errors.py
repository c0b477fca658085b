"""Exceptions raised by micon's domain code; each is also a ValueError or LookupError."""


class MiconError(Exception):
    """Base of every error micon raises on purpose."""


class InvalidInputError(MiconError, ValueError):
    """An input as a whole is unusable (empty, wrong shape, wrong values)."""


class MissingColumnsError(InvalidInputError):
    """A table lacks columns a function needs."""


class InvalidSmilesError(InvalidInputError):
    """RDKit cannot turn a SMILES into a valid molecule."""


class InvalidImageError(InvalidInputError):
    """An image is unreadable or has the wrong shape, dtype or channel count."""


class InvalidFeaturesError(InvalidInputError):
    """A feature matrix holds NaN or infinite values."""


class InvalidConfigError(InvalidInputError):
    """A configuration value is out of its allowed range."""


class NoControlsError(InvalidInputError):
    """A plate, or every plate, lacks the DMSO control wells a step needs."""


class UnknownNameError(MiconError, LookupError):
    """A name (model, method, step) is not among the known ones."""


class MismatchedOutputsError(InvalidInputError):
    """Outputs that belong together (crop index and store, checkpoint and embeddings) differ in write."""


class TrainingDivergedError(MiconError, ArithmeticError, ValueError):
    """A training loss became NaN or infinite."""


class CheckpointError(InvalidInputError):
    """A training checkpoint cannot be resumed: unreadable, or made with another configuration."""
