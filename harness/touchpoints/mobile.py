"""The `mobile` touchpoint: the product's mobile-app API, spoken as a device would."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from opentelemetry.context import Context

from harness.touchpoints.http import DEFAULT_TIMEOUT, HttpClient, HttpTransport, RequestObserver


class DeviceIdentity(Protocol):
    """What the mobile client needs to know about the device it plays (see `synth.MobileDevice`)."""

    @property
    def device_id(self) -> str: ...

    @property
    def model(self) -> str: ...

    @property
    def os(self) -> str: ...

    @property
    def os_version(self) -> str: ...

    @property
    def app_version(self) -> str: ...


class MobileClient(HttpClient):
    """`j.mobile`: sends the device headers (`X-Device-Id`, `X-App-Version`, a user agent) with
    every request and keeps the session token the app would keep."""

    touchpoint_name = "mobile"

    def __init__(
        self,
        base_url: str,
        transport: HttpTransport,
        *,
        device: DeviceIdentity,
        observer: RequestObserver | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        trace_parent: Callable[[], Context | None] | None = None,
    ) -> None:
        super().__init__(
            base_url,
            transport,
            observer=observer,
            headers=headers,
            timeout=timeout,
            trace_parent=trace_parent,
        )
        self.device = device
        self.use_device(device)

    def use_device(self, device: DeviceIdentity) -> None:
        """Play another device from now on; the session token is dropped."""
        self.device = device
        self.headers["x-device-id"] = device.device_id
        self.headers["x-app-version"] = device.app_version
        self.headers["user-agent"] = (
            f"ShopApp/{device.app_version} ({device.os} {device.os_version}; {device.model}) "
            "journey-harness"
        )
        self.bearer(None)

    def start_session(
        self, path: str = "/session", *, json: Any, token_field: str = "token"
    ) -> Any:
        """Log the device in: POST credentials, keep the token for later requests."""
        return self.sign_in(path, json, token_field=token_field)
