"""Argument checks shared by the cells: errors name the argument, the value and what is allowed."""

import numbers


def positive_int(name, value):
    """Return `value` as an int, or raise ValueError unless it is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(
            f"Invalid value for argument `{name}`: expected a positive integer (>= 1), "
            f"received {name}={value!r}."
        )
    return int(value)


def positive_float(name, value):
    """Return `value` as a float, or raise ValueError unless it is a number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(
            f"Invalid value for argument `{name}`: expected a number > 0, "
            f"received {name}={value!r}."
        )
    return float(value)


def unit_interval(name, value, *, closed_high=False):
    """Return `value` as a float in [0, 1) (or [0, 1] with closed_high), else raise."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    ok = ok and 0.0 <= value and (value <= 1.0 if closed_high else value < 1.0)
    if not ok:
        interval = "[0, 1]" if closed_high else "[0, 1)"
        raise ValueError(
            f"Invalid value for argument `{name}`: expected a number in {interval}, "
            f"received {name}={value!r}."
        )
    return float(value)


def one_of(name, value, allowed):
    """Return `value` if it is in `allowed`, else raise ValueError listing the choices."""
    if value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ValueError(
            f"Invalid value for argument `{name}`: expected one of {choices}, "
            f"received {name}={value!r}."
        )
    return value


def cell_instance(name, cell):
    """Return `cell` (an instance or a list of them), or raise ValueError if a class came in.

    `FusedRNN(LayerNormLSTMCell)` would otherwise fail later with Keras's "state_size must be
    an integer", which does not say what is wrong.
    """
    for item in cell if isinstance(cell, (list, tuple)) else [cell]:
        if isinstance(item, type):
            raise ValueError(
                f"Invalid value for argument `{name}`: expected a cell instance (or a list of "
                f"cell instances), e.g. `{item.__name__}(32)`; received the class "
                f"{name}={item.__module__}.{item.__name__}. Pass a cell instance, not its class."
            )
    return cell
