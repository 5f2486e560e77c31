"""Binary array parameters built from numpy columns read back as PostgreSQL decodes them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import numpy as np
import psycopg
import pytest

from cloud.db.arrays import ELEMENT_TYPES, binary_array
from cloud.db.engine import libpq_url


def test_every_element_type_round_trips(database_url: str) -> None:
    ids = [uuid.uuid4(), uuid.uuid4()]
    at = datetime(2026, 12, 5, 14, 30, 0, 123456, tzinfo=UTC)
    micros = round(at.timestamp() * 1e6)
    cases = {
        "int2": ([-32768, 7], [-32768, 7]),
        "int4": ([2**31 - 1, -5], [2**31 - 1, -5]),
        "int8": ([2**40, -1], [2**40, -1]),
        "real": ([1.5, -0.25], [1.5, -0.25]),
        "float8": ([0.1, 1e300], [0.1, 1e300]),
        "timestamptz": ([micros, 0], [at, datetime(1970, 1, 1, tzinfo=UTC)]),
        "uuid": (np.frombuffer(b"".join(i.bytes for i in ids), np.uint8).reshape(2, 16), ids),
    }
    assert set(cases) == set(ELEMENT_TYPES)
    with psycopg.connect(libpq_url(database_url)) as conn:
        for element, (values, expected) in cases.items():
            row = conn.execute(
                f"SELECT %b::{element}[], cardinality(%b::{element}[])",
                (binary_array(values, element), binary_array(values, element)),
            ).fetchone()
            assert row == (expected, 2), element


@pytest.mark.parametrize("element", sorted(ELEMENT_TYPES))
def test_an_empty_column_is_an_empty_array(database_url: str, element: str) -> None:
    with psycopg.connect(libpq_url(database_url)) as conn:
        row = conn.execute(
            f"SELECT cardinality(%b::{element}[])", (binary_array([], element),)
        ).fetchone()
    assert row == (0,)
