"""Pausing Python's cyclic garbage collector around the compiler's allocation-heavy stages.

Lowering and rendering a large spec allocate hundreds of thousands of small objects (frozen
maps, tuples, layout nodes) and free almost none until the end, so each generation-2
collection walks all of them to find the few thousand cycles there are: at 1,000 components
that was half of lowering's time. Paused, the collector runs as usual afterwards; reference
counting still frees everything that is not in a cycle meanwhile.
"""

from __future__ import annotations

import contextlib
import functools
import gc
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    if not gc.isenabled():  # already paused by a caller: leave it to them
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def without_collector(function: F) -> F:
    @functools.wraps(function)
    def paused(*args: Any, **kwargs: Any) -> Any:
        with collector_paused():
            return function(*args, **kwargs)

    return paused  # type: ignore[return-value]
