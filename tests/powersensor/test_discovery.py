"""Discovery: zeroconf records and browser logic fed directly (no mDNS), legacy on 127.0.0.1."""

import asyncio
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from zeroconf import DNSCache, ServiceInfo, ServiceStateChange
from zeroconf.asyncio import AsyncServiceInfo

from custom_components.energy_local.powersensor import (
    SERVICE_TYPE_TCP,
    SERVICE_TYPE_UDP,
    DiscoveredPlug,
    PlugBrowser,
    Transport,
    discover_plugs,
    discovery,
    legacy_discover,
    normalize_mac,
    plug_from_service_info,
)

from .conftest import SimulationFactory
from .helpers import vectors, wait_for

ZC_VECTOR = vectors("zeroconf_devices_stream.json")
MAC = ZC_VECTOR["txt_properties"]["id"]
NAME = ZC_VECTOR["service_instance_name"]


def service(
    service_type: str = SERVICE_TYPE_UDP,
    *,
    port: int | None = 49476,
    properties: dict[str, Any] | None = None,
    addresses: list[str] | None = None,
) -> ServiceInfo:
    name = NAME.replace(SERVICE_TYPE_UDP, service_type)
    return ServiceInfo(
        service_type,
        name,
        port=port,
        properties=ZC_VECTOR["txt_properties"] if properties is None else properties,
        server=f"Powersensor-gateway-{MAC}-civet.local.",
        parsed_addresses=["192.0.2.7", "2001:db8::7"] if addresses is None else addresses,
    )


def fake_zeroconf(*infos: ServiceInfo) -> Any:
    """Just enough of a Zeroconf for cache lookups: a real DNSCache with the records."""
    cache = DNSCache()
    for info in infos:
        cache.async_add_records([info.dns_service(), info.dns_text(), *info.dns_addresses()])
    return SimpleNamespace(cache=cache)


def test_record_gives_mac_host_and_port() -> None:
    plug = plug_from_service_info(service())
    assert plug == DiscoveredPlug(
        mac=MAC,
        host="192.0.2.7",
        port=49476,
        transport=Transport.UDP,
        name=NAME,
        addresses=("192.0.2.7", "2001:db8::7"),
    )
    tcp = plug_from_service_info(service(SERVICE_TYPE_TCP, addresses=["2001:db8::9"]))
    assert tcp is not None
    assert (tcp.transport, tcp.host) == (Transport.TCP, "2001:db8::9")


@pytest.mark.parametrize(
    "broken",
    [
        {"properties": {"version": "1"}},  # no id: old firmware
        {"properties": {b"id": b"\xff\xfe"}},  # not UTF-8
        {"properties": {"id": "not-a-mac"}},
        {"properties": {b"id": None}},
        {"addresses": []},
        {"port": None},
    ],
)
def test_unusable_records_are_ignored(broken: dict[str, Any]) -> None:
    assert plug_from_service_info(service(**broken)) is None


def test_normalize_mac() -> None:
    assert normalize_mac("24:6F:28:04:87:A4") == "246f280487a4"
    assert normalize_mac(" 24-6f-28-04-87-a4 ") == "246f280487a4"
    assert normalize_mac("246f280487a") is None
    assert normalize_mac("246f280487ag") is None


async def test_browser_reports_found_moved_and_lost_plugs() -> None:
    found: list[DiscoveredPlug] = []
    lost: list[DiscoveredPlug] = []
    browser = PlugBrowser(SimpleNamespace(), on_found=found.append, on_lost=lost.append)  # type: ignore[arg-type]
    zc = fake_zeroconf(service())
    browser.on_service_state_change(zc, SERVICE_TYPE_UDP, NAME, ServiceStateChange.Added)
    browser.on_service_state_change(zc, SERVICE_TYPE_UDP, NAME, ServiceStateChange.Added)
    await wait_for(lambda: len(found) == 1)
    browser.on_service_state_change(zc, SERVICE_TYPE_UDP, NAME, ServiceStateChange.Updated)
    await asyncio.sleep(0.01)
    assert len(found) == 1  # same address and port: no news
    moved = fake_zeroconf(service(port=40000))
    browser.on_service_state_change(moved, SERVICE_TYPE_UDP, NAME, ServiceStateChange.Updated)
    await wait_for(lambda: len(found) == 2)
    assert found[1].port == 40000
    assert browser.plugs == [found[1]]
    browser.on_service_state_change(moved, SERVICE_TYPE_UDP, NAME, ServiceStateChange.Removed)
    browser.on_service_state_change(moved, SERVICE_TYPE_UDP, NAME, ServiceStateChange.Removed)
    assert lost == [found[1]]
    assert browser.plugs == []
    await browser.stop()


async def test_browser_asks_the_plug_when_records_are_not_cached(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = fake_zeroconf(service())
    calls: list[int] = []

    async def request(self: AsyncServiceInfo, zc: Any, timeout_ms: float, *args: Any) -> bool:
        calls.append(int(timeout_ms))
        if len(calls) == 1:
            return False  # no answer
        return bool(self.load_from_cache(answers))

    monkeypatch.setattr(AsyncServiceInfo, "async_request", request)
    found: list[DiscoveredPlug] = []
    browser = PlugBrowser(SimpleNamespace(), on_found=found.append, request_timeout_ms=1234)  # type: ignore[arg-type]
    empty = fake_zeroconf()
    browser.on_service_state_change(empty, SERVICE_TYPE_UDP, NAME, ServiceStateChange.Added)
    await wait_for(lambda: len(calls) == 1)
    await asyncio.sleep(0.01)
    assert found == []
    browser.on_service_state_change(empty, SERVICE_TYPE_UDP, NAME, ServiceStateChange.Added)
    await wait_for(lambda: len(found) == 1)
    assert calls == [1234, 1234]
    await browser.stop()


async def test_browser_survives_bad_names_bad_records_and_bad_handlers(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pending = asyncio.Event()

    async def never(self: AsyncServiceInfo, zc: Any, timeout_ms: float, *args: Any) -> bool:
        await pending.wait()
        return False

    monkeypatch.setattr(AsyncServiceInfo, "async_request", never)

    def broken(_plug: DiscoveredPlug) -> None:
        raise RuntimeError("handler bug")

    browser = PlugBrowser(SimpleNamespace(), on_found=broken)  # type: ignore[arg-type]
    browser.on_service_state_change(
        fake_zeroconf(), SERVICE_TYPE_UDP, "bogus", ServiceStateChange.Added
    )
    no_id = service(properties={"version": "1"})
    browser.on_service_state_change(
        fake_zeroconf(no_id), SERVICE_TYPE_UDP, NAME, ServiceStateChange.Added
    )
    await asyncio.sleep(0.01)
    assert browser.plugs == []
    browser.on_service_state_change(
        fake_zeroconf(service()), SERVICE_TYPE_UDP, NAME, ServiceStateChange.Added
    )
    await wait_for(lambda: len(browser.plugs) == 1)
    assert "handler bug" in caplog.text
    # A plug removed while its lookup still waits: the lookup is cancelled.
    other = NAME.replace(MAC, "246f280487a5")
    browser.on_service_state_change(
        fake_zeroconf(), SERVICE_TYPE_UDP, other, ServiceStateChange.Added
    )
    await asyncio.sleep(0)
    browser.on_service_state_change(
        fake_zeroconf(), SERVICE_TYPE_UDP, other, ServiceStateChange.Removed
    )
    browser.on_service_state_change(
        fake_zeroconf(), SERVICE_TYPE_UDP, other, ServiceStateChange.Added
    )
    await browser.stop()  # cancels the lookup that is still waiting
    assert browser._lookups == {}


class FakeBrowser:
    """Stands in for AsyncServiceBrowser: announces one plug per service type at once."""

    instances: ClassVar[list[FakeBrowser]] = []

    def __init__(self, zc: Any, service_types: list[str], handlers: list[Any]) -> None:
        self.service_types = service_types
        self.cancelled = False
        FakeBrowser.instances.append(self)
        for service_type in service_types:
            info = service(service_type)
            for handler in handlers:
                handler(fake_zeroconf(info), service_type, info.name, ServiceStateChange.Added)

    async def async_cancel(self) -> None:
        self.cancelled = True


async def test_discover_plugs_on_a_callers_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discovery, "AsyncServiceBrowser", FakeBrowser)
    aiozc = SimpleNamespace(zeroconf=object())
    plugs = await discover_plugs(aiozc, seconds=0.05)  # type: ignore[arg-type]
    assert [(plug.mac, plug.transport) for plug in plugs] == [
        (MAC, Transport.TCP),
        (MAC, Transport.UDP),
    ]
    browser = FakeBrowser.instances[-1]
    assert browser.service_types == [SERVICE_TYPE_UDP, SERVICE_TYPE_TCP]
    assert browser.cancelled
    browser_object = PlugBrowser(aiozc, on_found=lambda _plug: None)  # type: ignore[arg-type]
    await browser_object.start()
    await browser_object.start()  # already browsing: no second browser
    assert FakeBrowser.instances[-1] is not browser
    count = len(FakeBrowser.instances)
    await browser_object.stop()
    assert len(FakeBrowser.instances) == count


async def test_legacy_discovery_on_loopback(make_simulation: SimulationFactory) -> None:
    simulation = await make_simulation(plugs=2)
    plug = simulation.plugs[1]
    found = await legacy_discover("127.0.0.1", port=plug.port, timeout_s=0.2, interval_s=0.05)
    assert found == [DiscoveredPlug(plug.mac, "127.0.0.1", plug.port, Transport.UDP)]
    probes = [data for transport, _peer, data in plug.commands if transport == "udp"]
    assert probes == [bytes.fromhex("646973636f76657228290a")] * 4  # discover()\n, per the vector
    assert simulation.plugs[0].commands == []


async def test_legacy_discovery_ignores_junk_replies(socket_enabled: None) -> None:
    class Responder(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: Any) -> None:
            for reply in (
                b"junk",
                b'{"ip": 1, "mac": "246f280487a4"}',
                b'{"ip": "127.0.0.1"}',
                b'{"type": "discovery", "ip": "127.0.0.1", "mac": "24:6F:28:04:87:A4"}',
            ):
                self.transport.sendto(reply, addr)  # type: ignore[attr-defined]

    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        Responder, local_addr=("127.0.0.1", 0)
    )
    try:
        port = transport.get_extra_info("sockname")[1]
        found = await legacy_discover("127.0.0.1", port=port, timeout_s=0.1, interval_s=0.05)
    finally:
        transport.close()
    assert found == [DiscoveredPlug("246f280487a4", "127.0.0.1", port, Transport.UDP)]
