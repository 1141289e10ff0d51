"""Exceptions that the CLI turns into one clear message instead of a traceback."""


class DamocError(Exception):
    """Base class: a problem the user can fix, described in words."""


class ConfigError(DamocError):
    """A config key, method name or parameter is wrong; the message names it and what is allowed."""


class DataError(DamocError):
    """A data file is missing or malformed; the message names the file, line and field."""


class ModelError(DamocError):
    """A candidate model cannot be resolved, loaded or compressed."""


class RunLockedError(DamocError):
    """Another damoc process holds the run folder."""


class ExecutorError(DamocError):
    """The executor cannot run the candidate jobs as configured (Ray missing or unreachable, no node with
    the resources asked for, a run folder that the workers do not share)."""
