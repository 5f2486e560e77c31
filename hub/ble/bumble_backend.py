"""A bleak backend over Bumble: an in-process BLE radio for tests and the demo.

Every emulated node is a Bumble ``Device`` (a real host stack: advertising, SMP, ATT, GATT server)
on its own virtual controller; the hub's side is one more ``Device`` acting as central. The
controllers talk over a Bumble ``LocalLink``. ``BumbleRadio.backends()`` returns scanner and
client classes implementing bleak's backend interfaces, so the gateway's ordinary
``BleakScanner(backend=...)`` / ``BleakClient(backend=...)`` calls run over real ATT/GATT PDUs.

Two things Bumble's virtual controller does not do are added here: it reports the advertiser's
real scan response (Bumble repeats the advertising data) and a per-node RSSI; and a radio can be
told to stall (drop every advert until scanning restarts, like a wedged adapter) or to fail the
next scan starts (adapter errors), so the gateway's watchdog and backoff can be tested.

The hub's controller can also sit in another process, as a real adapter sits outside the hub:
``serve_central`` puts it on the nodes' link behind an HCI transport (Bumble's ``tcp-server``),
and a ``BumbleRadio(hci_transport=...)`` in the hub's process runs only the hub's host stack
over it (``tcp-client``), so a benchmark can confine the hub without its nodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

from bleak import BleakClient
from bleak.args import SizedBuffer
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError, BleakGATTProtocolError
from bumble import att, core, hci, ll
from bumble.controller import Controller
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.gatt_client import CharacteristicProxy, DescriptorProxy, ServiceProxy
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport import open_transport
from bumble.transport.common import AsyncPipeSink, Transport

logger = logging.getLogger(__name__)

HUB_ADDRESS = "F0:00:00:00:00:01"
DEFAULT_RSSI = -60
ATT_MTU = 247  # what BlueZ negotiates with an ESP32 running NimBLE
_ACL_LENGTH = 251  # LE data length extension: one ACL packet per ATT PDU


def _legacy_only(controller: Controller) -> None:
    # Plant-Vita nodes use legacy advertising (31 bytes); keeping both sides legacy means the
    # node's scan response travels as a real SCAN_RSP report.
    controller.le_features = hci.LeFeatureMask(
        controller.le_features & ~hci.LeFeatureMask.LE_EXTENDED_ADVERTISING
    )
    controller.le_acl_data_packet_length = _ACL_LENGTH


def bleak_uuid(value: core.UUID) -> str:
    """Bumble's UUID as bleak spells it: lower-case 128-bit string."""
    return str(uuid.UUID(bytes=bytes(reversed(value.to_bytes(force_128=True)))))


@dataclass(frozen=True, slots=True)
class BumbleDetails:
    """``BLEDevice.details`` for this backend (not a dict: bleak-retry-connector's BlueZ
    helpers then leave it alone)."""

    address: hci.Address


class _CentralController(Controller):
    """The hub's controller: real scan responses, per-advertiser RSSI, a stall switch."""

    def __init__(
        self,
        radio: BumbleRadio,
        name: str,
        link: LocalLink,
        address: str,
        transport: Transport | None = None,
    ) -> None:
        """``transport``: the host is across it (``serve_central``), not attached in-process."""
        super().__init__(
            name,
            host_source=transport.source if transport else None,
            host_sink=transport.sink if transport else None,
            link=link,
            public_address=address,
        )
        self._radio = radio

    def on_advertising_pdu(self, pdu: ll.AdvInd | ll.AdvExtInd) -> None:
        if not isinstance(pdu, ll.AdvInd):
            super().on_advertising_pdu(pdu)
            return
        if self.le_scan_enable and not self._radio.stalled:
            address = pdu.advertiser_address
            rssi = self._radio.rssi_of(str(address))
            reports = [
                hci.HCI_LE_Advertising_Report_Event.Report(
                    event_type=hci.HCI_LE_Advertising_Report_Event.EventType.ADV_IND,
                    address_type=address.address_type,
                    address=address,
                    data=pdu.data,
                    rssi=rssi,
                )
            ]
            if self.le_scan_type == 1:  # active scanning: ask for the scan response
                sender = self.link.find_le_controller(address)
                scan_response = sender.le_legacy_advertiser.scan_response_data if sender else b""
                reports.append(
                    hci.HCI_LE_Advertising_Report_Event.Report(
                        event_type=hci.HCI_LE_Advertising_Report_Event.EventType.SCAN_RSP,
                        address_type=address.address_type,
                        address=address,
                        data=scan_response,
                        rssi=rssi,
                    )
                )
            for report in reports:
                self.send_hci_packet(hci.HCI_LE_Advertising_Report_Event([report]))
        pending = self.pending_le_connection
        if pending is not None and pending.peer_address == pdu.advertiser_address:
            self.create_le_connection(pdu.advertiser_address)

    def create_le_connection(self, peer_address: hci.Address) -> None:
        # On air a CONNECT_IND answers a connectable advert the peer is still sending; here the
        # advert was queued, so skip it if the node stopped advertising meanwhile (else the hub
        # would hold a link the node never accepted).
        peer = self.link.find_le_controller(peer_address)
        if peer is None or not peer.le_legacy_advertiser.enabled:
            return
        super().create_le_connection(peer_address)

    def on_hci_le_create_connection_cancel_command(
        self, _command: hci.HCI_LE_Create_Connection_Cancel_Command
    ) -> hci.HCI_StatusReturnParameters:
        # Bumble's controller acknowledges the cancel but keeps the connection pending: every
        # later Create Connection was then refused (COMMAND_DISALLOWED) until the cancelled
        # node advertised again and got a link its host had given up on. As the spec says
        # (Vol 4 Part E 7.8.13): drop it and report Connection Complete, Unknown Connection ID.
        pending = self.pending_le_connection
        if pending is not None:
            self.pending_le_connection = None
            self._connection_cancelled(pending.peer_address)
        # Nothing pending (the link came up just before the cancel): success, as Bumble
        # answered, so the host keeps the connection it got instead of raising.
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)

    def abandon_pending_connection(self) -> bool:
        """Drop a pending attempt whose host gave up without cancelling it (its task was
        cancelled). No event: nobody waits for one, and Bumble's host would hand a late
        failure to whichever connection it starts next. True when one was pending."""
        pending, self.pending_le_connection = self.pending_le_connection, None
        return pending is not None

    def _connection_cancelled(self, peer_address: hci.Address) -> None:
        event = hci.HCI_LE_Connection_Complete_Event(
            status=hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
            connection_handle=0,
            role=hci.Role.CENTRAL,
            peer_address_type=peer_address.address_type,
            peer_address=peer_address,
            connection_interval=0,
            peripheral_latency=0,
            supervision_timeout=0,
            central_clock_accuracy=0,
        )
        # After the cancel's Command Complete, which the dispatcher queues once this returns.
        asyncio.get_running_loop().call_soon(self.send_hci_packet, event)


async def _cancel_across_transport(central: Device) -> None:
    """Cancel a pending LE Create Connection at a controller behind an HCI transport, and wait
    for its answer: Connection Complete with an error, or the link that came up just before
    the cancel (dropped). Until then the next attempt would be refused or get this one's
    late event. Nothing pending (the link came up and was handed over before the cancel): the
    controller answers success and sends nothing more, so the wait is short."""
    loop = asyncio.get_running_loop()
    answered: asyncio.Future[Connection | None] = loop.create_future()

    def settle(result: Connection | None) -> None:
        if not answered.done():
            answered.set_result(result)

    def on_connection(connection: Connection) -> None:
        settle(connection)

    def on_failure(_error: object) -> None:
        settle(None)

    central.on(central.EVENT_CONNECTION, on_connection)
    central.on(central.EVENT_CONNECTION_FAILURE, on_failure)
    try:
        await central.send_command(hci.HCI_LE_Create_Connection_Cancel_Command())
        async with asyncio.timeout(0.5):
            connection = await answered
        if connection is not None:
            await connection.disconnect()
    except TimeoutError:
        pass
    except core.BaseBumbleError:
        logger.warning("cancelling a connection attempt across the HCI transport failed")
    finally:
        central.remove_listener(central.EVENT_CONNECTION, on_connection)
        central.remove_listener(central.EVENT_CONNECTION_FAILURE, on_failure)


def _controller_of(device: Device) -> Controller | None:
    """The virtual controller under a device's host (behind the host's ``AsyncPipeSink``)."""
    sink = device.host.hci_sink
    controller = getattr(sink, "sink", sink)
    return controller if isinstance(controller, Controller) else None


class BumbleRadio:
    """The shared in-process radio: a ``LocalLink``, the hub's central and the nodes' devices.

    With ``hci_transport`` (a Bumble transport name such as ``tcp-client:127.0.0.1:9001``) the
    hub's central is only a host stack whose controller is across that transport, on another
    process's radio (``serve_central``); the node methods and the stall and RSSI switches then
    belong to that other radio.
    """

    def __init__(self, hub_address: str = HUB_ADDRESS, *, hci_transport: str | None = None) -> None:
        self.link = LocalLink()  # type: ignore[no-untyped-call]
        self._hub_address = hub_address
        self._hci_transport = hci_transport
        self._transports: list[Transport] = []
        self._central: Device | None = None
        self._central_lock = asyncio.Lock()
        self._connect_lock = asyncio.Lock()  # one LE Create Connection at a time, as in BlueZ
        self._scanners: set[BumbleScanner] = set()
        self._scan_mode: Literal["active", "passive"] | None = None
        self._rssi: dict[str, int] = {}
        self.stalled = False
        self.scan_start_failures = 0  # the next N scan starts fail like an adapter error
        self.passive_unsupported = False  # like a BlueZ without the advertisement monitor
        self.scan_starts = 0

    # --- nodes ------------------------------------------------------------------------------

    def add_peripheral(self, address: str, name: str) -> Device:
        """A node's host stack on its own controller; the caller powers it on and advertises."""
        controller = Controller(f"node-{address}", link=self.link, public_address=address)
        _legacy_only(controller)
        device = Device(
            name=name,
            address=hci.Address(address),
            host=Host(controller, AsyncPipeSink(controller)),
        )
        return device

    def remove_peripheral(self, device: Device) -> None:
        """Take a node's controller off the air (it went out of range or was unplugged)."""
        for candidate in list(self.link.controllers):
            if candidate is _controller_of(device):
                self.link.remove_controller(candidate)

    def set_rssi(self, address: str, rssi: int) -> None:
        """The signal strength the hub reports for a node."""
        self._rssi[address.upper()] = rssi

    def rssi_of(self, address: str) -> int:
        """Signal strength of an advertiser (``DEFAULT_RSSI`` unless set)."""
        return self._rssi.get(address.upper(), DEFAULT_RSSI)

    # --- the hub's central --------------------------------------------------------------------

    async def serve_central(self, transport_name: str) -> None:
        """Put the hub's controller on this radio's link, its host across ``transport_name``
        (e.g. ``tcp-server:127.0.0.1:9001``), for a hub in another process to reach."""
        transport = await open_transport(transport_name)
        self._transports.append(transport)
        _legacy_only(_CentralController(self, "hub", self.link, self._hub_address, transport))

    async def _central_host(self) -> Host:
        if self._hci_transport is None:
            controller = _CentralController(self, "hub", self.link, self._hub_address)
            _legacy_only(controller)
            return Host(controller, AsyncPipeSink(controller))
        transport = await open_transport(self._hci_transport)
        self._transports.append(transport)
        return Host(transport.source, transport.sink)

    async def central(self) -> Device:
        """The hub's Bumble device, powered on at first use."""
        async with self._central_lock:
            if self._central is None:
                device = Device(
                    name="plantvita-hub",
                    address=hci.Address(self._hub_address),
                    host=await self._central_host(),
                )
                await device.power_on()
                device.on(device.EVENT_ADVERTISEMENT, self._on_advertisement)
                self._central = device
            return self._central

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        for scanner in list(self._scanners):
            scanner.deliver(advertisement)

    async def _scanner_started(self, scanner: BumbleScanner) -> None:
        central = await self.central()
        if self.scan_start_failures > 0:
            self.scan_start_failures -= 1
            raise BleakError("org.bluez.Error.InProgress: emulated adapter failure")
        if self.passive_unsupported and scanner.scanning_mode == "passive":
            raise BleakError("passive scanning needs org.bluez.AdvertisementMonitorManager1")
        self._scanners.add(scanner)
        await self._apply_scan_mode(central)

    async def _scanner_stopped(self, scanner: BumbleScanner) -> None:
        self._scanners.discard(scanner)
        if self._central is not None:
            await self._apply_scan_mode(self._central)

    async def _apply_scan_mode(self, central: Device) -> None:
        wanted: Literal["active", "passive"] | None = None
        if self._scanners:
            active = any(s.scanning_mode == "active" for s in self._scanners)
            wanted = "active" if active else "passive"
        if wanted == self._scan_mode:
            return
        if self._scan_mode is not None:
            await central.stop_scanning()
        self._scan_mode = wanted
        if wanted is not None:
            # Restarting scanning is what un-wedges a stalled adapter.
            self.stalled = False
            self.scan_starts += 1
            await central.start_scanning(legacy=True, active=wanted == "active")

    async def connect(self, address: str, timeout: float) -> Connection:  # noqa: ASYNC109
        """Create an LE connection from the hub to an advertising node."""
        central = await self.central()
        async with self._connect_lock:
            try:
                return await central.connect(hci.Address(address), timeout=timeout)
            except asyncio.CancelledError:
                # Cancelled from outside (the gateway's own bound) before Bumble sent its
                # cancel: the attempt must not stay pending and refuse the next node's.
                controller = _controller_of(central)
                if isinstance(controller, _CentralController):
                    controller.abandon_pending_connection()
                else:
                    await asyncio.shield(_cancel_across_transport(central))
                raise
            except core.TimeoutError as exc:
                raise TimeoutError(f"{address}: no connectable advert within {timeout}s") from exc
            except core.BaseBumbleError as exc:
                raise BleakError(f"{address}: connection failed: {exc}") from exc

    async def close(self) -> None:
        """Power the hub's central off and close its transports (tests call this between runs)."""
        self._scanners.clear()
        self._scan_mode = None
        if self._central is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await self._central.power_off()
            self._central = None
        while self._transports:
            with contextlib.suppress(Exception):
                await self._transports.pop().close()

    def backends(self) -> BleakBackends:
        """Scanner and client backend classes bound to this radio."""
        radio = self

        class Scanner(BumbleScanner):
            _radio = radio

        class Client(BumbleClient):
            _radio = radio

        return BleakBackends(scanner=Scanner, client=Client)


@dataclass(frozen=True, slots=True)
class BleakBackends:
    """The pair of bleak backend classes the gateway passes to ``BleakScanner``/``BleakClient``."""

    scanner: type[BaseBleakScanner]
    client: type[BaseBleakClient]

    def client_class(self) -> type[BleakClient]:
        """A ``BleakClient`` subclass using this backend, for ``establish_connection``."""
        backend = self.client

        class Client(BleakClient):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                kwargs.pop("_is_retry_client", None)
                super().__init__(*args, backend=backend, **kwargs)

        return Client


def _advertisement_data(advertisement: Advertisement) -> tuple[str | None, AdvertisementData]:
    name: str | None = None
    manufacturer: dict[int, bytes] = {}
    service_data: dict[str, bytes] = {}
    service_uuids: list[str] = []
    tx_power: int | None = None
    kind = core.AdvertisingData.Type
    for ad_type, payload in advertisement.data.ad_structures:
        if ad_type in (kind.COMPLETE_LOCAL_NAME, kind.SHORTENED_LOCAL_NAME):
            name = payload.decode("utf-8", errors="replace")
        elif ad_type == kind.MANUFACTURER_SPECIFIC_DATA and len(payload) >= 2:
            manufacturer[int.from_bytes(payload[:2], "little")] = payload[2:]
        elif ad_type in (
            kind.SERVICE_DATA_16_BIT_UUID,
            kind.SERVICE_DATA_32_BIT_UUID,
            kind.SERVICE_DATA_128_BIT_UUID,
        ):
            width = {
                kind.SERVICE_DATA_16_BIT_UUID: 2,
                kind.SERVICE_DATA_32_BIT_UUID: 4,
                kind.SERVICE_DATA_128_BIT_UUID: 16,
            }.get(ad_type, 2)
            if len(payload) >= width:
                key = bleak_uuid(core.UUID.from_bytes(payload[:width]))
                service_data[key] = payload[width:]
        elif ad_type in (
            kind.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
            kind.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
        ):
            for i in range(0, len(payload) - 1, 2):
                service_uuids.append(bleak_uuid(core.UUID.from_bytes(payload[i : i + 2])))
        elif ad_type in (
            kind.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
            kind.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
        ):
            for i in range(0, len(payload) - 15, 16):
                service_uuids.append(bleak_uuid(core.UUID.from_bytes(payload[i : i + 16])))
        elif ad_type == kind.TX_POWER_LEVEL and payload:
            tx_power = int.from_bytes(payload[:1], "little", signed=True)
    data = AdvertisementData(
        local_name=name,
        manufacturer_data=manufacturer,
        service_data=service_data,
        service_uuids=service_uuids,
        tx_power=tx_power,
        rssi=advertisement.rssi,
        platform_data=(advertisement,),
    )
    return name, data


class BumbleScanner(BaseBleakScanner):
    """bleak scanner backend over the radio's central (legacy scanning, active or passive)."""

    _radio: BumbleRadio

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Literal["active", "passive"] = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self.scanning_mode = scanning_mode

    def deliver(self, advertisement: Advertisement) -> None:
        """Hand one advertisement (with its scan response when active) to bleak's callbacks."""
        name, data = _advertisement_data(advertisement)
        if not self.is_allowed_uuid(data.service_uuids):
            return
        address = str(advertisement.address).split("/")[0].upper()
        device = self.create_or_update_device(
            address, address, name, BumbleDetails(advertisement.address), data
        )
        self.call_detection_callbacks(device, data)

    async def start(self) -> None:
        """Start scanning (bleak clears ``seen_devices`` at every start)."""
        self.seen_devices = {}
        await self._radio._scanner_started(self)

    async def stop(self) -> None:
        """Stop scanning."""
        await self._radio._scanner_stopped(self)


def _gatt_error(exc: att.ATT_Error) -> BleakGATTProtocolError:
    return BleakGATTProtocolError(int(exc.error_code))


class BumbleClient(BaseBleakClient):
    """bleak client backend: a Bumble GATT client on an LE connection from the hub's central."""

    _radio: BumbleRadio

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        self.address = self.address.upper()
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._closing = False
        self._subscriptions: dict[int, Callable[[bytes], None]] = {}

    @property
    def name(self) -> str:
        """The address; the emulated nodes' names come from their adverts."""
        return self.address

    @property
    def mtu_size(self) -> int:
        """The negotiated ATT MTU."""
        return int(self._connection.att_mtu) if self._connection else att.ATT_DEFAULT_MTU

    @property
    def is_connected(self) -> bool:
        """Whether the LE link is up."""
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        """Connect, exchange MTU, optionally pair, and discover every service."""
        timeout = min(float(kwargs.get("timeout", self._timeout)), self._timeout)
        try:
            # Bumble bounds the attempt itself and cancels it at the controller when it times
            # out; a second timer around it would fire first and leave the attempt pending.
            connection = await self._radio.connect(self.address, timeout)
            async with asyncio.timeout(timeout):
                self._connection = connection
                self._closing = False
                connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
                peer = Peer(connection)
                self._peer = peer
                await peer.request_mtu(ATT_MTU)
                if pair:
                    await connection.pair()
                await peer.discover_all()  # type: ignore[no-untyped-call]
                self.services = self._collection(peer)
        except BaseException:
            await self._drop()
            raise

    def _on_disconnection(self, reason: int) -> None:
        unsolicited = not self._closing
        self._connection = None
        self._peer = None
        self.services = None
        if unsolicited and self._disconnected_callback is not None:
            self._disconnected_callback()

    async def _drop(self) -> None:
        connection = self._connection
        if connection is None:
            return
        self._closing = True
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5.0):
                await connection.disconnect()
        self._connection = None
        self._peer = None

    def _collection(self, peer: Peer) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        mtu = self.mtu_size
        service_proxy: ServiceProxy
        for service_proxy in peer.services:
            service = BleakGATTService(
                service_proxy, service_proxy.handle, bleak_uuid(service_proxy.uuid)
            )
            collection.add_service(service)
            for char_proxy in service_proxy.characteristics:
                properties = [
                    flag.name.lower()
                    for flag in char_proxy.properties.__class__
                    if flag.name and char_proxy.properties & flag
                ]
                characteristic = BleakGATTCharacteristic(
                    char_proxy,
                    char_proxy.handle,
                    bleak_uuid(char_proxy.uuid),
                    cast(Any, properties),
                    lambda: mtu - 3,
                    service,
                )
                collection.add_characteristic(characteristic)
                for descriptor_proxy in char_proxy.descriptors:
                    collection.add_descriptor(
                        BleakGATTDescriptor(
                            descriptor_proxy,
                            descriptor_proxy.handle,
                            bleak_uuid(descriptor_proxy.type),
                            characteristic,
                        )
                    )
        return collection

    def _require_peer(self) -> Peer:
        if self._peer is None:
            raise BleakError("Not connected")
        return self._peer

    async def disconnect(self) -> None:
        """Terminate the link."""
        await self._drop()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """LE Secure Connections pairing (Just Works) and bonding."""
        if self._connection is None:
            raise BleakError("Not connected")
        await self._connection.pair()

    async def unpair(self) -> None:
        """Forget the bond."""
        central = await self._radio.central()
        if central.keystore is not None:
            with contextlib.suppress(KeyError):
                await central.keystore.delete(self.address)

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """ATT Read (long values are read in blobs by Bumble)."""
        peer = self._require_peer()
        try:
            return bytearray(
                await peer.read_value(cast(CharacteristicProxy[bytes], characteristic.obj))
            )
        except att.ATT_Error as exc:
            raise _gatt_error(exc) from exc

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """ATT Read of a descriptor."""
        peer = self._require_peer()
        try:
            return bytearray(await peer.read_value(cast(DescriptorProxy, descriptor.obj)))
        except att.ATT_Error as exc:
            raise _gatt_error(exc) from exc

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        """ATT Write Request (response) or Write Command."""
        peer = self._require_peer()
        try:
            await peer.write_value(
                cast(CharacteristicProxy[bytes], characteristic.obj),
                bytes(cast(bytes, data)),
                with_response=response,
            )
        except att.ATT_Error as exc:
            raise _gatt_error(exc) from exc

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        """ATT Write Request on a descriptor."""
        peer = self._require_peer()
        try:
            await peer.write_value(
                cast(DescriptorProxy, descriptor.obj), bytes(cast(bytes, data)), with_response=True
            )
        except att.ATT_Error as exc:
            raise _gatt_error(exc) from exc

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        """Write the CCCD (notifications preferred over indications, as bleak does)."""
        peer = self._require_peer()
        proxy = cast(CharacteristicProxy[bytes], characteristic.obj)

        def deliver(value: bytes) -> None:
            callback(bytearray(value))

        self._subscriptions[characteristic.handle] = deliver
        try:
            await peer.subscribe(proxy, deliver, prefer_notify=True)
        except att.ATT_Error as exc:
            raise _gatt_error(exc) from exc

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Clear the CCCD."""
        peer = self._require_peer()
        deliver = self._subscriptions.pop(characteristic.handle, None)
        await peer.unsubscribe(cast(CharacteristicProxy[bytes], characteristic.obj), deliver)


def ble_device(address: str, name: str | None = None) -> BLEDevice:
    """A ``BLEDevice`` for this backend without having scanned it (tests, benchmarks)."""
    return BLEDevice(address.upper(), name, BumbleDetails(hci.Address(address)))


__all__ = [
    "ATT_MTU",
    "HUB_ADDRESS",
    "BleakBackends",
    "BumbleClient",
    "BumbleRadio",
    "BumbleScanner",
    "ble_device",
    "bleak_uuid",
]
