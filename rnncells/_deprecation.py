"""Renamed arguments: the previous name keeps working.

A cell that renames an argument lists `{old: (new, convert)}` (`convert` maps an old value to
the new argument's, None for the same value) and
- in `__init__`, `take_renamed` accepts the old name with a DeprecationWarning (Keras's
  wording: "Argument `old` is deprecated. Use `new` instead.");
- in `from_config`, `upgrade_config` rewrites a config written before the rename, silently
  (the user did not write the old name; the saved file did).
"""

import warnings


def _converted(renamed, old, value):
    new, convert = renamed[old]
    return new, (value if convert is None else convert(value))


def take_renamed(owner, kwargs, renamed, old, value, default):
    """The value of the argument `old` was renamed to: `value`, or the value passed under the
    deprecated name `old` (popped from `kwargs`, converted, with a DeprecationWarning).

    Raises ValueError when both names are given (`value` not at the new name's `default`).
    """
    if old not in kwargs:
        return value
    old_value = kwargs.pop(old)
    new, converted = _converted(renamed, old, old_value)
    if value is not default and value != default:
        raise ValueError(
            f"Invalid arguments for {owner}: `{old}` is the deprecated name of `{new}`; pass "
            f"only `{new}`. Received {old}={old_value!r} and {new}={value!r}.")
    warnings.warn(f"Argument `{old}` of {owner} is deprecated. Use `{new}` instead "
                  f"({new}={converted!r}).", DeprecationWarning, stacklevel=3)
    return converted


def upgrade_config(config, renamed):
    """A copy of `config` with the deprecated keys replaced by their new names and values."""
    config = dict(config)
    for old in [name for name in renamed if name in config]:
        new, converted = _converted(renamed, old, config.pop(old))
        config[new] = converted
    return config
