"""Errors a user can act on: the CLI prints them as one line and exits with code 2."""


class UserError(Exception):
    """A problem with the user's input or environment, not a bug."""


class ConfigError(UserError):
    """Invalid settings or `app.yaml`; the message names the file (and line, when known), the key
    and the problem: `app.yaml:42: owners[1].backup: unknown owner 'bob'`."""

    def __init__(self, source: str, key: str, problem: str, *, line: int | None = None) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        self.line = line
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {key}: {problem}" if key else f"{where}: {problem}")


class DatabaseUnavailable(UserError):
    """The database cannot be reached."""
