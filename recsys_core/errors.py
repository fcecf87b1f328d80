"""Errors the CLI and the app show as one clear message, never as a traceback."""


class RecsysError(Exception):
    """Base class: anything a user can fix (bad file, bad option, missing data)."""


class DataError(RecsysError):
    """A data file is missing, malformed or inconsistent.

    The message names the file, the line where it applies, and the problem.
    """

    def __init__(self, problem: str, path: str | None = None, line: int | None = None):
        self.problem, self.path, self.line = problem, path, line
        where = ""
        if path:
            where = f"{path}"
            if line is not None:
                where += f", line {line}"
            where += ": "
        super().__init__(where + problem)


class ConfigError(RecsysError):
    """An unknown key or an invalid value in a model or training config."""
