"""Plant-Vita GATT codecs: round trips, validation, MTU packing, image reassembly, fuzzing."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import gatt
from shared.gatt import ProtocolError, Status
from shared.metrics import Metric

u16 = st.integers(0, gatt.MAX_U16)
u32 = st.integers(0, gatt.MAX_U32)
image_ids = st.integers(1, gatt.MAX_U16)

FULL = {
    Metric.BATTERY: 87.0,
    Metric.TEMPERATURE: 21.53,
    Metric.HUMIDITY: 48.2,
    Metric.ILLUMINANCE: 1234.56,
    Metric.MOISTURE: 36.75,
}

# ---------------------------------------------------------------- Info


infos = st.builds(
    gatt.Info,
    st.integers(0, 255),
    st.integers(0, 0x1F).map(gatt.Capability),
    u32,
    u32,
    st.text(max_size=8),
)


@given(infos)
def test_info_round_trip(info: gatt.Info) -> None:
    assert gatt.Info.decode(info.encode()) == info


def test_info_ignores_fields_added_by_later_versions() -> None:
    info = gatt.Info(1, gatt.Capability.CAMERA, 1000, 10, "2.0")
    assert gatt.Info.decode(info.encode() + b"\x01\x02\x03") == info


def test_info_refuses_long_or_invalid_firmware() -> None:
    with pytest.raises(ProtocolError, match="32 bytes"):
        gatt.Info(1, gatt.Capability.NONE, 0, 0, "x" * 33).encode()
    bad_utf8 = bytes.fromhex("0100000000000000000000") + b"\x02\xff\xfe"
    with pytest.raises(ProtocolError, match="UTF-8"):
        gatt.Info.decode(bad_utf8)


# ---------------------------------------------------------------- Config


@st.composite
def configs(draw: st.DrawFn) -> gatt.Config:
    def centi(lo: int, hi: int) -> st.SearchStrategy[int]:
        return st.integers(lo, hi)

    m_low = draw(centi(0, 9_999))
    m_high = draw(centi(m_low + 1, 10_000))
    t_low = draw(centi(-4_000, 8_499))
    t_high = draw(centi(t_low + 1, 8_500))
    times = draw(st.lists(st.integers(0, 1439), max_size=8, unique=True))
    return gatt.Config(
        revision=draw(u32),
        sampling_interval_s=draw(st.integers(10, 86_400)),
        advert_burst_count=draw(st.integers(1, 20)),
        advert_burst_interval_ms=draw(st.integers(20, 10_240)),
        camera_times=tuple(sorted(times)),
        moisture_low=m_low / 100,
        moisture_high=m_high / 100,
        temperature_low=t_low / 100,
        temperature_high=t_high / 100,
        connectable_window_s=draw(st.integers(0, 600)),
        alert_interval_s=draw(st.integers(10, 86_400)),
        camera_interval_s=draw(st.one_of(st.just(0), st.integers(600, 604_800))),
    )


@given(configs())
def test_config_round_trip(config: gatt.Config) -> None:
    assert gatt.Config.decode(config.encode()) == config


def test_config_defaults_are_valid_and_absent_tlvs_take_them() -> None:
    assert gatt.Config.decode(gatt.Config().encode()) == gatt.Config()
    assert gatt.Config.decode(bytes.fromhex("09000000")) == gatt.Config(revision=9)


def test_config_skips_unknown_tlv_types() -> None:
    config = gatt.Config(revision=2, sampling_interval_s=60)
    data = config.encode() + bytes.fromhex("f0020102") + bytes.fromhex("ee00")
    assert gatt.Config.decode(data) == config


@pytest.mark.parametrize(
    "change",
    [
        {"sampling_interval_s": 9},
        {"sampling_interval_s": 86_401},
        {"advert_burst_count": 0},
        {"advert_burst_count": 21},
        {"advert_burst_interval_ms": 19},
        {"moisture_low": -0.01},
        {"moisture_high": 100.01},
        {"moisture_low": 50.0, "moisture_high": 50.0},
        {"temperature_low": -40.01},
        {"temperature_low": 30.0, "temperature_high": 20.0},
        {"connectable_window_s": 601},
        {"alert_interval_s": 5},
        {"camera_interval_s": 599},
        {"camera_interval_s": 604_801},
        {"camera_times": (600, 600)},
        {"camera_times": (700, 600)},
        {"camera_times": (1440,)},
        {"camera_times": tuple(range(9))},
        {"revision": -1},
        {"moisture_low": float("nan")},
    ],
)
def test_config_refuses_out_of_range_settings(change: dict[str, Any]) -> None:
    config = dataclasses.replace(gatt.Config(), **change)
    with pytest.raises(ProtocolError):
        config.encode()


def test_config_decode_validates_ranges_too() -> None:
    burst_zero = bytes.fromhex("01000000") + bytes.fromhex("020100")
    with pytest.raises(ProtocolError, match="advert_burst_count"):
        gatt.Config.decode(burst_zero)


# ---------------------------------------------------------------- Time


@given(st.integers(gatt.MIN_EPOCH, gatt.MAX_U32))
def test_time_round_trip(epoch: int) -> None:
    assert gatt.decode_time(gatt.encode_time(epoch)) == epoch


@pytest.mark.parametrize("epoch", [0, gatt.MIN_EPOCH - 1, gatt.MAX_U32 + 1])
def test_time_refuses_unset_or_overflowing_clock(epoch: int) -> None:
    with pytest.raises(ProtocolError):
        gatt.encode_time(epoch)


# ---------------------------------------------------------------- Control Point

requests = st.one_of(
    st.builds(gatt.ReportSince, u32),
    st.builds(gatt.AckUpto, u32),
    st.just(gatt.Count()),
    st.just(gatt.Capture()),
    st.builds(gatt.ImgList, u16),
    st.builds(gatt.ImgGet, image_ids, u32),
    st.builds(gatt.ImgDelete, image_ids),
    st.just(gatt.Abort()),
)


@given(requests)
def test_request_round_trip(request: gatt.ControlRequest) -> None:
    data = gatt.encode_request(request)
    assert data[0] == request.opcode
    assert gatt.decode_request(data) == request


def test_request_errors_carry_the_status_the_node_answers() -> None:
    with pytest.raises(ProtocolError) as unknown:
        gatt.decode_request(b"\x7f")
    assert unknown.value.status is Status.UNKNOWN_OPCODE
    with pytest.raises(ProtocolError) as short:
        gatt.decode_request(b"\x06\x01\x00")
    assert short.value.status is Status.INVALID_PARAMETER


def test_request_encoder_refuses_unencodable_values() -> None:
    with pytest.raises(ProtocolError):
        gatt.encode_request(gatt.ReportSince(2**32))
    with pytest.raises(ProtocolError, match="reserved"):
        gatt.encode_request(gatt.ImgDelete(0))


entries = st.builds(gatt.ImageEntry, image_ids, u32, u32, u32)
results: dict[gatt.Opcode, st.SearchStrategy[Any]] = {
    gatt.Opcode.REPORT_SINCE: st.builds(gatt.ReportDone, u32, u32),
    gatt.Opcode.ACK_UPTO: st.builds(gatt.AckDone, u32),
    gatt.Opcode.COUNT: st.builds(gatt.CountResult, u32, u32, u32),
    gatt.Opcode.CAPTURE: entries,
    gatt.Opcode.IMG_LIST: st.builds(
        gatt.ImageListPage, st.lists(entries, max_size=5).map(tuple), st.booleans()
    ),
    gatt.Opcode.IMG_GET: st.builds(gatt.ImageDone, image_ids, u32, u32),
    gatt.Opcode.IMG_DELETE: st.none(),
    gatt.Opcode.ABORT: st.none(),
}


def _successes(op: gatt.Opcode) -> st.SearchStrategy[gatt.ControlResponse]:
    return st.builds(gatt.ControlResponse, st.just(op), st.just(Status.SUCCESS), results[op])


successes = st.one_of(*(_successes(op) for op in gatt.Opcode))
failures = st.builds(
    gatt.ControlResponse,
    st.sampled_from(gatt.Opcode),
    st.sampled_from([s for s in Status if s is not Status.SUCCESS]),
)


@given(st.one_of(successes, failures))
def test_response_round_trip(response: gatt.ControlResponse) -> None:
    data = response.encode()
    assert data[:3] == bytes([0x80, response.opcode, response.status])
    assert gatt.ControlResponse.decode(data) == response


@pytest.mark.parametrize(
    "response",
    [
        gatt.ControlResponse(gatt.Opcode.COUNT, Status.SUCCESS),  # result missing
        gatt.ControlResponse(gatt.Opcode.COUNT, Status.SUCCESS, gatt.AckDone(1)),  # wrong result
        gatt.ControlResponse(gatt.Opcode.IMG_GET, Status.NOT_FOUND, gatt.ImageDone(1, 2, 3)),
        gatt.ControlResponse(gatt.Opcode.ABORT, Status.SUCCESS, gatt.AckDone(0)),
    ],
)
def test_response_result_must_match_opcode_and_status(response: gatt.ControlResponse) -> None:
    with pytest.raises(ProtocolError):
        response.encode()


def test_img_list_page_size_follows_mtu() -> None:
    assert gatt.max_images_per_page(gatt.max_payload(23)) == 1
    per_page = gatt.max_images_per_page(gatt.max_payload(247))
    assert per_page == 17

    def response_len(n: int) -> int:
        page = gatt.ImageListPage(tuple(gatt.ImageEntry(i, 1, 2, 3) for i in range(1, n + 1)), True)
        return len(gatt.ControlResponse(gatt.Opcode.IMG_LIST, Status.SUCCESS, page).encode())

    assert response_len(per_page) <= gatt.max_payload(247) < response_len(per_page + 1)


# ---------------------------------------------------------------- Records

record_values = st.fixed_dictionaries(
    {},
    optional={
        Metric.BATTERY: st.integers(0, 100).map(float),
        Metric.TEMPERATURE: st.integers(-4000, 8500).map(lambda r: r / 100),
        Metric.MOISTURE: st.integers(0, 10000).map(lambda r: r / 100),
        Metric.ILLUMINANCE: st.integers(0, 2**24 - 1).map(lambda r: round(r / 100, 2)),
    },
)
records = st.builds(gatt.Record, u32, u32, record_values)


@given(st.lists(records, min_size=1, max_size=6))
def test_records_round_trip(batch: list[gatt.Record]) -> None:
    assert gatt.decode_records(gatt.encode_records(batch)) == batch


@given(st.lists(records, min_size=1, max_size=30), st.integers(27, 247))
def test_pack_records_fills_mtu_without_splitting(batch: list[gatt.Record], mtu: int) -> None:
    payload = gatt.max_payload(mtu)
    notifications = gatt.pack_records(batch, payload)
    assert all(0 < len(n) <= payload for n in notifications)
    assert [r for n in notifications for r in gatt.decode_records(n)] == batch
    # Greedy packing: no notification could have taken the next one's first record.
    for current, following in itertools.pairwise(notifications):
        first_next = gatt.decode_records(following)[0].encode()
        assert len(current) + len(first_next) > payload


def test_pack_records_refuses_an_mtu_too_small_for_one_record() -> None:
    with pytest.raises(ProtocolError, match="MTU"):
        gatt.pack_records([gatt.Record(1, 0, FULL)], gatt.max_payload(23))


def test_record_with_unsendable_value_is_refused() -> None:
    with pytest.raises(ProtocolError, match="record 5"):
        gatt.Record(5, 0, {Metric.HUMIDITY: 120.0}).encode()


# ---------------------------------------------------------------- ImageData and CRC32

JPEG = bytes(range(256)) * 7 + b"\xff\xd9"


def test_crc32_is_zlib_crc32() -> None:
    assert gatt.crc32(b"123456789") == 0xCBF43926
    assert gatt.crc32(JPEG) == zlib.crc32(JPEG)


@given(st.binary(min_size=1, max_size=3000), st.integers(10, 247))
def test_image_chunks_reassemble(image: bytes, mtu: int) -> None:
    payload = gatt.max_payload(mtu)
    assembler = gatt.ImageAssembler(9, expected_size=len(image))
    for chunk in gatt.image_chunks(9, image, payload):
        encoded = chunk.encode()
        assert len(encoded) <= payload
        assembler.add(gatt.ImageChunk.decode(encoded))
    assert assembler.finish(gatt.ImageDone(9, len(image), gatt.crc32(image))) == image


def test_transfer_resumes_at_the_bytes_held() -> None:
    payload = gatt.max_payload(64)
    assembler = gatt.ImageAssembler(3)
    first_session = list(gatt.image_chunks(3, JPEG, payload))
    for chunk in first_session[:5]:  # the link drops after five chunks
        assembler.add(chunk)
    assert assembler.held == 5 * (payload - 6)
    for chunk in gatt.image_chunks(3, JPEG, payload, offset=assembler.held):
        assembler.add(chunk)
    assert assembler.finish(gatt.ImageDone(3, len(JPEG), gatt.crc32(JPEG))) == JPEG


@pytest.mark.parametrize(
    ("chunk", "match"),
    [
        (gatt.ImageChunk(3, 10, b"x"), "gap"),
        (gatt.ImageChunk(3, 2, b"x"), "overlaps"),
        (gatt.ImageChunk(4, 4, b"x"), "image 4"),
        (gatt.ImageChunk(3, 4, b"xxxxxxx"), "past the image size"),
    ],
)
def test_assembler_rejects_out_of_order_overlapping_foreign_or_oversized(
    chunk: gatt.ImageChunk, match: str
) -> None:
    assembler = gatt.ImageAssembler(3, expected_size=10)
    assembler.add(gatt.ImageChunk(3, 0, b"abcd"))
    with pytest.raises(ProtocolError, match=match):
        assembler.add(chunk)
    assert assembler.held == 4  # a rejected chunk changes nothing


def test_assembler_checks_size_and_crc_on_completion() -> None:
    assembler = gatt.ImageAssembler(3)
    assembler.add(gatt.ImageChunk(3, 0, b"abcd"))
    with pytest.raises(ProtocolError, match="CRC32"):
        assembler.finish(gatt.ImageDone(3, 4, gatt.crc32(b"abce")))
    with pytest.raises(ProtocolError, match="4 of 5"):
        assembler.finish(gatt.ImageDone(3, 5, gatt.crc32(b"abcd")))
    assert assembler.finish(gatt.ImageDone(3, 4, gatt.crc32(b"abcd"))) == b"abcd"


def test_image_chunks_validate_offset_and_mtu() -> None:
    with pytest.raises(ProtocolError, match="offset"):
        list(gatt.image_chunks(1, b"abc", 20, offset=4))
    with pytest.raises(ProtocolError, match="MTU"):
        list(gatt.image_chunks(1, b"abc", 6))
    assert list(gatt.image_chunks(1, b"abc", 20, offset=3)) == []


# ---------------------------------------------------------------- fuzzing every decoder

DECODERS: dict[str, Callable[[bytes], object]] = {
    "info": gatt.Info.decode,
    "config": gatt.Config.decode,
    "time": gatt.decode_time,
    "cp_request": gatt.decode_request,
    "cp_response": gatt.ControlResponse.decode,
    "records": gatt.decode_records,
    "image_chunk": gatt.ImageChunk.decode,
}


@pytest.mark.parametrize("name", sorted(DECODERS))
@given(data=st.binary(max_size=64))
def test_arbitrary_bytes_decode_or_raise_protocol_error(name: str, data: bytes) -> None:
    # Anything but ProtocolError escaping (IndexError, struct.error, ...) fails the test.
    with contextlib.suppress(ProtocolError):
        DECODERS[name](data)


@given(st.binary(min_size=3, max_size=40).map(lambda b: b"\x80" + b))
def test_arbitrary_responses_that_decode_re_encode_identically(data: bytes) -> None:
    try:
        response = gatt.ControlResponse.decode(data)
    except ProtocolError:
        return
    assert response.encode() == data


@given(st.binary(max_size=64).map(lambda b: bytes.fromhex("07000000") + b))
def test_arbitrary_config_tlvs_decode_to_a_valid_config(data: bytes) -> None:
    try:
        config = gatt.Config.decode(data)
    except ProtocolError:
        return
    config.validate()
    assert config.revision == 7
