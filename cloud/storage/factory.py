"""Build the configured ``ObjectStore`` (called from the app lifespan and the worker)."""

from __future__ import annotations

from cloud.settings.images import ImageSettings
from cloud.storage.ports import ObjectStore


def build_object_store(settings: ImageSettings) -> ObjectStore:
    """GCS (real bucket, or the emulator at ``gcs_endpoint``) or the local directory store."""
    if settings.storage_backend == "local":
        from cloud.storage.local import LocalObjectStore

        return LocalObjectStore(
            settings.storage_dir.expanduser(),
            settings.storage_signing_key.encode(),
            settings.public_base_url,
        )

    from google.auth.credentials import AnonymousCredentials, Credentials
    from google.cloud import storage
    from google.oauth2 import service_account

    from cloud.storage.gcs import GcsObjectStore

    assert settings.gcs_bucket is not None  # enforced by the settings validator
    key_file: Credentials | None = None
    if settings.gcs_credentials_file is not None:
        key_file = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
            str(settings.gcs_credentials_file)
        )
    if settings.gcs_endpoint:
        # The emulator takes anonymous calls; signing still needs a key when one is given.
        client = storage.Client(
            project=settings.gcs_project or "plantvita",
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": settings.gcs_endpoint},
        )
    else:
        client = storage.Client(project=settings.gcs_project, credentials=key_file)
    return GcsObjectStore(
        client,
        settings.gcs_bucket,
        signing_credentials=key_file,
        resumable_threshold=settings.gcs_resumable_threshold,
    )
