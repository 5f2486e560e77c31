"""Where in the cloud app a notification points: the page that shows its subject."""

from __future__ import annotations

from cloud.notifications.ports import Subject


def app_path(subject: Subject) -> str:
    """The app page of the subject (the plant of an alert or a diagnosis, else the garden)."""
    plant = subject.payload.get("plant_id")
    if subject.kind == "alert":
        return f"/app/plants/{plant}#alerts" if plant else "/app/alerts"
    if subject.kind == "diagnosis" and plant:
        return f"/app/plants/{plant}"
    return "/app/"
