"""Storage errors with messages meant for the person who caused them."""


class StorageError(Exception):
    """Base class; `str(error)` is a complete sentence safe to show a user."""


class DuplicateError(StorageError):
    """The record exists already (unique constraint), said in words, not as an IntegrityError."""


class NotFoundError(StorageError):
    """The record is gone (deleted meanwhile, or never existed)."""
