"""A thread-safe LRU cache bounded both in entries and in the bytes of the tensors (and chart rows) its values hold."""

import threading
from collections import OrderedDict
from collections.abc import Mapping

import pyarrow as pa
import torch


def tensor_bytes(obj) -> int:
    """Bytes of every distinct tensor storage, and of every Arrow table (a chart's rows), reachable from obj (tuples,
    lists, dicts, dataclasses)."""
    storages = {}

    def visit(x):
        if isinstance(x, torch.Tensor):
            storage = x.untyped_storage()
            storages[storage.data_ptr(), storage.nbytes()] = storage.nbytes()
        elif isinstance(x, pa.Table):
            storages[id(x), -1] = x.nbytes
        elif isinstance(x, (tuple, list)):
            for item in x:
                visit(item)
        elif isinstance(x, Mapping):
            for item in x.values():
                visit(item)
        elif hasattr(x, "__dataclass_fields__"):
            for name in x.__dataclass_fields__:
                visit(getattr(x, name))

    visit(obj)
    return sum(storages.values())


class TensorCache:
    """Keeps the most recently used values while they fit in max_entries and max_bytes; never mutate a value.

    Concurrent calls for the same key compute it once: the others wait for that result.
    """

    def __init__(self, max_entries: int, max_bytes: int):
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._values = OrderedDict()  # key -> (value, bytes), least recently used first
        self.bytes = 0  # bytes of tensors held now
        self._pending = {}  # key -> the lock held while that key is being computed
        self._lock = threading.Lock()

    def get(self, key, compute):
        """The value cached for key, or compute() cached and returned (not kept if it alone exceeds max_bytes)."""
        hit = self._lookup(key)
        if hit is not None:
            return hit[0]
        with self._lock:
            pending = self._pending.setdefault(key, threading.Lock())
        with pending:
            hit = self._lookup(key)  # computed while this thread waited
            if hit is not None:
                return hit[0]
            try:
                value = compute()
                self._store(key, value, tensor_bytes(value))
            finally:
                with self._lock:
                    self._pending.pop(key, None)
        return value

    def _lookup(self, key):
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            return None

    def _store(self, key, value, size: int):
        with self._lock:
            if size > self.max_bytes:
                return
            self._values[key] = (value, size)
            self.bytes += size
            while len(self._values) > self.max_entries or self.bytes > self.max_bytes:
                _, (_, dropped) = self._values.popitem(last=False)
                self.bytes -= dropped

    def sizes(self) -> dict:
        """key -> bytes of tensors held for it, least recently used first."""
        with self._lock:
            return {key: size for key, (_, size) in self._values.items()}

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key) -> bool:
        return key in self._values
