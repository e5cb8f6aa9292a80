"""The one error for data that is not there: a missing image folder, or a download that cannot happen."""


class DataUnavailable(RuntimeError):
    """The requested images cannot be read or downloaded; the message says where they were looked for."""
