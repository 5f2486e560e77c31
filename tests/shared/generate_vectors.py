"""Write shared/vectors/*.json from the encoders: ``python -m tests.shared.generate_vectors``.

The committed JSON is the source of truth; rerun this only for a deliberate protocol change and
commit docs/protocol.md with it. Every vector is decoded back before it is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared import bthome, gatt
from shared.metrics import Metric
from tests.shared.vector_codecs import (
    CODECS,
    DECODE_ONLY,
    config_fields,
    info_fields,
    metric_fields,
    record_fields,
    request_fields,
    response_fields,
    service_data_fields,
)

VECTOR_DIR = Path(__file__).resolve().parents[2] / "shared" / "vectors"

# Official BTHome v2 encryption example (https://bthome.io/encryption/, bthome-ble).
OFFICIAL_MAC = "54:48:E6:8F:80:A5"
OFFICIAL_KEY = bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")
OFFICIAL_SERVICE_DATA = "41e445f3c9962b332211006c7c4519"

PV_MAC = "24:6F:28:1A:2B:3C"
PV_KEY = bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f0")
FULL = {
    Metric.BATTERY: 87,
    Metric.TEMPERATURE: 21.53,
    Metric.HUMIDITY: 48.2,
    Metric.ILLUMINANCE: 1234.56,
    Metric.MOISTURE: 36.75,
}
# Every registry metric: more objects than one advert holds (a node with a conductivity probe).
WHOLE = FULL | {Metric.CONDUCTIVITY: 1250}
NO_LIGHT = {Metric.BATTERY: 64, Metric.TEMPERATURE: 18.0, Metric.MOISTURE: 12.5}
EXTREMES = {
    Metric.BATTERY: 0,
    Metric.TEMPERATURE: -39.99,
    Metric.HUMIDITY: 100.0,
    Metric.ILLUMINANCE: 167772.15,
    Metric.MOISTURE: 0.0,
}
EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z

Vector = dict[str, Any]


def vector(name: str, kind: str, data: bytes, fields: dict[str, Any]) -> Vector:
    """One JSON vector entry."""
    return {"name": name, "kind": kind, "hex": data.hex(), "fields": fields}


def invalid(name: str, kind: str, data: bytes, reason: str, **extra: Any) -> Vector:
    """A vector a decoder must reject."""
    return vector(name, f"{kind}_invalid", data, {"reason": reason, **extra})


def bthome_vectors() -> list[Vector]:
    """Adverts, scan responses and the official BTHome example."""
    out: list[Vector] = []
    official = service_data_fields(OFFICIAL_MAC, OFFICIAL_KEY, 1122867, {})
    official |= {"temperature": 25.06, "humidity": 50.55}
    out.append(
        vector(
            "bthome-official-encrypted",
            "bthome_service_data",
            bytes.fromhex(OFFICIAL_SERVICE_DATA),
            official,
        )
    )
    cases: list[tuple[str, bytes | None, int | None, dict[Metric, float]]] = [
        ("pv-encrypted-full", PV_KEY, 1000, FULL),
        ("pv-encrypted-no-light", PV_KEY, 1001, NO_LIGHT),
        ("pv-encrypted-extremes", PV_KEY, 0x01020304, EXTREMES),
        ("pv-plain-full", None, None, FULL),
    ]
    for name, key, counter, values in cases:
        if key is None:
            data = bthome.encode_service_data(values)
        else:
            assert counter is not None
            data = bthome.encrypt_service_data(values, mac=PV_MAC, bindkey=key, counter=counter)
        fields = service_data_fields(PV_MAC, key, counter, values)
        out.append(vector(name, "bthome_service_data", data, fields))
        out.append(
            vector(name.replace("pv-", "pv-adv-"), "adv_data", bthome.build_adv_data(data), fields)
        )
    out.append(
        vector("pv-objects-full", "objects", bthome.encode_objects(FULL), metric_fields(FULL))
    )
    out.append(
        vector("pv-objects-whole", "objects", bthome.encode_objects(WHOLE), metric_fields(WHOLE))
    )
    # Adverts alternate halves of a measurement that does not fit by counter parity; one that
    # fits goes whole whatever the counter.
    for name, counter, values in [
        ("pv-node-advert-even", 1002, WHOLE),
        ("pv-node-advert-odd", 1003, WHOLE),
        ("pv-node-advert-fits", 1005, FULL),
    ]:
        carried = bthome.advert_values(values, counter)
        fields = service_data_fields(PV_MAC, PV_KEY, counter, carried)
        fields["measurement"] = metric_fields(values)
        data = bthome.node_advert(values, mac=PV_MAC, bindkey=PV_KEY, counter=counter)
        out.append(vector(name, "node_advert", data, fields))

    full = bthome.encrypt_service_data(FULL, mac=PV_MAC, bindkey=PV_KEY, counter=1000)
    tampered = bytearray(full)
    tampered[3] ^= 0x01
    key_fields = {"mac": PV_MAC, "bindkey": PV_KEY.hex()}
    out += [
        invalid(
            "pv-wrong-key",
            "bthome_service_data",
            full,
            "authenticates only with PV_KEY",
            error="WrongKey",
            mac=PV_MAC,
            bindkey=OFFICIAL_KEY.hex(),
        ),
        invalid(
            "pv-wrong-mac",
            "bthome_service_data",
            full,
            "MAC is part of the nonce",
            error="WrongKey",
            mac="24:6F:28:1A:2B:3D",
            bindkey=PV_KEY.hex(),
        ),
        invalid(
            "pv-tampered",
            "bthome_service_data",
            bytes(tampered),
            "ciphertext bit flipped",
            error="WrongKey",
            **key_fields,
        ),
        invalid(
            "pv-no-key",
            "bthome_service_data",
            full,
            "encrypted but hub has no key",
            error="WrongKey",
            mac=PV_MAC,
            bindkey=None,
        ),
        invalid(
            "pv-plain-with-key",
            "bthome_service_data",
            bthome.encode_service_data(FULL),
            "plaintext advert from a paired node",
            error="Downgrade",
            **key_fields,
        ),
        invalid(
            "bthome-v1-device-info",
            "bthome_service_data",
            bytes.fromhex("2002c409"),
            "version bits say 1",
            error="Malformed",
            mac=PV_MAC,
            bindkey=None,
        ),
        invalid(
            "pv-truncated",
            "bthome_service_data",
            full[:10],
            "shorter than counter + MIC",
            error="Malformed",
            **key_fields,
        ),
        invalid(
            "bthome-no-metric",
            "bthome_service_data",
            bytes.fromhex("40f0"),
            "no Plant-Vita metric",
            error="Malformed",
            mac=PV_MAC,
            bindkey=None,
        ),
    ]

    for name, node_name, status in [
        ("pv-scan-image-ready", bthome.default_node_name(PV_MAC), bthome.NodeStatus.IMAGE_READY),
        ("pv-scan-idle", bthome.default_node_name(PV_MAC), bthome.NodeStatus.NONE),
        (
            "pv-scan-long-name",
            "Basil on the balcony",
            bthome.NodeStatus.STORAGE_HIGH | bthome.NodeStatus.TIME_UNSET,
        ),
    ]:
        data = bthome.build_scan_response(node_name, status)
        fields = CODECS["scan_response"][1]({}, data)
        kind = "scan_response" if fields["name_complete"] else "scan_response_shortened"
        out.append(vector(name, kind, data, fields))
    return out


def gatt_vectors() -> list[Vector]:
    """Every GATT codec, valid and invalid."""
    out: list[Vector] = []
    caps = gatt.Capability
    infos = [
        (
            "info-full",
            gatt.Info(
                1,
                caps.CAMERA
                | caps.MOISTURE
                | caps.TEMPERATURE_HUMIDITY
                | caps.ILLUMINANCE
                | caps.BATTERY,
                65536,
                4096,
                "1.0.0",
            ),
        ),
        ("info-no-camera", gatt.Info(1, caps.MOISTURE | caps.BATTERY, 0, 8192, "1.2.3-rc1")),
    ]
    out += [vector(n, "info", i.encode(), info_fields(i)) for n, i in infos]
    out.append(
        invalid(
            "info-truncated-firmware",
            "info",
            infos[0][1].encode()[:-1],
            "firmware string shorter than its length byte",
        )
    )

    configs = [
        ("config-example", gatt.Config(revision=7, camera_times=(480, 960))),
        ("config-camera-interval", gatt.Config(revision=8, camera_interval_s=21600)),
        (
            "config-custom",
            gatt.Config(
                revision=0xDEADBEEF,
                sampling_interval_s=86400,
                advert_burst_count=20,
                advert_burst_interval_ms=10240,
                camera_times=(0, 720, 1439),
                moisture_low=0.0,
                moisture_high=100.0,
                temperature_low=-40.0,
                temperature_high=85.0,
                connectable_window_s=0,
                alert_interval_s=10,
                camera_interval_s=604800,
            ),
        ),
    ]
    out += [vector(n, "config", c.encode(), config_fields(c)) for n, c in configs]
    base = configs[0][1].encode()
    forward = base + bytes.fromhex("7f03aabbcc")
    out.append(
        vector(
            "config-unknown-tlv-skipped", "config_forward", forward, config_fields(configs[0][1])
        )
    )
    out.append(
        vector(
            "config-absent-tlvs-default",
            "config_forward",
            bytes.fromhex("03000000") + bytes.fromhex("01043c000000"),
            config_fields(gatt.Config(revision=3, sampling_interval_s=60)),
        )
    )
    out += [
        invalid("config-repeated-tlv", "config", base + bytes.fromhex("020105"), "type 02 twice"),
        invalid(
            "config-sampling-too-short",
            "config",
            bytes.fromhex("07000000") + bytes.fromhex("010405000000"),
            "5 s < 10 s",
        ),
        invalid(
            "config-wrong-length",
            "config",
            bytes.fromhex("07000000") + bytes.fromhex("01025802"),
            "u32 setting with 2 bytes",
        ),
        invalid(
            "config-thresholds-crossed",
            "config",
            bytes.fromhex("07000000") + bytes.fromhex("0502401f0602d007"),
            "moisture_low above moisture_high",
        ),
        invalid(
            "config-camera-unordered",
            "config",
            bytes.fromhex("07000000") + bytes.fromhex("0404c003e001"),
            "times not ascending",
        ),
        invalid(
            "config-truncated-tlv",
            "config",
            bytes.fromhex("0700000001045802"),
            "value shorter than length",
        ),
        invalid("config-no-revision", "config", bytes.fromhex("070000"), "3 bytes"),
    ]

    out.append(vector("time-2026", "time", gatt.encode_time(EPOCH), {"epoch": EPOCH}))
    out += [
        invalid("time-short", "time", bytes.fromhex("00b955"), "3 bytes"),
        invalid("time-unset-clock", "time", bytes.fromhex("00000000"), "before 2020"),
    ]

    requests: list[tuple[str, gatt.ControlRequest]] = [
        ("cp-report-since", gatt.ReportSince(1000)),
        ("cp-ack-upto", gatt.AckUpto(1001)),
        ("cp-count", gatt.Count()),
        ("cp-capture", gatt.Capture()),
        ("cp-img-list-start", gatt.ImgList(0)),
        ("cp-img-list-after", gatt.ImgList(3)),
        ("cp-img-get", gatt.ImgGet(3, 4096)),
        ("cp-img-delete", gatt.ImgDelete(3)),
        ("cp-abort", gatt.Abort()),
    ]
    out += [vector(n, "cp_request", gatt.encode_request(r), request_fields(r)) for n, r in requests]
    out += [
        invalid(
            "cp-unknown-opcode",
            "cp_request",
            bytes.fromhex("09"),
            "opcode 9",
            status="UNKNOWN_OPCODE",
        ),
        invalid(
            "cp-report-since-short",
            "cp_request",
            bytes.fromhex("01e803"),
            "seq is u32",
            status="INVALID_PARAMETER",
        ),
        invalid(
            "cp-count-extra",
            "cp_request",
            bytes.fromhex("0300"),
            "COUNT takes nothing",
            status="INVALID_PARAMETER",
        ),
        invalid(
            "cp-img-get-id-zero",
            "cp_request",
            bytes.fromhex("06000000000000"),
            "image id 0 is reserved",
            status="INVALID_PARAMETER",
        ),
        invalid("cp-empty", "cp_request", b"", "no opcode", status="INVALID_PARAMETER"),
    ]

    entry = gatt.ImageEntry(3, 20480, 0x1234ABCD, EPOCH)
    entry2 = gatt.ImageEntry(4, 18000, 0x0BADF00D, EPOCH + 28800)
    Op, S = gatt.Opcode, gatt.Status
    responses = [
        (
            "cp-rsp-report-done",
            gatt.ControlResponse(Op.REPORT_SINCE, S.SUCCESS, gatt.ReportDone(2, 1001)),
        ),
        (
            "cp-rsp-report-empty",
            gatt.ControlResponse(Op.REPORT_SINCE, S.SUCCESS, gatt.ReportDone(0, 0)),
        ),
        ("cp-rsp-report-aborted", gatt.ControlResponse(Op.REPORT_SINCE, S.ABORTED)),
        ("cp-rsp-ack", gatt.ControlResponse(Op.ACK_UPTO, S.SUCCESS, gatt.AckDone(40))),
        (
            "cp-rsp-count",
            gatt.ControlResponse(Op.COUNT, S.SUCCESS, gatt.CountResult(42, 959, 1000)),
        ),
        ("cp-rsp-capture", gatt.ControlResponse(Op.CAPTURE, S.SUCCESS, entry)),
        ("cp-rsp-capture-no-camera", gatt.ControlResponse(Op.CAPTURE, S.NO_CAMERA)),
        (
            "cp-rsp-img-list-one",
            gatt.ControlResponse(Op.IMG_LIST, S.SUCCESS, gatt.ImageListPage((entry,), False)),
        ),
        (
            "cp-rsp-img-list-more",
            gatt.ControlResponse(Op.IMG_LIST, S.SUCCESS, gatt.ImageListPage((entry, entry2), True)),
        ),
        (
            "cp-rsp-img-list-empty",
            gatt.ControlResponse(Op.IMG_LIST, S.SUCCESS, gatt.ImageListPage((), False)),
        ),
        (
            "cp-rsp-img-get-done",
            gatt.ControlResponse(Op.IMG_GET, S.SUCCESS, gatt.ImageDone(3, 20480, 0x1234ABCD)),
        ),
        ("cp-rsp-img-get-not-found", gatt.ControlResponse(Op.IMG_GET, S.NOT_FOUND)),
        ("cp-rsp-img-delete", gatt.ControlResponse(Op.IMG_DELETE, S.SUCCESS)),
        ("cp-rsp-abort", gatt.ControlResponse(Op.ABORT, S.SUCCESS)),
        ("cp-rsp-busy", gatt.ControlResponse(Op.COUNT, S.BUSY)),
        ("cp-rsp-unknown-opcode", gatt.ControlResponse(Op.ABORT, S.UNKNOWN_OPCODE)),
    ]
    out += [vector(n, "cp_response", r.encode(), response_fields(r)) for n, r in responses]
    out += [
        invalid("cp-rsp-not-response", "cp_response", bytes.fromhex("010300"), "first byte not 80"),
        invalid(
            "cp-rsp-error-with-result",
            "cp_response",
            bytes.fromhex("80060300"),
            "error carries bytes",
        ),
        invalid(
            "cp-rsp-list-count-mismatch",
            "cp_response",
            bytes.fromhex("8005000200")
            + gatt.ControlResponse(Op.CAPTURE, S.SUCCESS, entry).encode()[3:],
            "says 2 entries, holds 1",
        ),
        invalid(
            "cp-rsp-count-short",
            "cp_response",
            bytes.fromhex("8003002a000000"),
            "COUNT result is 12 bytes",
        ),
        invalid("cp-rsp-unknown-status", "cp_response", bytes.fromhex("800330"), "status 0x30"),
    ]

    rec1 = gatt.Record(1000, EPOCH, FULL)
    rec2 = gatt.Record(1001, EPOCH + 600, NO_LIGHT)
    rec_unset = gatt.Record(7, 0, {Metric.MOISTURE: 55.5})
    for name, recs in [
        ("records-one", [rec1]),
        ("records-two", [rec1, rec2]),
        ("records-clock-unset", [rec_unset]),
    ]:
        out.append(
            vector(
                name,
                "records",
                gatt.encode_records(recs),
                {"records": [record_fields(r) for r in recs]},
            )
        )
    one = rec1.encode()
    out += [
        invalid("records-truncated", "records", one[:-1], "objects shorter than length"),
        invalid(
            "records-unknown-object",
            "records",
            bytes.fromhex("e803000000b9556902") + bytes.fromhex("0457"),
            "object id 04",
        ),
        invalid("records-empty", "records", b"", "no record"),
    ]

    chunk = gatt.ImageChunk(3, 4096, bytes.fromhex("ffd8ffe0"))
    out.append(
        vector(
            "image-chunk",
            "image_chunk",
            chunk.encode(),
            {"image_id": 3, "offset": 4096, "data": "ffd8ffe0"},
        )
    )
    out += [
        invalid(
            "image-chunk-header-only",
            "image_chunk",
            bytes.fromhex("030000100000"),
            "no image bytes",
        ),
        invalid(
            "image-chunk-id-zero",
            "image_chunk",
            bytes.fromhex("000000000000ff"),
            "image id 0 is reserved",
        ),
    ]

    for name, data in [
        ("crc32-check", b"123456789"),
        ("crc32-empty", b""),
        ("crc32-jpeg-markers", bytes.fromhex("ffd8ffe000104a464946ffd9")),
    ]:
        out.append(vector(name, "crc32", data, {"crc32": gatt.crc32(data)}))
    return out


def check(vectors: list[Vector]) -> None:
    """Decode every valid vector back, so a generator bug cannot be written to disk."""
    for v in vectors:
        kind = str(v["kind"])
        kind = DECODE_ONLY.get(kind, kind)
        if kind.endswith("_invalid"):
            continue
        decoded = CODECS[kind][1](v["fields"], bytes.fromhex(v["hex"]))
        assert decoded == v["fields"], (v["name"], decoded, v["fields"])


def main() -> None:
    """Write the vector files."""
    for filename, vectors in [("bthome.json", bthome_vectors()), ("gatt.json", gatt_vectors())]:
        check(vectors)
        names = [v["name"] for v in vectors]
        assert len(names) == len(set(names)), "vector names must be unique"
        text = json.dumps(vectors, indent=1, ensure_ascii=False) + "\n"
        (VECTOR_DIR / filename).write_text(text, encoding="utf-8")
        print(f"{filename}: {len(vectors)} vectors")


if __name__ == "__main__":
    main()
