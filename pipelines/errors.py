"""The one exception type whose message is meant for the person using the app."""


class UserFacingError(Exception):
    """Something the person can fix (a silent or unreadable recording, ...).

    `str(error)` is a short, human sentence that the UI shows as it is.
    """
