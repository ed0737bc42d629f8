"""The one exception the source normalisers raise for bad input."""

from __future__ import annotations


class PayloadError(ValueError):
    """A payload that cannot be normalised, naming the offending field.

    `field` is a JSON-path-like name ("alerts[2].startsAt", "$" for the whole body) so the
    HTTP layer can answer 400 with something the sender's operator can act on.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"

    def __reduce__(self) -> tuple[type[PayloadError], tuple[str, str]]:
        """Keep the two-argument constructor working across pickling (e.g. multiprocessing)."""
        return (type(self), (self.field, self.message))
