"""The errors the builder raises: the CLI reports these as one line instead of a traceback."""


class OfflineBackboneError(RuntimeError):
    """The offline backbone could not be built or failed its checks."""


class RegistryUnavailableError(OfflineBackboneError):
    """A wheel could not be downloaded from PyPI."""
