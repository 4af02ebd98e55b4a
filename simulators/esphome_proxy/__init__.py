"""An ESPHome device that exposes its UART as a serial proxy, wired to the EKM bus simulator.

It speaks the ESPHome native API in plaintext (the message definitions come from
``aioesphomeapi.api_pb2``), enough for Home Assistant's ESPHome integration to set it up and
for serialx's ``esphome://`` transport to use its serial proxy. The "UART" is a TCP connection
to the EKM bus simulator; latency and UART buffering can be added to model a real proxy.
"""

from .device import EspHomeProxySimulator, ProxyStats, UartSettings
from .framing import FrameDecoder, encode_frame

__all__ = [
    "EspHomeProxySimulator",
    "FrameDecoder",
    "ProxyStats",
    "UartSettings",
    "encode_frame",
]
