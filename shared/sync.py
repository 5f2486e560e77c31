"""Hub ↔ cloud sync API, version 1: the request and response bodies both tiers exchange.

The hub pushes alerts, readings, its node inventory and images; it pulls a config snapshot.
Every push carries a batch id so a re-sent batch is recognised, and every ack says which items
were accepted, which were duplicates and which were rejected (with a reason) so the hub marks
rows synced only from the cloud's word.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    TypeAdapter,
    ValidationError,
    create_model,
    model_validator,
)

from shared.gatt import MIN_EPOCH
from shared.mac import MacAddress
from shared.metrics import (
    Metric,
    metric_fields,
    out_of_range,
    spec,
    threshold_conflicts,
    threshold_fields,
)

API_PREFIX: Final = "/api/v1"

# Routes of the sync API, relative to the cloud's base URL. Both tiers import these.
DEVICE_CODE_PATH: Final = f"{API_PREFIX}/auth/device/code"
DEVICE_TOKEN_PATH: Final = f"{API_PREFIX}/auth/device/token"
DEVICE_APPROVE_PATH: Final = f"{API_PREFIX}/auth/device/approve"
SYNC_READINGS_PATH: Final = f"{API_PREFIX}/sync/readings"
SYNC_ALERTS_PATH: Final = f"{API_PREFIX}/sync/alerts"
SYNC_NODES_PATH: Final = f"{API_PREFIX}/sync/nodes"
SYNC_CONFIG_PATH: Final = f"{API_PREFIX}/sync/config"
SYNC_STATUS_PATH: Final = f"{API_PREFIX}/sync/status"


def config_etag(revision: int) -> str:
    """The entity tag of a hub's config snapshot at ``revision`` (``If-None-Match`` -> 304)."""
    return f'"rev-{revision}"'


def config_revision_of(if_none_match: str | None) -> int | None:
    """The revision a hub says it holds in ``If-None-Match`` (its ``config_etag``), if any."""
    for tag in (if_none_match or "").split(","):
        digits = tag.strip().removeprefix("W/").removeprefix('"rev-').removesuffix('"')
        if digits.isdigit() and len(digits) <= 18:
            return int(digits)
    return None


SYNC_DIAGNOSES_PATH: Final = f"{API_PREFIX}/sync/diagnoses"
SYNC_PLANT_EDITS_PATH: Final = f"{API_PREFIX}/sync/plant-edits"
SYNC_IMAGE_SLOTS_PATH: Final = f"{API_PREFIX}/sync/images/slots"
SYNC_IMAGE_COMPLETE_PATH: Final = f"{API_PREFIX}/sync/images/{{image_id}}/complete"

DEVICE_CODE_GRANT: Final = "urn:ietf:params:oauth:grant-type:device_code"

MAX_BATCH_ITEMS: Final = 10_000
MAX_BATCH_BYTES: Final = 8 * 1024 * 1024  # uncompressed JSON body
U32_MAX: Final = 2**32 - 1
MAX_CHANNEL: Final = 7  # channels 0..7: up to eight sensors of one kind on a node

Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- readings ---------------------------------------------------------------------------------


class ReadingSource(StrEnum):
    """How a reading reached the hub."""

    ADVERT = "advert"  # BTHome broadcast, decoded live
    BACKFILL = "backfill"  # Records characteristic, read after the hub was away
    POLL = "poll"  # read over GATT from a sensor that advertises too little (MiFlora)


class _ReadingFields(_Wire):
    """A reading's key and origin; ``ReadingIn`` adds one optional field per registry metric."""

    node_mac: MacAddress
    measured_at: AwareDatetime
    # The node's sensor index: 0 for the first sensor of each kind, 1 for the second (a second
    # soil probe, air and soil temperature). A reading is (node_mac, channel, measured_at).
    channel: int = Field(default=0, ge=0, le=MAX_CHANNEL)
    seq: int | None = Field(default=None, ge=0, le=U32_MAX)
    source: ReadingSource = ReadingSource.ADVERT

    def value(self, metric: Metric) -> float | None:
        """The reading's value of ``metric`` (None when it did not carry it)."""
        found: float | None = getattr(self, metric.value)
        return found

    def values(self) -> dict[Metric, float]:
        """The metrics the reading carries."""
        return {m: v for m in Metric if (v := self.value(m)) is not None}

    @model_validator(mode="after")
    def _check_values(self) -> _ReadingFields:
        present = 0
        for metric in Metric:
            value = self.value(metric)
            if value is None:
                continue
            present += 1
            if not math.isfinite(value):
                raise ValueError(f"{metric.value} is not a finite number")
            reason = out_of_range(metric, value)
            if reason:
                raise ValueError(reason)
        if present == 0:
            raise ValueError("a reading carries at least one metric")
        return self


if TYPE_CHECKING:
    ReadingIn = _ReadingFields
else:
    ReadingIn = create_model(
        "ReadingIn",
        __base__=_ReadingFields,
        __module__=__name__,
        __doc__="One measurement of one node, identified by (node_mac, channel, measured_at); one "
        "optional field per metric of ``shared.metrics.REGISTRY`` (JSON numbers only).",
        **metric_fields(strict=True),
    )


class ReadingBatch(BaseModel):
    """A batch of readings. Items are validated one by one so a bad item never sinks the rest."""

    model_config = ConfigDict(extra="forbid")

    batch_id: UUID
    readings: list[dict[str, Any]] = Field(max_length=MAX_BATCH_ITEMS)


class RejectReason(StrEnum):
    """Why an item of a batch was not stored."""

    INVALID = "invalid"  # failed validation (type, range, missing metric)
    UNKNOWN_NODE = "unknown_node"  # node not registered to this hub's owner
    FUTURE = "future"  # measured_at too far ahead of the server clock
    TOO_OLD = "too_old"  # before EARLIEST_TIME: a clock that was never set
    CONFLICT = "conflict"  # same key already stored with different values


# Times a reading or alert may carry: nothing before 2020 (a node or hub whose clock was never
# set counts from 1970), nothing more than a day ahead of the receiver's clock.
EARLIEST_TIME: Final = datetime.fromtimestamp(MIN_EPOCH, UTC)
MAX_AHEAD: Final = timedelta(days=1)


def time_problem(
    at: datetime, now: datetime, ahead: timedelta = MAX_AHEAD, what: str = "measured_at"
) -> tuple[RejectReason, str] | None:
    """Why ``at`` is not a time an item can carry (reason and message), or None when it is."""
    if at < EARLIEST_TIME:
        return RejectReason.TOO_OLD, f"{what} is before 2020-01-01 (a clock never set?)"
    if at > now + ahead:
        return RejectReason.FUTURE, f"{what} is more than {ahead.total_seconds():g}s ahead"
    return None


class ItemRejection(_Wire):
    """One rejected item: its index in the batch, a reason code and a human message."""

    index: int = Field(ge=0)
    reason: RejectReason
    message: str


class BatchAck(_Wire):
    """The cloud's answer to a pushed batch. Items not listed in ``rejected`` are stored."""

    batch_id: UUID
    accepted: int = Field(ge=0)
    duplicates: int = Field(ge=0)
    rejected: list[ItemRejection] = []
    replayed: bool = False  # True when this batch id was seen before and this is the stored ack


_reading_list = TypeAdapter(list[ReadingIn])
_reading_one = TypeAdapter(ReadingIn)


def parse_readings(
    raw: list[dict[str, Any]],
) -> tuple[list[tuple[int, ReadingIn]], list[ItemRejection]]:
    """Validate raw batch items; return (index, reading) for the valid ones and the rejections.

    The whole list is validated at once on the fast path; only a list with a bad item is
    validated item by item to say which ones are bad.
    """
    try:
        return list(enumerate(_reading_list.validate_python(raw))), []
    except ValidationError:
        pass
    valid: list[tuple[int, ReadingIn]] = []
    rejected: list[ItemRejection] = []
    for index, item in enumerate(raw):
        try:
            valid.append((index, _reading_one.validate_python(item)))
        except ValidationError as exc:
            rejected.append(
                ItemRejection(index=index, reason=RejectReason.INVALID, message=_first_error(exc))
            )
    return valid, rejected


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])


# --- alerts -----------------------------------------------------------------------------------


class AlertKind(StrEnum):
    """What an alert is about."""

    LOW = "low"  # metric below the plant's threshold
    HIGH = "high"  # metric above the plant's threshold
    STALE = "stale"  # node silent for too many intervals
    LOW_BATTERY = "low_battery"
    DATA_DROPPED = "data_dropped"  # hub had to drop unsynced data (disk budget)
    DISK_FULL = "disk_full"  # the hub could not store data (full disk, failed commits)


class AlertIn(_Wire):
    """An alert the hub evaluated locally. ``local_id`` makes re-sending harmless."""

    local_id: UUID
    node_mac: MacAddress | None = None
    plant_id: UUID | None = None
    kind: AlertKind
    metric: Metric | None = None
    # No NUL: PostgreSQL text cannot hold it, and the item alone must be rejected, not the batch.
    message: str = Field(max_length=500, pattern=r"^[^\x00]*$")
    opened_at: AwareDatetime
    resolved_at: AwareDatetime | None = None
    # What it opened on, so each app can write it in its reader's units (shared.alert_text):
    # the value and the limit crossed (in the registry's units), and "dli" for the daily light
    # integral rule. Sent only when known.
    value: float | None = Field(default=None, allow_inf_nan=False)
    bound: float | None = Field(default=None, allow_inf_nan=False)
    rule: Literal["dli"] | None = None


class AlertBatch(BaseModel):
    """Alerts pushed by a hub; items validated one by one like readings."""

    model_config = ConfigDict(extra="forbid")

    batch_id: UUID
    alerts: list[dict[str, Any]] = Field(max_length=MAX_BATCH_ITEMS)


# --- node inventory ---------------------------------------------------------------------------


class NodeKind(StrEnum):
    """A Plant-Vita node (full GATT service), a third-party BTHome sensor (adverts only) or a
    Xiaomi MiBeacon sensor (MiFlora and relatives: adverts, plus a GATT poll for MiFlora)."""

    PLANTVITA = "plantvita"
    BTHOME = "bthome"
    XIAOMI = "xiaomi"


class AdvertCounts(_Wire):
    """What became of a node's adverts on its hub: every advert heard ends in exactly one of
    these (docs/hub-ble.md). Totals since the node was paired."""

    stored: int = Field(default=0, ge=0)
    duplicate: int = Field(default=0, ge=0)
    replayed: int = Field(default=0, ge=0)
    wrong_key: int = Field(default=0, ge=0)
    unsupported_object: int = Field(default=0, ge=0)
    unsupported_device: int = Field(default=0, ge=0)
    malformed: int = Field(default=0, ge=0)


class NodeInfo(_Wire):
    """What the hub knows of one paired node."""

    mac: MacAddress
    kind: NodeKind = NodeKind.PLANTVITA
    name: str | None = Field(default=None, max_length=64)
    firmware_version: str | None = Field(default=None, max_length=32)
    battery: float | None = Field(default=None, ge=0, le=100)
    rssi: int | None = Field(default=None, ge=-127, le=20)
    last_seen: AwareDatetime | None = None
    config_revision_applied: int | None = Field(default=None, ge=0)
    dropped_adverts: int = Field(default=0, ge=0)  # malformed + wrong key + replayed
    advert_counts: AdvertCounts | None = None  # None: a hub that does not count outcomes


class NodeInventory(_Wire):
    """The hub's full list of paired nodes; the cloud registers new ones and updates the rest."""

    nodes: list[NodeInfo] = Field(max_length=1000)


class NodeInventoryAck(_Wire):
    """Which nodes the cloud registered new, updated, or refused (a MAC owned by someone else)."""

    registered: list[str] = []
    updated: list[str] = []
    rejected: list[ItemRejection] = []


# --- sync status ------------------------------------------------------------------------------

_COUNT = Field(default=0, ge=0, le=2**31 - 1)


class PendingCounts(_Wire):
    """What a hub holds that the cloud has not acknowledged yet, per kind (its sync ledger)."""

    alerts: int = _COUNT
    readings: int = _COUNT
    nodes: int = _COUNT
    image_slots: int = _COUNT  # photos waiting for an upload slot
    image_bytes: int = _COUNT  # photos with a slot, their bytes not uploaded yet
    plant_edits: int = _COUNT

    @property
    def total(self) -> int:
        """Every item still waiting."""
        return sum(self.model_dump().values())


class HubSyncStatus(_Wire):
    """What a hub reports at the end of each sync pass (``PUT SYNC_STATUS_PATH``): the items
    still waiting, the oldest reading among them, and the pass's error if it failed."""

    pending: PendingCounts
    oldest_pending_reading_at: AwareDatetime | None = None
    last_error: str | None = Field(default=None, max_length=500, pattern=r"^[^\x00]*$")


# --- config snapshot --------------------------------------------------------------------------


class _ThresholdMethods(_Wire):
    """Access to the threshold fields ``Thresholds`` derives from the metric registry."""

    def limit(self, name: str) -> float | None:
        """One threshold field by name (``moisture_min``, ``dli_max``, …)."""
        found: float | None = getattr(self, name)
        return found

    def bounds(self, metric: Metric) -> tuple[float | None, float | None]:
        """(min, max) for a plant metric (illuminance maps to the lux limits); (None, None)
        for a metric no species threshold applies to."""
        prefix = spec(metric).threshold
        if prefix is None:
            return None, None
        return self.limit(f"{prefix}_min"), self.limit(f"{prefix}_max")

    def daily_bounds(self, metric: Metric) -> tuple[float | None, float | None]:
        """(min, max) of the metric's daily quantity (the DLI of illuminance), if it has one."""
        daily = spec(metric).daily
        if daily is None:
            return None, None
        return self.limit(f"{daily.name}_min"), self.limit(f"{daily.name}_max")

    @model_validator(mode="after")
    def _ranges_are_ordered(self) -> _ThresholdMethods:
        if problems := threshold_conflicts(self.model_dump()):
            raise ValueError("; ".join(problems))
        return self

    def conflicts(self) -> list[str]:
        """Every range whose minimum is not below its maximum (e.g. after merging overrides):
        ``shared.metrics.threshold_conflicts``, the rule both tiers apply."""
        return threshold_conflicts(self.model_dump())

    def inverted_range(self) -> str | None:
        """Why these limits cannot hold (the first minimum not below its maximum), or None.

        Both tiers refuse such a plant the same way (the hub before its edit goes up)."""
        problems = self.conflicts()
        return problems[0] if problems else None

    def merged(self, overrides: Thresholds | None) -> Thresholds:
        """These thresholds with every limit set in ``overrides`` taking precedence."""
        if overrides is None:
            return self
        return self.model_copy(update=overrides.model_dump(exclude_none=True))

    @classmethod
    def effective(cls, species: Thresholds | None, overrides: Thresholds | None) -> Thresholds:
        """A plant's ranges: its species' with every limit the plant overrides taking
        precedence (no species: the overrides alone). The one rule both tiers use."""
        base = species if species is not None else cls()
        return base.merged(overrides)


if TYPE_CHECKING:
    Thresholds = _ThresholdMethods
else:
    Thresholds = create_model(
        "Thresholds",
        __base__=_ThresholdMethods,
        __module__=__name__,
        __doc__="A plant's comfortable ranges, ``<prefix>_min``/``<prefix>_max`` per metric of "
        "the registry with species thresholds (DLI in mol/m²/day). ``None``: no limit.",
        **dict.fromkeys(threshold_fields(), (StrictFloat | None, None)),
    )


class SpeciesThresholds(_Wire):
    """A catalog species and its ranges."""

    id: int
    common_name: str
    scientific_name: str
    thresholds: Thresholds


class PlantConfig(_Wire):
    """A plant as the hub mirrors it; ``revision`` counts the plant's changes in the cloud."""

    id: UUID
    name: str
    species_id: int | None = None
    location: str | None = None
    node_mac: MacAddress | None = None
    overrides: Thresholds | None = None
    revision: int = Field(default=1, ge=0)


# --- plant edits made on the hub (up-sync) --------------------------------------------------


class PlantChanges(_Wire):
    """The fields a gardener changed on the hub; only fields set are changes (null clears)."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    species_id: int | None = None
    location: str | None = Field(default=None, max_length=100)
    node_mac: MacAddress | None = None
    overrides: Thresholds | None = None


class PlantEdit(_Wire):
    """One edit of a plant made on the hub on its copy at ``base_revision``."""

    edit_id: UUID  # the hub's id: a re-sent edit is recognised
    plant_id: UUID
    base_revision: int = Field(ge=0)
    edited_at: AwareDatetime
    changes: PlantChanges


class PlantEditBatch(BaseModel):
    """Edits in the order they were made."""

    model_config = ConfigDict(extra="forbid")

    edits: list[PlantEdit] = Field(max_length=500)


class PlantEditOutcome(StrEnum):
    """What the cloud did with an edit."""

    APPLIED = "applied"
    CONFLICT = "conflict"  # the plant changed in the cloud since base_revision: the cloud wins
    REJECTED = "rejected"  # invalid (unknown plant, species or node, node taken)


class PlantEditResult(_Wire):
    """The cloud's word on one edit; ``current`` is the plant as the cloud now holds it."""

    edit_id: UUID
    outcome: PlantEditOutcome
    message: str | None = None
    revision: int | None = None
    current: PlantConfig | None = None


class PlantEditAck(_Wire):
    """One result per edit, in order."""

    results: list[PlantEditResult]


# The ranges of a node's settings, once for the wire config and both tiers' edit APIs.
SamplingInterval = Annotated[int, Field(ge=10, le=86_400)]
AdvertBurst = Annotated[int, Field(ge=1, le=20)]
CameraInterval = Annotated[int, Field(ge=600, le=7 * 86_400)]
ConnectableWindow = Annotated[int, Field(ge=1, le=600)]


class NodeConfig(_Wire):
    """Settings a node applies at its next connection; ``revision`` increases on every change."""

    mac: MacAddress
    revision: int = Field(ge=0)
    sampling_interval_s: SamplingInterval = 600
    advert_burst: AdvertBurst = 3
    camera_interval_s: CameraInterval | None = None
    connectable_window_s: ConnectableWindow = 10


class NodeConfigUpdate(BaseModel):
    """Settings to change on a node (on the hub, or in the cloud and pushed through the hub);
    omitted fields keep their value; the node applies them at its next connection."""

    model_config = ConfigDict(extra="forbid")

    sampling_interval_s: SamplingInterval | None = None
    advert_burst: AdvertBurst | None = None
    camera_interval_s: CameraInterval | None = None
    connectable_window_s: ConnectableWindow | None = None


class ConfigSnapshot(_Wire):
    """Everything a hub needs to run its garden offline, at one revision."""

    revision: int = Field(ge=0)
    hub_id: UUID
    generated_at: datetime
    plants: list[PlantConfig] = []
    species: list[SpeciesThresholds] = []
    nodes: list[NodeConfig] = []


# --- diagnoses (down-sync) -------------------------------------------------------------------

DIAGNOSES_PER_PLANT: Final = 5  # the newest few per plant: enough history for the plant page


class DiagnosisFinding(_Wire):
    """One problem the diagnosis saw, its likely cause and what points to it."""

    issue: str = Field(max_length=300)
    likely_cause: str = Field(max_length=500)
    cause_type: Literal["biotic", "abiotic"]
    evidence: str = Field(max_length=1000)


class PlantDiagnosis(_Wire):
    """A cloud diagnosis of one plant's photo, as the hub mirrors it.

    ``image_sha256`` names the photo (the hub keys its photos by content hash too). ``status`` is
    the job's state (queued, running, succeeded, failed); the verdict fields are set once it
    succeeded.
    """

    id: UUID
    plant_id: UUID
    image_sha256: Sha256Hex | None = None
    image_captured_at: AwareDatetime | None = None
    status: Literal["queued", "running", "succeeded", "failed"]
    health: str | None = Field(default=None, max_length=16)
    confidence: float | None = Field(default=None, ge=0, le=1)
    summary: str | None = None
    findings: list[DiagnosisFinding] = []
    recommended_actions: list[str] = []
    follow_up: str | None = None
    source: str | None = Field(default=None, max_length=16)  # "gemini" or "heuristic"
    model: str | None = Field(default=None, max_length=64)
    requested_at: AwareDatetime
    finished_at: AwareDatetime | None = None


class DiagnosisDigest(_Wire):
    """The newest diagnoses of every plant of the hub (``DIAGNOSES_PER_PLANT`` each), newest
    first. Versioned by the response's ``ETag``: a hub that sends it back in ``If-None-Match``
    gets 304 while nothing changed."""

    diagnoses: list[PlantDiagnosis] = []


# --- images -----------------------------------------------------------------------------------


class ImageQualityFlag(StrEnum):
    """Why a photo's metrics should not be trusted."""

    TOO_DARK = "too_dark"
    OVEREXPOSED = "overexposed"
    BLURRED = "blurred"


class ImageMetrics(_Wire):
    """Green-pixel metrics the hub computed from a photo."""

    canopy_cover: float = Field(ge=0, le=1)  # fraction of pixels passing the Canopeo rule
    excess_green_mean: float = Field(ge=-510, le=510)  # mean of 2G-R-B
    green_pixels: int = Field(ge=0)
    brightness: float = Field(ge=0, le=255)
    flags: list[ImageQualityFlag] = []


ImageContentType = Literal["image/jpeg", "image/png"]


class ImageSlotRequest(_Wire):
    """The hub announces an image before uploading its bytes."""

    node_mac: MacAddress
    plant_id: UUID | None = None  # defaults to the plant assigned to the node
    captured_at: AwareDatetime
    byte_size: int = Field(gt=0)
    sha256: Sha256Hex
    content_type: ImageContentType = "image/jpeg"
    metrics: ImageMetrics | None = None


class ImageSlot(_Wire):
    """Where to upload. ``complete`` is True when the cloud already holds this image."""

    image_id: UUID
    complete: bool
    upload_url: str | None = None
    upload_method: Literal["PUT"] = "PUT"
    upload_headers: dict[str, str] = {}
    expires_at: datetime | None = None


class ImageCompleteAck(_Wire):
    """The cloud verified the uploaded object and recorded the image."""

    image_id: UUID
    sha256: Sha256Hex
    byte_size: int
    diagnosis_queued: bool


# --- device authorization (RFC 8628) ----------------------------------------------------------


class DeviceCodeRequest(_Wire):
    """The hub asks to be linked; ``hub_name`` is shown to the user approving it."""

    hub_name: str = Field(default="Plant-Vita hub", min_length=1, max_length=64)


class DeviceAuthorization(_Wire):
    """RFC 8628 §3.2 device authorization response."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None = None
    expires_in: int
    interval: int = 5


class HubToken(_Wire):
    """Token response for the device-code grant: a long-lived, revocable hub token."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    hub_id: UUID


class OAuthError(_Wire):
    """RFC 6749 §5.2 / RFC 8628 §3.5 error response."""

    error: Literal[
        "authorization_pending",
        "slow_down",
        "access_denied",
        "expired_token",
        "invalid_grant",
        "invalid_request",
        "unsupported_grant_type",
    ]
    error_description: str | None = None
