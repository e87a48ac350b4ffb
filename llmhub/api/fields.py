"""Reading a request body's fields with a clear 400 for a wrong type or range.

Both APIs accept fields they do not use (clients send many); a field they use must be
right, or the call is refused with its name and what it should be.
"""
from llmhub.api.calls import ApiError

_NAMES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
          dict: "an object", list: "an array"}


def optional(body: dict, name: str, kind: type, *, minimum=None, maximum=None):
    """``body[name]`` checked against ``kind`` and the bounds; None when absent or null."""
    value = body.get(name)
    if value is None:
        return None
    if not _is(value, kind):
        raise ApiError(400, f"'{name}' must be {_NAMES[kind]}", param=name)
    if minimum is not None and value < minimum or maximum is not None and value > maximum:
        raise ApiError(400, f"'{name}' must be between {minimum} and {maximum}", param=name)
    return float(value) if kind is float else value


def required(body: dict, name: str, kind: type, **bounds):
    value = optional(body, name, kind, **bounds)
    if value is None:
        raise ApiError(400, f"'{name}' is required", param=name)
    return value


def _is(value, kind: type) -> bool:
    if isinstance(value, bool):
        return kind is bool
    if kind is float:
        return isinstance(value, int | float)
    return isinstance(value, kind)


def stop_strings(body: dict, name: str, *, most: int) -> list[str] | None:
    """A string or a list of up to ``most`` non-empty strings."""
    value = body.get(name)
    if value is None:
        return None
    values = [value] if isinstance(value, str) else value
    if (not isinstance(values, list) or len(values) > most
            or not all(isinstance(item, str) and item for item in values)):
        raise ApiError(400, f"'{name}' must be a string or up to {most} non-empty strings",
                       param=name)
    return values


def texts(body: dict, name: str) -> list[str]:
    """A string or a non-empty list of strings (embedding inputs)."""
    value = body.get(name)
    values = [value] if isinstance(value, str) else value
    if (not isinstance(values, list) or not values
            or not all(isinstance(v, str) and v.strip() for v in values)):
        raise ApiError(400, f"'{name}' must be a non-empty string or a non-empty array of "
                            "non-empty strings", param=name)
    return values
