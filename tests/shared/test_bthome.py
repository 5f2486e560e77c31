"""BTHome advert encoding, the bthome-ble decoding wrapper, and the scan-response status."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import bthome
from shared.bthome import (
    BTHomeError,
    BTHomeNodeDecoder,
    Downgrade,
    EncryptionCounter,
    Malformed,
    NodeStatus,
    Replay,
    WrongKey,
)
from shared.metrics import Metric
from shared.vectors import by_kind

MAC = "24:6F:28:1A:2B:3C"
KEY = bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f0")
OTHER_KEY = bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")
FULL = {
    Metric.BATTERY: 87.0,
    Metric.TEMPERATURE: 21.53,
    Metric.HUMIDITY: 48.2,
    Metric.ILLUMINANCE: 1234.56,
    Metric.MOISTURE: 36.75,
}


def advert(counter: int, values: dict[Metric, float] = FULL, key: bytes = KEY) -> bytes:
    return bthome.encrypt_service_data(values, mac=MAC, bindkey=key, counter=counter)


def _quantised(fmt: bthome.ObjectFormat) -> st.SearchStrategy[float]:
    # Values a sensor can actually report: whole steps of the object's resolution.
    return st.integers(fmt.raw_min, fmt.raw_max).map(lambda raw: round(raw / fmt.scale, 2))


readings = st.fixed_dictionaries(
    {},
    optional={fmt.metric: _quantised(fmt) for fmt in bthome.OBJECT_FORMATS},
)


# ---------------------------------------------------------------- encoding


@given(readings)
def test_objects_round_trip(values: dict[Metric, float]) -> None:
    assert bthome.decode_objects(bthome.encode_objects(values)) == values


def test_objects_are_in_ascending_id_order() -> None:
    data = bthome.encode_objects(dict(reversed(list(FULL.items()))))
    assert data.hex() == "015702690803d4120540e201145b0e"


@pytest.mark.parametrize(
    ("metric", "value"),
    [
        (Metric.TEMPERATURE, 85.01),
        (Metric.TEMPERATURE, -40.01),
        (Metric.HUMIDITY, 100.01),
        (Metric.MOISTURE, -0.01),
        (Metric.BATTERY, 101),
        (Metric.ILLUMINANCE, 167_772.16),  # u24 ceiling, below the metric's physical maximum
        (Metric.MOISTURE, float("nan")),
        (Metric.TEMPERATURE, float("inf")),
    ],
)
def test_encoder_refuses_values_a_node_cannot_send(metric: Metric, value: float) -> None:
    with pytest.raises(ValueError, match=metric.value):
        bthome.encode_objects({metric: value})


@pytest.mark.parametrize(
    "data",
    [
        "0157ff",  # unknown object id
        "0257",  # truncated temperature
        "0157015a",  # battery twice
        "145b0e026908",  # moisture before temperature
        "05e201",  # truncated u24
    ],
)
def test_decode_objects_rejects_bad_object_streams(data: str) -> None:
    with pytest.raises(Malformed):
        bthome.decode_objects(bytes.fromhex(data))


def test_encrypt_rejects_bad_counter_and_key() -> None:
    with pytest.raises(ValueError, match="u32"):
        advert(2**32)
    with pytest.raises(ValueError, match="16 bytes"):
        advert(1, key=KEY[:15])


def test_adv_data_over_31_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="31"):
        bthome.build_adv_data(bytes(25))
    assert len(bthome.build_adv_data(bytes(24))) == 31


def test_encryption_counter_strictly_increases_and_stops_at_u32() -> None:
    counter = EncryptionCounter(last=41)
    assert [counter.next(), counter.next()] == [42, 43]
    assert counter.last == 43
    exhausted = EncryptionCounter(last=bthome.MAX_COUNTER)
    with pytest.raises(OverflowError):
        exhausted.next()


# ---------------------------------------------------------------- decoding through bthome-ble


@given(readings.filter(bool), st.integers(0, bthome.MAX_COUNTER))
def test_encrypted_round_trip_through_bthome_ble(values: dict[Metric, float], counter: int) -> None:
    result = BTHomeNodeDecoder(MAC, KEY).decode(advert(counter, values), rssi=-70)
    assert result.values == values
    assert result.sequence == counter
    assert result.encrypted
    assert result.rssi == -70


def test_values_are_only_those_of_this_advert() -> None:
    # bthome-ble accumulates every sensor it has ever seen in its updates; a reading must not
    # inherit the previous advert's battery or temperature.
    decoder = BTHomeNodeDecoder(MAC, KEY)
    decoder.decode(advert(1))
    assert decoder.decode(advert(2, {Metric.MOISTURE: 40.0})).values == {Metric.MOISTURE: 40.0}
    plain = BTHomeNodeDecoder(MAC, None)
    plain.decode(bthome.encode_service_data(FULL))
    with pytest.raises(Malformed):
        plain.decode(bytes.fromhex("40f0"))


def test_plaintext_decodes_for_an_unpaired_node() -> None:
    result = BTHomeNodeDecoder(MAC, None).decode(bthome.encode_service_data(FULL))
    assert result.values == FULL
    assert result.sequence is None
    assert not result.encrypted


def test_wrong_key_is_refused() -> None:
    with pytest.raises(WrongKey):
        BTHomeNodeDecoder(MAC, OTHER_KEY).decode(advert(5))


def test_encrypted_advert_without_key_is_refused() -> None:
    with pytest.raises(WrongKey):
        BTHomeNodeDecoder(MAC, None).decode(advert(5))


def test_tampered_repeat_of_accepted_counter_is_refused() -> None:
    decoder = BTHomeNodeDecoder(MAC, KEY)
    data = advert(5)
    decoder.decode(data)
    tampered = bytearray(data)
    tampered[-1] ^= 0x80  # MIC
    with pytest.raises(WrongKey):
        decoder.decode(bytes(tampered))
    # The decoder recovers: the next genuine advert is accepted.
    assert decoder.decode(advert(6)).sequence == 6


def test_replayed_counter_is_refused() -> None:
    decoder = BTHomeNodeDecoder(MAC, KEY)
    old = advert(1000)
    decoder.decode(old)
    decoder.decode(advert(1001))
    with pytest.raises(Replay):
        decoder.decode(old)
    assert decoder.last_sequence == 1001


def test_replay_of_small_counter_is_refused_unlike_bare_bthome_ble() -> None:
    # bthome-ble lets counters below 100 through (device restart); Plant-Vita counters persist.
    decoder = BTHomeNodeDecoder(MAC, KEY)
    old = advert(3)
    decoder.decode(old)
    decoder.decode(advert(150))
    with pytest.raises(Replay):
        decoder.decode(old)


def test_replay_after_failed_decryptions_is_still_refused() -> None:
    # Two failed decryptions clear bthome-ble's bindkey_verified, which disables its own check.
    decoder = BTHomeNodeDecoder(MAC, KEY)
    old = advert(500)
    decoder.decode(old)
    decoder.decode(advert(501))
    for counter in (600, 601):
        with pytest.raises(WrongKey):
            decoder.decode(advert(counter, key=OTHER_KEY))
    with pytest.raises(Replay):
        decoder.decode(old)


def test_non_strict_counter_keeps_only_bthome_ble_rules_for_third_party_sensors() -> None:
    decoder = BTHomeNodeDecoder(MAC, KEY, strict_counter=False)
    decoder.decode(advert(5000))
    # Below 100 counts as the sensor restarting (battery change): accepted.
    assert decoder.decode(advert(3)).sequence == 3
    decoder.decode(advert(4000))
    # Going back while still >= 100 is refused by the library itself, surfaced as Replay.
    with pytest.raises(Replay):
        decoder.decode(advert(3999))


def test_last_sequence_survives_a_hub_restart() -> None:
    decoder = BTHomeNodeDecoder(MAC, KEY, last_sequence=2000)
    with pytest.raises(Replay):
        decoder.decode(advert(1999))
    assert decoder.decode(advert(2000)).sequence == 2000


def test_reset_sequence_accepts_a_reflashed_node() -> None:
    decoder = BTHomeNodeDecoder(MAC, KEY)
    decoder.decode(advert(900))
    decoder.reset_sequence()
    assert decoder.decode(advert(1)).sequence == 1


def test_burst_repeat_decodes_to_the_same_sequence() -> None:
    decoder = BTHomeNodeDecoder(MAC, KEY)
    data = advert(77)
    first = decoder.decode(data, rssi=-60, time=100.0)
    # Ten seconds later (connectable window): bthome-ble alone would skip it as "same as last".
    again = decoder.decode(data, rssi=-75, status=b"\x02", time=110.0)
    assert again.sequence == first.sequence == 77
    assert again.values == FULL
    assert again.rssi == -75
    assert again.pending


def test_plaintext_after_key_is_set_is_a_downgrade() -> None:
    decoder = BTHomeNodeDecoder(MAC, KEY)
    decoder.decode(advert(10))
    with pytest.raises(Downgrade):
        decoder.decode(bthome.encode_service_data(FULL))


def test_plaintext_to_a_paired_node_is_a_downgrade_from_the_start() -> None:
    with pytest.raises(Downgrade):
        BTHomeNodeDecoder(MAC, KEY).decode(bthome.encode_service_data(FULL))


def test_a_later_bthome_version_is_an_unsupported_device() -> None:
    with pytest.raises(bthome.UnsupportedDevice):
        BTHomeNodeDecoder(MAC, None).decode(bytes.fromhex("6002c409"))


@pytest.mark.parametrize("data", ["", "20", "41e0d6cb", "40", "40f0"])
def test_malformed_adverts(data: str) -> None:
    with pytest.raises(Malformed):
        BTHomeNodeDecoder(MAC, KEY if data.startswith("41") else None).decode(bytes.fromhex(data))


def test_decoder_validates_its_inputs() -> None:
    with pytest.raises(ValueError, match="MAC"):
        BTHomeNodeDecoder("not-a-mac", KEY)
    with pytest.raises(ValueError, match="16 bytes"):
        BTHomeNodeDecoder(MAC, KEY[:8])


# Mostly random bytes, plus ones with a valid BTHome v2 header so the library's parser is reached.
service_data = st.one_of(
    st.binary(max_size=40),
    st.tuples(st.sampled_from([b"\x40", b"\x41", b"\x44", b"\x45"]), st.binary(max_size=30)).map(
        b"".join
    ),
)


@given(service_data, st.booleans())
def test_arbitrary_service_data_decodes_or_raises_bthome_error(data: bytes, keyed: bool) -> None:
    decoder = BTHomeNodeDecoder(MAC, KEY if keyed else None)
    try:
        result = decoder.decode(data)
    except BTHomeError:
        return
    assert result.values
    assert result.encrypted == bool(data[0] & 1)


@given(st.binary(max_size=31))
def test_arbitrary_scan_response_parses_or_raises_malformed(data: bytes) -> None:
    try:
        parsed = bthome.parse_scan_response(data)
    except Malformed:
        return
    assert parsed.status is None or parsed.status == parsed.status & 0x07


@given(st.binary(max_size=40))
def test_arbitrary_objects_decode_or_raise_malformed(data: bytes) -> None:
    try:
        values = bthome.decode_objects(data)
    except Malformed:
        return
    sendable = all(
        fmt.raw_min <= round(values[fmt.metric] * fmt.scale) <= fmt.raw_max
        for fmt in bthome.OBJECT_FORMATS
        if fmt.metric in values
    )
    if sendable:
        assert bthome.encode_objects(values) == data  # a valid stream has exactly one encoding
    else:
        with pytest.raises(ValueError, match="outside"):
            bthome.encode_objects(values)


# ---------------------------------------------------------------- scan response and status


def test_default_name_and_status_scan_response() -> None:
    name = bthome.default_node_name(MAC)
    assert name == "PV-1A2B3C"
    data = bthome.build_scan_response(name, NodeStatus.IMAGE_READY)
    assert data.hex() == "0a0950562d3141324233431221563915131a316bb33546d6080100565002"
    parsed = bthome.parse_scan_response(data)
    assert (parsed.name, parsed.status, parsed.pending) == (name, NodeStatus.IMAGE_READY, True)


def test_long_name_is_shortened_to_fit() -> None:
    status = NodeStatus.STORAGE_HIGH | NodeStatus.TIME_UNSET
    data = bthome.build_scan_response("Basil on the balcony", status)
    (vector,) = by_kind("scan_response_shortened")
    assert data.hex() == vector.hex
    assert len(data) == 31
    assert bthome.parse_scan_response(data).name == "Basil on t"


def test_shortened_name_never_splits_a_character() -> None:
    data = bthome.build_scan_response("Ölbaum Ärger", NodeStatus.NONE)
    parsed = bthome.parse_scan_response(data)
    assert not parsed.name_complete
    assert parsed.name is not None
    assert "Ölbaum Ärger".startswith(parsed.name)
    assert len(data) <= 31


def test_status_drops_reserved_bits_and_idle_is_not_pending() -> None:
    assert bthome.decode_node_status(b"\xfa\x99") == NodeStatus.IMAGE_READY
    assert not bthome.parse_scan_response(
        bthome.build_scan_response("PV-1", NodeStatus.NONE)
    ).pending
    with pytest.raises(Malformed):
        bthome.decode_node_status(b"")


def test_advert_without_scan_response_has_unknown_status() -> None:
    result = BTHomeNodeDecoder(MAC, KEY).decode(advert(1))
    assert result.status is None
    assert not result.pending


# --- a measurement larger than one advert (docs/protocol.md §1.4) -------------------------

WHOLE = FULL | {Metric.CONDUCTIVITY: 1250.0}


def _largest() -> dict[Metric, float]:
    """Every registry metric at the value with the most bytes (the largest advert)."""
    return {fmt.metric: fmt.raw_max / fmt.scale for fmt in bthome.OBJECT_FORMATS}


def test_every_metric_together_does_not_fit_one_legacy_advert() -> None:
    # The reason adverts alternate: this fails loudly the day the registry fits again.
    assert len(bthome.encode_objects(_largest())) > bthome.MAX_ADVERT_OBJECTS_LEN


@pytest.mark.parametrize("counter", [1, 2, 0xFFFF_FFFE, 0xFFFF_FFFF])
def test_each_counters_advert_fits_31_bytes(counter: int) -> None:
    adv = bthome.node_advert(_largest(), mac=MAC, bindkey=KEY, counter=counter)
    assert len(adv) <= bthome.MAX_LEGACY_ADV_LEN


def test_two_consecutive_adverts_carry_every_metric_with_their_own_counters() -> None:
    decoder = BTHomeNodeDecoder(MAC, KEY)
    seen: dict[Metric, float] = {}
    sequences = []
    for counter in (41, 42):
        adv = bthome.node_advert(WHOLE, mac=MAC, bindkey=KEY, counter=counter)
        got = decoder.decode(bthome.bthome_service_data_from_adv(adv))
        sequences.append(got.sequence)
        assert got.values == bthome.advert_values(WHOLE, counter)
        assert not seen.keys() & {Metric.HUMIDITY, Metric.CONDUCTIVITY} & got.values.keys()
        seen |= got.values
    assert sequences == [41, 42]
    assert seen == WHOLE
    odd, even = bthome.advert_values(WHOLE, 41), bthome.advert_values(WHOLE, 42)
    assert Metric.CONDUCTIVITY in odd
    assert Metric.HUMIDITY not in odd
    assert Metric.HUMIDITY in even
    assert Metric.CONDUCTIVITY not in even


def test_a_measurement_that_fits_goes_whole_whatever_the_counter() -> None:
    for counter in (7, 8):
        assert bthome.advert_values(FULL, counter) == FULL
    only_soil = {Metric.MOISTURE: 40.0, Metric.CONDUCTIVITY: 800.0}
    assert bthome.advert_values(only_soil, 8) == only_soil
