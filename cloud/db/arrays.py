"""One-dimensional PostgreSQL arrays in binary wire form, encoded from numpy columns at once.

psycopg dumps a list parameter element by element in Python; the ingest path sends a column of
every staged reading per statement, so it builds the array's bytes with one numpy record array
instead (``BinaryArray``, sent with a ``%b`` placeholder). No NULL elements: callers send a
sentinel (NaN, -1) and turn it into NULL in SQL (``NULLIF``).
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg import adapt, pq


@dataclass(frozen=True)
class _ElementType:
    element_oid: int
    array_oid: int
    dtype: str  # big-endian numpy format of one element
    size: int

    @functools.cached_property
    def records(self) -> np.dtype[Any]:
        """One element on the wire: its length, then its value (parsed once, not per array)."""
        return np.dtype([("size", ">i4"), ("value", self.dtype)])


ELEMENT_TYPES: Final = {
    "int2": _ElementType(21, 1005, ">i2", 2),
    "int4": _ElementType(23, 1007, ">i4", 4),
    "int8": _ElementType(20, 1016, ">i8", 8),
    "real": _ElementType(700, 1021, ">f4", 4),
    "float8": _ElementType(701, 1022, ">f8", 8),
    "timestamptz": _ElementType(1184, 1185, ">i8", 8),
    "uuid": _ElementType(2950, 2951, "16u1", 16),
}
PG_EPOCH_US: Final = 946_684_800_000_000  # 2000-01-01T00:00:00Z in Unix microseconds
_HEADER = struct.Struct(">iiIii")  # dimensions, has-nulls flag, element oid, length, lower bound
_EMPTY = struct.Struct(">iiI")


@dataclass(frozen=True, slots=True)
class BinaryArray:
    """An encoded array parameter: its bytes and the array type's oid."""

    data: bytes
    oid: int


def binary_array(values: npt.ArrayLike, element: str) -> BinaryArray:
    """``values`` as an array of ``element`` (a key of ``ELEMENT_TYPES``): numbers for the
    numeric types, Unix microseconds for ``timestamptz``, rows of 16 bytes for ``uuid``."""
    kind = ELEMENT_TYPES[element]
    column = np.asarray(values)
    if element == "timestamptz":
        column = column.astype(np.int64) - PG_EPOCH_US
    count = len(column)
    if count == 0:
        return BinaryArray(_EMPTY.pack(0, 0, kind.element_oid), kind.array_oid)
    records = np.empty(count, dtype=kind.records)
    records["size"] = kind.size
    records["value"] = column
    header = _HEADER.pack(1, 0, kind.element_oid, count, 1)
    return BinaryArray(header + records.tobytes(), kind.array_oid)


def concat_arrays(arrays: list[BinaryArray]) -> BinaryArray:
    """One array of the elements of ``arrays`` (all of one type), in order: the bodies as they
    are under one header (the batches of an ingest group sent as one parameter)."""
    if len(arrays) == 1:
        return arrays[0]
    oid = arrays[0].oid
    bodies: list[bytes] = []
    count = 0
    element_oid = 0
    for array in arrays:
        if array.oid != oid:
            raise ValueError("arrays of different types")
        _, _, element_oid = _EMPTY.unpack_from(array.data)
        if len(array.data) > _EMPTY.size:
            count += _HEADER.unpack_from(array.data)[3]
            bodies.append(array.data[_HEADER.size :])
    if count == 0:
        return BinaryArray(_EMPTY.pack(0, 0, element_oid), oid)
    return BinaryArray(_HEADER.pack(1, 0, element_oid, count, 1) + b"".join(bodies), oid)


class BinaryArrayDumper(adapt.Dumper):
    """Sends a ``BinaryArray`` as it is, typed by its own oid."""

    format = pq.Format.BINARY

    def get_key(self, obj: Any, format: adapt.PyFormat) -> Any:
        return (BinaryArray, obj.oid)

    def upgrade(self, obj: Any, format: adapt.PyFormat) -> BinaryArrayDumper:
        dumper = BinaryArrayDumper(BinaryArray)
        dumper.oid = obj.oid
        return dumper

    def dump(self, obj: Any) -> bytes:
        data: bytes = obj.data
        return data


# Every connection made after this module is imported can send them (a connection copies the
# global adapters when it is made; the app imports the ingest path before it connects).
psycopg.adapters.register_dumper(BinaryArray, BinaryArrayDumper)
