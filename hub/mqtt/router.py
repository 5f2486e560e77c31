"""The Home Assistant (MQTT) settings and status: read by anyone on the LAN, set by the admin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from hub.auth.dependencies import AdminDep
from hub.mqtt.schemas import BrokerUpdate, MqttPublic
from hub.mqtt.service import MqttBridge

router = APIRouter(prefix="/api/v1", tags=["home assistant"])


def get_bridge(request: Request) -> MqttBridge:
    """The bridge built in the lifespan."""
    bridge: MqttBridge = request.app.state.mqtt
    return bridge


BridgeDep = Annotated[MqttBridge, Depends(get_bridge)]


@router.get("/mqtt", response_model=MqttPublic)
async def mqtt_settings(bridge: BridgeDep) -> MqttPublic:
    """The broker Home Assistant is reached through (never the password) and the link's state."""
    return bridge.public()


@router.put("/mqtt", response_model=MqttPublic)
async def set_mqtt(data: BrokerUpdate, bridge: BridgeDep, _admin: AdminDep) -> MqttPublic:
    """Set the broker (admin); an empty host turns Home Assistant publishing off. The hub
    reconnects at once with the new settings."""
    await bridge.reconfigure(data)
    return bridge.public()
