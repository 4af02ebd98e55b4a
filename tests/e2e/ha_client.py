"""A small client for a real Home Assistant: onboarding, REST, flows, websocket, login codes."""

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

# Home Assistant's own frontend as seen inside the namespace (where the browser runs too).
HA_INSIDE = "http://127.0.0.1:8123"
CLIENT_ID = f"{HA_INSIDE}/"
REDIRECT_URI = f"{HA_INSIDE}/?auth_callback=1"


class HaError(AssertionError):
    """Home Assistant answered something other than what the step needs."""


class Ha:
    """REST calls to ``base`` (the host side of the forwarder)."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        """No token until :meth:`onboard`."""
        self.session = session
        self.base = base
        self.token: str | None = None

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        form: dict[str, str] | None = None,
        auth: bool = True,
        expect: int = 200,
    ) -> Any:
        """One request; the decoded JSON body (or text), or HaError on another status."""
        headers = {"Authorization": f"Bearer {self.token}"} if auth and self.token else {}
        async with self.session.request(
            method, self.base + path, json=json, data=form, headers=headers
        ) as response:
            body: Any = (
                await response.json()
                if response.content_type == "application/json"
                else await response.text()
            )
            if response.status != expect:
                raise HaError(f"{method} {path}: {response.status} {body!r}")
            return body

    async def onboard(self, username: str, password: str) -> None:
        """Every onboarding step over REST, as the frontend does them."""
        steps = {s["step"]: s["done"] for s in await self.call("GET", "/api/onboarding")}
        if steps.get("user"):
            raise HaError("this Home Assistant is already onboarded")
        created = await self.call(
            "POST",
            "/api/onboarding/users",
            json={
                "client_id": CLIENT_ID,
                "name": "Energy Local e2e",
                "username": username,
                "password": password,
                "language": "en",
            },
        )
        tokens = await self.call(
            "POST",
            "/auth/token",
            form={
                "grant_type": "authorization_code",
                "code": created["auth_code"],
                "client_id": CLIENT_ID,
            },
        )
        self.token = tokens["access_token"]
        await self.call("POST", "/api/onboarding/core_config", json={})
        await self.call("POST", "/api/onboarding/analytics", json={})
        await self.call(
            "POST",
            "/api/onboarding/integration",
            json={"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI},
        )
        left = [s["step"] for s in await self.call("GET", "/api/onboarding") if not s["done"]]
        if left:
            raise HaError(f"onboarding steps left: {left}")

    async def login_code(self, username: str, password: str) -> str:
        """An authorization code from the login flow (what the login page gets)."""
        flow = await self.call(
            "POST",
            "/auth/login_flow",
            json={
                "client_id": CLIENT_ID,
                "handler": ["homeassistant", None],
                "redirect_uri": REDIRECT_URI,
            },
            auth=False,
        )
        done = await self.call(
            "POST",
            f"/auth/login_flow/{flow['flow_id']}",
            json={"client_id": CLIENT_ID, "username": username, "password": password},
            auth=False,
        )
        if done.get("type") != "create_entry":
            raise HaError(f"login flow: {done!r}")
        return str(done["result"])

    async def states(self) -> dict[str, dict[str, Any]]:
        """Every entity's state, by entity id."""
        return {s["entity_id"]: s for s in await self.call("GET", "/api/states")}


def form_values(data_schema: list[dict[str, Any]], wanted: dict[str, Any]) -> dict[str, Any]:
    """Fill a flow form from the schema it returned: our values, else the schema's defaults.

    Fails when we give a field the form does not have (the flow changed under us).
    """
    names = {field["name"] for field in data_schema}
    if unknown := set(wanted) - names:
        raise HaError(f"the form has no fields {sorted(unknown)}; it has {sorted(names)}")
    values: dict[str, Any] = {}
    for field in data_schema:
        name = field["name"]
        if name in wanted:
            values[name] = wanted[name]
        elif "default" in field:
            values[name] = field["default"]
    return values


class Ws:
    """Home Assistant's websocket API, one command at a time."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Use :meth:`connect`."""
        self.ws = ws
        self._ids = itertools.count(1)

    @classmethod
    async def connect(cls, session: aiohttp.ClientSession, base: str, token: str) -> Ws:
        """Open and authenticate."""
        ws = await session.ws_connect(base.replace("http://", "ws://") + "/api/websocket")
        hello = await ws.receive_json()
        if hello.get("type") != "auth_required":
            raise HaError(f"websocket: {hello!r}")
        await ws.send_json({"type": "auth", "access_token": token})
        if (answer := await ws.receive_json()).get("type") != "auth_ok":
            raise HaError(f"websocket auth: {answer!r}")
        return cls(ws)

    async def call(self, kind: str, **payload: Any) -> Any:
        """Send a command, return its result (HaError when it fails)."""
        msg_id = next(self._ids)
        await self.ws.send_json({"id": msg_id, "type": kind, **payload})
        while True:
            msg = await asyncio.wait_for(self.ws.receive_json(), 60)
            if msg.get("id") == msg_id and msg.get("type") == "result":
                if not msg.get("success"):
                    raise HaError(f"{kind}: {msg.get('error')!r}")
                return msg.get("result")

    async def close(self) -> None:
        """Close the connection."""
        await self.ws.close()


async def wait_until[T](
    probe: Callable[[], Awaitable[T | None]], *, within: float, every: float = 1.0, what: str
) -> T:
    """Poll ``probe`` until it returns something other than None (or fail after ``within``)."""
    deadline = time.monotonic() + within
    last_error: Exception | None = None
    while True:
        try:
            if (value := await probe()) is not None:
                return value
        except (HaError, aiohttp.ClientError) as err:
            last_error = err
        if time.monotonic() > deadline:
            raise HaError(f"timed out after {within:.0f} s waiting for {what} ({last_error})")
        await asyncio.sleep(every)
