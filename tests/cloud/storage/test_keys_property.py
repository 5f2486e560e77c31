"""Any string is either a safe key that stays inside the local store, or refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.storage.keys import validate_key
from cloud.storage.local import LocalObjectStore
from cloud.storage.ports import InvalidObjectKey

_PIECES = st.sampled_from(
    ["..", ".", "/", "\\", "owners", "a", "b.jpg", "%2e", "~", " ", "\x00", "ü"]
)


@settings(max_examples=300, deadline=None)
@given(key=st.one_of(st.text(max_size=40), st.lists(_PIECES, max_size=8).map("".join)))
def test_keys_are_safe_or_refused(tmp_path_factory: pytest.TempPathFactory, key: str) -> None:
    root = tmp_path_factory.getbasetemp() / "keys-property"
    store = LocalObjectStore(root, b"k" * 32, "http://cloud.test")
    try:
        validate_key(key)
    except InvalidObjectKey:
        with pytest.raises(InvalidObjectKey):
            store._object_path(key)
        return
    path = store._object_path(key)
    assert path.resolve().is_relative_to((root / "objects").resolve())
    assert ".." not in Path(key).parts
    assert not key.startswith("/")
