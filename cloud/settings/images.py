"""Settings of the image archive and the diagnosis pipeline, mixed into ``CloudSettings``."""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings

DEFAULT_STORAGE_SIGNING_KEY: Final = "development-only-storage-url-signing-key"


class ImageSettings(BaseSettings):
    """``PLANTVITA_CLOUD_*`` knobs for object storage, images, Gemini and the job queue."""

    # Object storage: "local" keeps files under storage_dir and serves signed URLs itself.
    storage_backend: Literal["local", "gcs"] = "local"
    storage_dir: Path = Path("var/cloud/objects")
    storage_signing_key: str = DEFAULT_STORAGE_SIGNING_KEY
    public_base_url: str = "http://localhost:8000"  # how hubs reach this cloud (local store URLs)
    gcs_bucket: str | None = None
    gcs_project: str | None = None
    gcs_credentials_file: Path | None = None  # service-account JSON; else ADC (Cloud Run)
    gcs_endpoint: str | None = None  # the emulator's URL: anonymous access, tests only
    gcs_resumable_threshold: int = Field(default=8 * 1024 * 1024, ge=256 * 1024)

    # Images.
    image_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)
    upload_url_ttl_s: int = Field(default=900, ge=30, le=7 * 86_400)
    download_url_ttl_s: int = Field(default=300, ge=10, le=86_400)
    thumbnail_px: int = Field(default=320, ge=32, le=2048)

    # Diagnosis: Gemini when a key is set, the built-in heuristic otherwise.
    gemini_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "PLANTVITA_CLOUD_GEMINI_API_KEY", "GEMINI_API_KEY", "gemini_api_key"
        ),
    )
    gemini_model: str = "gemini-2.5-flash"
    gemini_base_url: str | None = None  # a proxy or test double in front of the Gemini API
    gemini_timeout_s: float = Field(default=60.0, gt=0)
    gemini_max_output_tokens: int = Field(default=2048, ge=256)
    diagnosis_enabled: bool = True
    diagnosis_rpm: int = Field(default=30, ge=1)  # model calls per minute, across all workers
    diagnosis_max_attempts: int = Field(default=5, ge=1, le=50)
    diagnosis_backoff_base_s: float = Field(default=15.0, ge=0)
    diagnosis_backoff_max_s: float = Field(default=3600.0, ge=0)
    diagnosis_context_days: int = Field(default=7, ge=1, le=31)

    # Workers: the API process runs one inline unless told otherwise (embedded default).
    worker_inline: bool = True
    # Whether a worker also queues the scheduled tasks (storage maintenance, digests, stalled-job
    # recovery, job pruning). Several may: each run is queued once. At least one must.
    worker_schedule: bool = True
    worker_concurrency: int = Field(default=2, ge=1, le=64)
    worker_heartbeat_s: float = Field(default=10.0, gt=0)
    worker_stalled_after_s: float = Field(default=60.0, gt=0)
    worker_poll_s: float = Field(default=5.0, gt=0)
    job_retention_days: int = Field(default=30, ge=1)  # finished queue jobs kept this long
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)  # standalone worker

    @model_validator(mode="after")
    def _check_storage(self) -> ImageSettings:
        if self.storage_backend == "gcs" and not self.gcs_bucket:
            raise ValueError("PLANTVITA_CLOUD_GCS_BUCKET is required with storage_backend=gcs")
        return self

    def storage_secret_problem(self) -> str | None:
        """Why the local store's URL signing key is unfit outside development, or None."""
        if self.storage_backend != "local":
            return None
        key = self.storage_signing_key
        if key == DEFAULT_STORAGE_SIGNING_KEY or len(key) < 32:
            return (
                "PLANTVITA_CLOUD_STORAGE_SIGNING_KEY must be a random secret of 32+ characters "
                "outside development (it signs the local store's upload and download URLs)"
            )
        return None
