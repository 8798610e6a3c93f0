"""Facts of a flatbuffer, kept by its content hash.

A comparison reads each variant's flatbuffer several times (its ops for compatibility, its
Flex ops, its memory plan, its gzip size), and re-running an unchanged cell reads the same
flatbuffers again. :func:`by_content` keeps the last few answers of such a function keyed
by the SHA-256 of the bytes, so a repeat costs a hash instead of a parse, a compression or
a TFLite Micro run. Callers get a copy of the kept answer and may change it.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def by_content(kept: int = 32) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Keep ``f(content, *args)``'s last ``kept`` answers by ``(sha256(content), args)``."""

    def decorate(f: Callable[..., T]) -> Callable[..., T]:
        answers: OrderedDict[tuple, Any] = OrderedDict()
        lock = threading.Lock()

        @functools.wraps(f)
        def wrapper(content: bytes, *args: Any) -> T:
            key = (hashlib.sha256(content).digest(), args)
            with lock:
                if key in answers:
                    answers.move_to_end(key)
                    return copy.deepcopy(answers[key])
            value = f(content, *args)
            with lock:
                answers[key] = value
                while len(answers) > kept:
                    answers.popitem(last=False)
            return copy.deepcopy(value)

        wrapper.cache_clear = answers.clear  # type: ignore[attr-defined]
        return wrapper

    return decorate
