"""What every plug transport shares: subscription lease, renewal, silence detection, retry.

A link is "connected" while data flows: from the first line after a (re)subscribe until
``silence_timeout_s`` passes without any byte, or the socket reports an error. It then retries
on the schedule powersensor-local uses (``2**n + 2`` seconds, n counting attempts, capped at
300 s), so a plug that never answers is asked at t = 0, 4, 10, 20, 38, 72 … s, and a plug that
went quiet is asked again 3, 7, 13 … s later.
"""

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .const import subscribe_command
from .jsonlines import LineHandler
from .stats import PlugStats

_LOGGER = logging.getLogger(__name__)

MAX_BACKOFF_EXPONENT = 9


class Transport(StrEnum):
    """How the plug's readings travel."""

    UDP = "udp"
    TCP = "tcp"


class LinkState(StrEnum):
    """Where a link stands."""

    CONNECTING = "connecting"
    """Started; subscribed but no data yet."""
    CONNECTED = "connected"
    """Data is flowing."""
    DISCONNECTED = "disconnected"
    """No data (silence or a socket error); retrying in the background."""
    STOPPED = "stopped"
    """Stopped by its owner; unsubscribed."""


class LinkReason(StrEnum):
    """Why a link changed state."""

    STARTED = "started"
    DATA = "data"
    SILENCE = "silence"
    REFUSED = "refused"
    NETWORK_ERROR = "network_error"
    CONNECTION_LOST = "connection_lost"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class LinkStatus:
    """A state change of one link, with the reason and, for errors, the error's text."""

    state: LinkState
    reason: LinkReason
    host: str
    port: int
    transport: Transport
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class LinkTiming:
    """Lease, renewal, silence and retry timing.

    The lease is 60 s, as powersensor-local asks for. It is the plug's cost of a client that
    vanished without ``subscribe(0)`` (a crash, a power cut): its slot, one of five, stays taken
    and the plug keeps sending to it for at most a minute. We renew every 20 s, a third of the
    lease, instead of only when the plug warns: two renewals in a row can be lost on Wi-Fi (or a
    warning never sent) before the plug stops sending, for one 14-byte datagram per 20 s. A
    warning or expiry notice from the plug still triggers an immediate renewal. The silence
    timeout matches the lease: with renewals working, a minute without a byte means the plug,
    or the path to it, is gone.
    """

    lease_s: int = 60
    renew_interval_s: float = 20.0
    silence_timeout_s: float = 60.0
    retry_unit_s: float = 1.0
    """Scales the retry schedule ``unit * (2**n + 2)``; tests shrink it."""
    retry_cap_s: float = 300.0
    quiet_after_s: float = 3.0
    """A plug reports every second: this long without a byte while connected, and we ask
    again (``subscribe``) every ``probe_interval_s``, so a plug that rebooted (and forgot its
    subscribers) sends again within seconds of its return, not at the next renewal."""
    probe_interval_s: float = 2.0

    def __post_init__(self) -> None:
        """Reject timings that cannot work."""
        if self.lease_s < 1:
            raise ValueError(f"lease_s must be >= 1, got {self.lease_s}")
        if not 0 < self.renew_interval_s < self.lease_s:
            raise ValueError("renew_interval_s must be > 0 and shorter than the lease")
        if self.silence_timeout_s <= 0 or self.retry_unit_s <= 0 or self.retry_cap_s <= 0:
            raise ValueError("silence_timeout_s, retry_unit_s and retry_cap_s must be > 0")
        if self.quiet_after_s <= 0 or self.probe_interval_s <= 0:
            raise ValueError("quiet_after_s and probe_interval_s must be > 0")

    def retry_delay(self, backoff: int) -> float:
        """Seconds until the next attempt, after ``backoff`` attempts without an answer."""
        return min(self.retry_cap_s, self.retry_unit_s * ((1 << backoff) + 2))


type StatusHandler = Callable[[LinkStatus], None]
type MessageHandler = Callable[[dict[str, Any]], None]


class PlugLink(ABC):
    """One plug's subscription over one transport; subclasses move the bytes."""

    transport: Transport

    def __init__(
        self,
        host: str,
        port: int,
        *,
        on_message: MessageHandler,
        on_status: StatusHandler | None = None,
        on_line: LineHandler | None = None,
        timing: LinkTiming | None = None,
        stats: PlugStats | None = None,
        label: str | None = None,
    ) -> None:
        """Prepare a link to ``host:port``; nothing is sent before :meth:`start`.

        ``on_message`` gets every JSON object except transport-level ones (subscription notices
        and discovery replies); ``on_line`` the raw bytes of every JSON line, without its LF.
        """
        self.host = host
        self.port = port
        self.timing = timing or LinkTiming()
        self.stats = stats or PlugStats()
        self.label = label or f"{host}:{port}"
        self._on_message = on_message
        self._on_status = on_status
        self._on_line = on_line
        self._subscribe_bytes = subscribe_command(self.timing.lease_s)
        self._state = LinkState.STOPPED
        self._reason = LinkReason.STOPPED
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clock: Callable[[], float] = _never
        self._last_rx = 0.0
        self._backoff = 0
        self._has_answered = False
        self._retry_handle: asyncio.TimerHandle | None = None
        self._renew_handle: asyncio.TimerHandle | None = None
        self._silence_handle: asyncio.TimerHandle | None = None
        self._probe_handle: asyncio.TimerHandle | None = None

    # -- public -------------------------------------------------------------------------

    @property
    def state(self) -> LinkState:
        """Current state."""
        return self._state

    @property
    def reason(self) -> LinkReason:
        """Why the link is in its current state."""
        return self._reason

    def start(self) -> None:
        """Subscribe, and keep the subscription alive until :meth:`stop`. Needs a running loop."""
        if self._state is not LinkState.STOPPED:
            return
        self._loop = asyncio.get_running_loop()
        self._clock = self._loop.time
        self._backoff = 0
        self._has_answered = False
        self._set_state(LinkState.CONNECTING, LinkReason.STARTED)
        self._last_rx = self._clock()
        self._arm_silence(self.timing.silence_timeout_s)
        self._attempt(first=True)

    def resubscribe_now(self) -> None:
        """Subscribe again at once (the plug re-announced itself, e.g. after a reboot).

        Connected: a renewal now. Otherwise: the retry schedule starts again from now, so the
        plug is asked at once (TCP reconnects) and then soon after.
        """
        if self._state is LinkState.STOPPED:
            return
        self.stats.resubscribes += 1
        if self._state is LinkState.CONNECTED:
            self._send_subscribe()
            self._arm_renew()
            return
        _cancel(self._retry_handle)
        self._backoff = 0
        self._attempt()

    async def stop(self) -> None:
        """Unsubscribe (``subscribe(0)``), close the socket and stop all timers."""
        if self._state is LinkState.STOPPED:
            return
        self._cancel_timers()
        # STOPPED first: nothing that arrives while the socket closes may re-arm a timer.
        self._set_state(LinkState.STOPPED, LinkReason.STOPPED)
        await self._close(unsubscribe=True)

    # -- for subclasses -----------------------------------------------------------------

    @property
    def _running_loop(self) -> asyncio.AbstractEventLoop:
        """The loop the link was started on."""
        if self._loop is None:
            raise RuntimeError("the link has not been started")
        return self._loop

    @abstractmethod
    def _subscribe(self) -> None:
        """Send ``subscribe(lease)``, opening the socket first when there is none."""

    @abstractmethod
    async def _close(self, *, unsubscribe: bool) -> None:
        """Close the socket, sending ``subscribe(0)`` first when asked and possible."""

    def _on_silent(self) -> None:  # noqa: B027 - an optional hook, empty by default
        """Hook: the link just went silent (TCP drops the connection here)."""

    def _received(self) -> None:
        """Note that bytes arrived: feeds the silence timer, marks the link connected."""
        self._last_rx = self._clock()
        if self._state is not LinkState.CONNECTED:
            self._became_connected()

    def _dispatch(self, message: dict[str, Any]) -> None:
        """Handle transport-level messages here; hand everything else to the owner."""
        kind = message.get("type")
        if kind == "subscription":
            self._on_subscription_notice(message.get("subtype"))
        elif kind != "discovery":  # legacy discovery replies carry no readings
            try:
                self._on_message(message)
            except Exception:
                _LOGGER.exception("Powersensor plug %s: message handler failed", self.label)

    def _send_subscribe(self) -> None:
        self.stats.subscribes_sent += 1
        self._send(self._subscribe_bytes)

    @abstractmethod
    def _send(self, data: bytes) -> None:
        """Send bytes to the plug if a socket is open; drop them otherwise."""

    def _failed(self, reason: LinkReason, error: BaseException | None) -> None:
        """A socket error: go to DISCONNECTED and keep retrying."""
        self.stats.errors += 1
        if self._state is LinkState.STOPPED:
            return
        detail = None if error is None else (str(error) or type(error).__name__)
        if self._state is LinkState.CONNECTED:
            self._lost(reason, detail)
        elif self._state is LinkState.CONNECTING:
            self._set_state(LinkState.DISCONNECTED, reason, detail)
            self._log_gone(reason, detail)

    # -- state machine ------------------------------------------------------------------

    def _attempt(self, *, first: bool = False) -> None:
        """Subscribe again and schedule the next attempt, unless data arrives first."""
        self._retry_handle = None
        if self._state is LinkState.STOPPED:
            return
        if not first:
            self.stats.retries += 1
        self._backoff = min(self._backoff + 1, MAX_BACKOFF_EXPONENT)
        self._retry_handle = self._running_loop.call_later(
            self._retry_delay(self._backoff), self._attempt
        )
        self._subscribe()

    def _retry_delay(self, backoff: int) -> float:
        """Seconds to the next attempt.

        The back-off schedule, except that a plug heard within the silence timeout (a reboot,
        a short outage) is asked every ``probe_interval_s``: it is back within seconds.
        """
        delay = self.timing.retry_delay(backoff)
        if self._has_answered and self._clock() - self._last_rx < self.timing.silence_timeout_s:
            return min(delay, self.timing.probe_interval_s)
        return delay

    def _became_connected(self) -> None:
        if self._state is LinkState.STOPPED:
            return  # a last datagram while stopping
        _cancel(self._retry_handle)
        self._retry_handle = None
        self._backoff = 0
        was_disconnected = self._state is LinkState.DISCONNECTED
        self._set_state(LinkState.CONNECTED, LinkReason.DATA)
        if was_disconnected:
            _LOGGER.info("Powersensor plug %s is answering again", self.label)
            # It may be sending on an old lease, or to a subscription it is about to forget:
            # renew now rather than at the next tick.
            self.stats.resubscribes += 1
            self._send_subscribe()
        elif not self._has_answered:
            _LOGGER.debug("Powersensor plug %s is answering", self.label)
        self._has_answered = True
        self._arm_renew()
        if self._silence_handle is None:
            self._arm_silence(self.timing.silence_timeout_s)
        if self._probe_handle is None:
            self._arm_probe()

    def _lost(self, reason: LinkReason, detail: str | None) -> None:
        """Data stopped: report it once and restart the retry schedule from the start."""
        _cancel(self._renew_handle)
        _cancel(self._probe_handle)
        self._renew_handle = self._probe_handle = None
        self._set_state(LinkState.DISCONNECTED, reason, detail)
        self._log_gone(reason, detail)
        self._backoff = 0
        if reason is LinkReason.SILENCE:
            self._on_silent()
        _cancel(self._retry_handle)  # none is pending while connected; be sure
        self._retry_handle = self._running_loop.call_later(self._retry_delay(0), self._attempt)

    def _log_gone(self, reason: LinkReason, detail: str | None) -> None:
        if self._has_answered:
            _LOGGER.warning(
                "Powersensor plug %s stopped answering (%s%s); retrying",
                self.label,
                reason.value,
                f": {detail}" if detail else "",
            )
        else:
            _LOGGER.warning(
                "Powersensor plug %s does not answer (%s%s); retrying",
                self.label,
                reason.value,
                f": {detail}" if detail else "",
            )

    def _arm_silence(self, delay: float) -> None:
        self._silence_handle = self._running_loop.call_later(delay, self._check_silence)

    def _check_silence(self) -> None:
        """Timer: re-arm for the rest of the timeout, or declare the link silent.

        One timer per timeout instead of one per datagram keeps the hot path to a clock read.
        """
        self._silence_handle = None
        if self._state is LinkState.STOPPED or self._state is LinkState.DISCONNECTED:
            return
        idle = self._clock() - self._last_rx
        remaining = self.timing.silence_timeout_s - idle
        if remaining > 0:
            self._arm_silence(remaining)
            return
        if self._state is LinkState.CONNECTED:
            self._lost(LinkReason.SILENCE, None)
        else:
            self._set_state(LinkState.DISCONNECTED, LinkReason.SILENCE)
            self._log_gone(LinkReason.SILENCE, None)
            self._on_silent()

    def _arm_probe(self) -> None:
        self._probe_handle = self._running_loop.call_later(
            self.timing.probe_interval_s, self._probe
        )

    def _probe(self) -> None:
        """Timer while connected: after a few quiet seconds, ask the plug again."""
        self._probe_handle = None
        if self._state is not LinkState.CONNECTED:
            return
        if self._clock() - self._last_rx >= self.timing.quiet_after_s:
            self.stats.probes += 1
            self._send_subscribe()
        self._arm_probe()

    def _arm_renew(self) -> None:
        _cancel(self._renew_handle)
        self._renew_handle = self._running_loop.call_later(
            self.timing.renew_interval_s, self._renew
        )

    def _renew(self) -> None:
        """Timer: renew the lease well before it ends."""
        self._renew_handle = None
        if self._state is LinkState.CONNECTED:
            self.stats.renewals += 1
            self._send_subscribe()
            self._arm_renew()

    def _on_subscription_notice(self, subtype: Any) -> None:
        if subtype == "warning":
            self.stats.warnings += 1
        elif subtype == "expiry":
            self.stats.expiries += 1
        else:
            return
        # The plug says the lease is ending (or ended): renew now, not at the next tick.
        self.stats.renewals += 1
        self._send_subscribe()
        if self._state is LinkState.CONNECTED:
            self._arm_renew()

    def _cancel_timers(self) -> None:
        for handle in (
            self._retry_handle,
            self._renew_handle,
            self._silence_handle,
            self._probe_handle,
        ):
            _cancel(handle)
        self._retry_handle = self._renew_handle = self._silence_handle = None
        self._probe_handle = None

    def _set_state(self, state: LinkState, reason: LinkReason, detail: str | None = None) -> None:
        self._state = state
        self._reason = reason
        if self._on_status is None:
            return
        status = LinkStatus(state, reason, self.host, self.port, self.transport, detail)
        try:
            self._on_status(status)
        except Exception:
            _LOGGER.exception("Powersensor plug %s: status handler failed", self.label)


def _cancel(handle: asyncio.TimerHandle | None) -> None:
    if handle is not None:
        handle.cancel()


def _never() -> float:
    """Clock placeholder before :meth:`PlugLink.start`."""
    return 0.0
