"""The committed golden vectors still hold: encoders reproduce them, decoders read them back."""

from __future__ import annotations

import pytest

from shared import bthome, gatt
from shared.vectors import Vector, by_kind, load_all
from tests.shared.vector_codecs import CODECS, DECODE_ONLY

VECTORS = load_all()
VALID = [v for v in VECTORS if not v.kind.endswith("_invalid")]
INVALID = [v for v in VECTORS if v.kind.endswith("_invalid")]


def _ids(vector: Vector) -> str:
    return vector.name


def test_names_are_unique_and_kinds_known() -> None:
    names = [v.name for v in VECTORS]
    assert len(names) == len(set(names))
    known = set(CODECS) | set(DECODE_ONLY)
    assert {v.kind.removesuffix("_invalid") for v in VECTORS} <= known


def test_every_codec_has_valid_and_invalid_vectors() -> None:
    kinds = {v.kind for v in VECTORS}
    for kind in ("bthome_service_data", "info", "config", "time", "cp_request", "cp_response"):
        assert kind in kinds
        assert f"{kind}_invalid" in kinds
    for kind in ("adv_data", "scan_response", "records", "image_chunk", "crc32", "objects"):
        assert kind in kinds


# crc32 vectors hold the checksum's input, not an encoding, so they have no encoder.
ENCODABLE = [v for v in VALID if v.kind in CODECS and CODECS[v.kind][0] is not None]


@pytest.mark.parametrize("vector", ENCODABLE, ids=_ids)
def test_encoder_reproduces_vector(vector: Vector) -> None:
    encode, _ = CODECS[vector.kind]
    assert encode is not None
    assert encode(vector.fields).hex() == vector.hex


@pytest.mark.parametrize("vector", VALID, ids=_ids)
def test_vector_decodes_to_its_fields(vector: Vector) -> None:
    _, decode = CODECS[DECODE_ONLY.get(vector.kind, vector.kind)]
    assert decode(vector.fields, vector.data) == vector.fields


@pytest.mark.parametrize("vector", INVALID, ids=_ids)
def test_invalid_vector_is_rejected(vector: Vector) -> None:
    kind = vector.kind.removesuffix("_invalid")
    if kind == "bthome_service_data":
        error = getattr(bthome, vector.fields["error"])
        key = vector.fields["bindkey"]
        decoder = bthome.BTHomeNodeDecoder(
            vector.fields["mac"], bytes.fromhex(key) if key else None
        )
        with pytest.raises(error):
            decoder.decode(vector.data)
        return
    _, decode = CODECS[kind]
    with pytest.raises(gatt.ProtocolError) as caught:
        decode({}, vector.data)
    if "status" in vector.fields:
        assert caught.value.status is gatt.Status[vector.fields["status"]]


def test_official_bthome_example_is_present_and_decodes() -> None:
    (official,) = [v for v in VECTORS if v.name == "bthome-official-encrypted"]
    assert official.hex == "41e445f3c9962b332211006c7c4519"
    assert official.fields["nonce"] == "5448e68f80a5d2fc4133221100"
    decoder = bthome.BTHomeNodeDecoder(
        "54:48:E6:8F:80:A5", bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")
    )
    advert = decoder.decode(official.data)
    assert advert.sequence == 1122867
    assert advert.values == {"temperature": 25.06, "humidity": 50.55}


@pytest.mark.parametrize("vector", by_kind("adv_data"), ids=_ids)
def test_adv_data_fits_legacy_advertisement(vector: Vector) -> None:
    assert len(vector.data) <= bthome.MAX_LEGACY_ADV_LEN
    assert vector.data[:3] == bytes([0x02, 0x01, 0x06])


def test_full_encrypted_advert_uses_every_byte() -> None:
    (full,) = [v for v in VECTORS if v.name == "pv-adv-encrypted-full"]
    assert len(full.data) == 31


@pytest.mark.parametrize("vector", by_kind("scan_response"), ids=_ids)
def test_scan_response_fits(vector: Vector) -> None:
    assert len(vector.data) <= bthome.MAX_LEGACY_ADV_LEN


def test_crc32_check_value() -> None:
    (check,) = [v for v in VECTORS if v.name == "crc32-check"]
    assert check.data == b"123456789"
    assert check.fields["crc32"] == 0xCBF43926
