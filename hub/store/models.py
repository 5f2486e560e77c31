"""Tables the store itself owns. The schema is defined by ``hub.store.migrations``; the table
classes across the hub map onto it and are never used to create tables."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class HubSetting(SQLModel, table=True):
    """A key/value setting of this hub (admin password hash, link state, units, ...)."""

    __tablename__ = "hub_settings"

    key: str = Field(primary_key=True)
    value: str


class DroppedData(SQLModel, table=True):
    """Unsynced data the hub had to drop, counted by kind."""

    __tablename__ = "dropped_data"

    kind: str = Field(primary_key=True)
    count: int = 0
    last_at: int | None = None
