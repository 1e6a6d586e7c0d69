"""The `mobile` touchpoint: the product's mobile-app API, spoken as a device would."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from opentelemetry.context import Context

from harness.target_http import TouchpointHttp
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
        config: TouchpointHttp | None = None,
        config_key: str = "",
    ) -> None:
        super().__init__(
            base_url,
            transport,
            observer=observer,
            headers=headers,
            timeout=timeout,
            trace_parent=trace_parent,
            config=config,
            config_key=config_key,
        )
        self.device = device
        self.app = config.app if config is not None else None
        #: a user agent of the target's settings, in place of the one made from the app
        self.user_agent = self.headers["user-agent"] if config and config.user_agent else None
        self.use_device(device)

    def use_device(self, device: DeviceIdentity) -> None:
        """Play another device from now on; the session token is dropped."""
        self.device = device
        app = self.app
        name, version = (app.name, app.version) if app is not None else ("ShopApp", None)
        version = version or device.app_version
        platform = (app.platform if app is not None else None) or device.os
        self.headers["x-device-id"] = device.device_id
        self.headers["x-app-version"] = version
        self.headers["user-agent"] = self.user_agent or (
            f"{name}/{version} ({platform} {device.os_version}; {device.model}) journey-harness"
        )
        self.bearer(None)

    def start_session(
        self, path: str = "/session", *, json: Any, token_field: str = "token"
    ) -> Any:
        """Log the device in: POST credentials, keep the token for later requests."""
        return self.sign_in(path, json, token_field=token_field)
