"""Errors whose message is the whole story for a user of the ``detector`` command.

The command prints such an error as one line and exits with status 2; anything else is a bug and
keeps its traceback. ``ValueError`` and ``OSError`` (bad input, a missing or unwritable file)
count as user errors too; :class:`UserError` is for the rest, such as a device the machine lacks.
This module imports nothing, so the command line can name the classes without loading torch.
"""


class UserError(Exception):
    """A problem the user can fix (a flag, the machine, an install), explained by the message alone."""


USER_ERRORS = (UserError, ValueError, OSError)
