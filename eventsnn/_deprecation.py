"""Names and keywords kept for one release after a rename, each use warning with DeprecationWarning."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["warn_deprecated", "renamed_keyword", "take_renamed", "deprecated_names"]


def warn_deprecated(message: str, stacklevel: int = 3) -> None:
    """A :class:`DeprecationWarning` pointing ``stacklevel`` frames up (default: the caller's caller)."""
    warnings.warn(message, DeprecationWarning, stacklevel=stacklevel)


def take_renamed(kwargs: dict[str, Any], old: str, new: str, where: str, stacklevel: int = 4) -> None:
    """Move ``kwargs[old]`` to ``kwargs[new]`` (in place), warning that ``old`` is deprecated.

    Raises:
        TypeError: both names were given.
    """
    if new in kwargs:
        raise TypeError(f"{where}() got both {new}= and its deprecated name {old}=")
    warn_deprecated(f"{where}(): the keyword {old}= is deprecated, use {new}=", stacklevel)
    kwargs[new] = kwargs.pop(old)


def renamed_keyword(old: str, new: str) -> Callable[[F], F]:
    """Decorator: the function still accepts keyword ``old`` for its argument ``new``, warning."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if old in kwargs:
                take_renamed(kwargs, old, new, fn.__qualname__)
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def deprecated_names(module: str, names: dict[str, tuple[Callable[[], Any], str]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` serving the deprecated ``names`` (name -> (getter, advice))."""

    def __getattr__(name: str) -> Any:
        entry = names.get(name)
        if entry is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        get, advice = entry
        warn_deprecated(f"{module}.{name} is deprecated: {advice}")
        return get()

    return __getattr__
