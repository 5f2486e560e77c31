"""Map every vector kind to its encoder and decoder, in terms of the flat JSON ``fields``.

Used by the generator (to write shared/vectors/*.json) and by the tests (to check that the
committed JSON still encodes byte-for-byte and decodes to its fields).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from shared import bthome, gatt
from shared.metrics import Metric

Fields = dict[str, Any]
_METRIC_NAMES = {m.value for m in Metric}


def metrics_from(fields: Mapping[str, Any]) -> dict[Metric, float]:
    """The metric values named in ``fields``."""
    return {Metric(k): v for k, v in fields.items() if k in _METRIC_NAMES}


def metric_fields(values: Mapping[Metric, float]) -> Fields:
    """Metric values as JSON fields (in object id order for readable JSON)."""
    return {f.metric.value: values[f.metric] for f in bthome.OBJECT_FORMATS if f.metric in values}


def _bindkey(fields: Mapping[str, Any]) -> bytes | None:
    key = fields["bindkey"]
    return bytes.fromhex(key) if key is not None else None


def encode_service_data(fields: Mapping[str, Any]) -> bytes:
    """Encode a bthome_service_data vector from its fields."""
    values = metrics_from(fields)
    key = _bindkey(fields)
    if key is None:
        return bthome.encode_service_data(values)
    return bthome.encrypt_service_data(
        values, mac=fields["mac"], bindkey=key, counter=fields["counter"]
    )


def decode_service_data_with(fields: Mapping[str, Any], data: bytes) -> Fields:
    """Decode service data with the vector's own MAC and key, as a fresh hub would."""
    decoder = bthome.BTHomeNodeDecoder(fields["mac"], _bindkey(fields))
    advert = decoder.decode(data)
    out: Fields = {
        "mac": advert.mac,
        "bindkey": fields["bindkey"],
        "encrypted": advert.encrypted,
        "counter": advert.sequence,
    }
    if advert.sequence is not None:
        out["nonce"] = bthome.bthome_nonce(advert.mac, data[0], advert.sequence).hex()
    return out | metric_fields(advert.values)


def service_data_fields(
    mac: str, bindkey: bytes | None, counter: int | None, values: Mapping[Metric, float]
) -> Fields:
    """Fields of a bthome_service_data / adv_data vector."""
    out: Fields = {
        "mac": mac,
        "bindkey": bindkey.hex() if bindkey else None,
        "encrypted": bindkey is not None,
        "counter": counter,
    }
    if bindkey is not None and counter is not None:
        nonce = bthome.bthome_nonce(mac, bthome.DEVICE_INFO_ENCRYPTED, counter)
        out["nonce"] = nonce.hex()
    return out | metric_fields(values)


def _result_fields(result: gatt.ResponseResult | None) -> Fields:
    if result is None:
        return {}
    if isinstance(result, gatt.ImageListPage):
        return {"images": [dataclasses.asdict(e) for e in result.images], "more": result.more}
    return dataclasses.asdict(result)


def _result_from(opcode: gatt.Opcode, fields: Mapping[str, Any]) -> gatt.ResponseResult | None:
    if fields["status"] != "SUCCESS":
        return None
    match opcode:
        case gatt.Opcode.REPORT_SINCE:
            return gatt.ReportDone(fields["count"], fields["last_seq"])
        case gatt.Opcode.ACK_UPTO:
            return gatt.AckDone(fields["remaining"])
        case gatt.Opcode.COUNT:
            return gatt.CountResult(fields["count"], fields["oldest_seq"], fields["newest_seq"])
        case gatt.Opcode.CAPTURE:
            return gatt.ImageEntry(
                fields["image_id"], fields["size"], fields["crc32"], fields["epoch"]
            )
        case gatt.Opcode.IMG_LIST:
            images = tuple(gatt.ImageEntry(**e) for e in fields["images"])
            return gatt.ImageListPage(images, fields["more"])
        case gatt.Opcode.IMG_GET:
            return gatt.ImageDone(fields["image_id"], fields["size"], fields["crc32"])
    return None


def response_from(fields: Mapping[str, Any]) -> gatt.ControlResponse:
    """Build a ControlResponse from cp_response fields."""
    opcode = gatt.Opcode[fields["opcode"]]
    return gatt.ControlResponse(opcode, gatt.Status[fields["status"]], _result_from(opcode, fields))


def response_fields(response: gatt.ControlResponse) -> Fields:
    """Fields of a cp_response vector."""
    head: Fields = {"opcode": response.opcode.name, "status": response.status.name}
    return head | _result_fields(response.result)


def request_from(fields: Mapping[str, Any]) -> gatt.ControlRequest:
    """Build a Control Point request from cp_request fields."""
    params = {k: v for k, v in fields.items() if k != "opcode"}
    request_type: type[gatt.ControlRequest] = {
        gatt.Opcode.REPORT_SINCE: gatt.ReportSince,
        gatt.Opcode.ACK_UPTO: gatt.AckUpto,
        gatt.Opcode.COUNT: gatt.Count,
        gatt.Opcode.CAPTURE: gatt.Capture,
        gatt.Opcode.IMG_LIST: gatt.ImgList,
        gatt.Opcode.IMG_GET: gatt.ImgGet,
        gatt.Opcode.IMG_DELETE: gatt.ImgDelete,
        gatt.Opcode.ABORT: gatt.Abort,
    }[gatt.Opcode[fields["opcode"]]]
    return request_type(**params)


def request_fields(request: gatt.ControlRequest) -> Fields:
    """Fields of a cp_request vector."""
    return {"opcode": request.opcode.name} | dataclasses.asdict(request)


def info_fields(info: gatt.Info) -> Fields:
    """Fields of an info vector."""
    return dataclasses.asdict(info) | {"capabilities": int(info.capabilities)}


def info_from(fields: Mapping[str, Any]) -> gatt.Info:
    """Build Info from info fields."""
    return gatt.Info(**(dict(fields) | {"capabilities": gatt.Capability(fields["capabilities"])}))


def config_fields(config: gatt.Config) -> Fields:
    """Fields of a config vector."""
    return dataclasses.asdict(config) | {"camera_times": list(config.camera_times)}


def config_from(fields: Mapping[str, Any]) -> gatt.Config:
    """Build Config from config fields."""
    return gatt.Config(**(dict(fields) | {"camera_times": tuple(fields["camera_times"])}))


def record_fields(record: gatt.Record) -> Fields:
    """One entry of a records vector."""
    return {"seq": record.seq, "epoch": record.epoch} | metric_fields(record.values)


def records_from(fields: Mapping[str, Any]) -> list[gatt.Record]:
    """Build records from records fields."""
    return [gatt.Record(r["seq"], r["epoch"], metrics_from(r)) for r in fields["records"]]


def scan_fields(scan: bthome.ScanResponse) -> Fields:
    """Fields of a scan_response vector."""
    return {
        "name": scan.name,
        "name_complete": scan.name_complete,
        "status": int(scan.status) if scan.status is not None else None,
        "pending": scan.pending,
    }


# kind -> (encode fields to bytes, decode bytes to fields). Decoders get the vector's fields too,
# because BTHome decoding needs the node's MAC and key.
# crc32 has no encoder: its bytes are the checksum's input.
Codec = tuple[
    Callable[[Mapping[str, Any]], bytes] | None, Callable[[Mapping[str, Any], bytes], Fields]
]


def encode_node_advert(fields: Mapping[str, Any]) -> bytes:
    """A node's advert for the whole measurement of a node_advert vector."""
    key = _bindkey(fields)
    assert key is not None
    return bthome.node_advert(
        metrics_from(fields["measurement"]),
        mac=fields["mac"],
        bindkey=key,
        counter=fields["counter"],
    )


def decode_node_advert(fields: Mapping[str, Any], data: bytes) -> Fields:
    """What a hub reads from a node's advert (the measurement passes through)."""
    decoded = decode_service_data_with(fields, bthome.bthome_service_data_from_adv(data))
    return decoded | {"measurement": fields["measurement"]}


CODECS: dict[str, Codec] = {
    "bthome_service_data": (encode_service_data, decode_service_data_with),
    "adv_data": (
        lambda f: bthome.build_adv_data(encode_service_data(f)),
        lambda f, d: decode_service_data_with(f, bthome.bthome_service_data_from_adv(d)),
    ),
    "node_advert": (encode_node_advert, decode_node_advert),
    "scan_response": (
        lambda f: bthome.build_scan_response(f["name"], bthome.NodeStatus(f["status"])),
        lambda f, d: scan_fields(bthome.parse_scan_response(d)),
    ),
    "objects": (
        lambda f: bthome.encode_objects(metrics_from(f)),
        lambda f, d: metric_fields(bthome.decode_objects(d)),
    ),
    "info": (lambda f: info_from(f).encode(), lambda f, d: info_fields(gatt.Info.decode(d))),
    "config": (
        lambda f: config_from(f).encode(),
        lambda f, d: config_fields(gatt.Config.decode(d)),
    ),
    "time": (
        lambda f: gatt.encode_time(f["epoch"]),
        lambda f, d: {"epoch": gatt.decode_time(d)},
    ),
    "cp_request": (
        lambda f: gatt.encode_request(request_from(f)),
        lambda f, d: request_fields(gatt.decode_request(d)),
    ),
    "cp_response": (
        lambda f: response_from(f).encode(),
        lambda f, d: response_fields(gatt.ControlResponse.decode(d)),
    ),
    "records": (
        lambda f: gatt.encode_records(records_from(f)),
        lambda f, d: {"records": [record_fields(r) for r in gatt.decode_records(d)]},
    ),
    "image_chunk": (
        lambda f: gatt.ImageChunk(f["image_id"], f["offset"], bytes.fromhex(f["data"])).encode(),
        lambda f, d: _chunk_fields(gatt.ImageChunk.decode(d)),
    ),
    "crc32": (None, lambda f, d: {"crc32": gatt.crc32(d)}),
}


def _chunk_fields(chunk: gatt.ImageChunk) -> Fields:
    return {"image_id": chunk.image_id, "offset": chunk.offset, "data": chunk.data.hex()}


# Kinds whose bytes only decode (the encoder writes a canonical form, e.g. without unknown TLVs).
DECODE_ONLY: dict[str, str] = {
    "config_forward": "config",
    "scan_response_shortened": "scan_response",
}
