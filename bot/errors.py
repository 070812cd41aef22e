"""Errors a user can act on: the CLI prints them as one line and exits with code 2."""


class UserError(Exception):
    """A problem with the user's input or environment, not a bug."""


class ConfigError(UserError):
    """Invalid settings or `app.yaml`; the message names the file, the key and the problem."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        where = f"{source}: {key}: " if key else f"{source}: "
        super().__init__(f"{where}{problem}")


class DatabaseUnavailable(UserError):
    """The database cannot be reached."""
