"""Bot API requests over aiohttp: python-telegram-bot's request layer at half the CPU.

PTB's default `HTTPXRequest` spends about 0.8-1 ms of CPU per Bot API call (httpx, httpcore,
h11 and anyio layers); aiohttp's HTTP/1.1 client does the same work for about half that, and
a bot makes two or three calls per update. `AiohttpRequest` keeps `HTTPXRequest`'s contract:
the same form-encoded (or multipart, for files) bodies, the same default timeouts, `TimedOut`
for a timeout and `NetworkError` for any other failure to get an answer; PTB itself turns the
status and body into results or `TelegramError`s. A proxy set in the environment (HTTPS_PROXY,
NO_PROXY, ...) is used as httpx would; it is looked up once per Bot API server rather than on
every request, which is what aiohttp's own `trust_env` does (in a thread, each time).
"""

from __future__ import annotations

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from telegram._utils.defaultvalue import DEFAULT_NONE, DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData
from yarl import URL

CONNECTIONS = 256
"""Connections kept open to the Bot API (PTB's ApplicationBuilder uses the same default)."""
READ_TIMEOUT = 5.0
CONNECT_TIMEOUT = 5.0
POOL_TIMEOUT = 1.0
"""Seconds, as `HTTPXRequest`'s defaults. aiohttp has no write timeout: it ends with the read."""


def _seconds(value: ODVInput[float], default: float | None) -> float | None:
    return default if isinstance(value, DefaultValue) else value


class AiohttpRequest(BaseRequest):
    """A `telegram.request.BaseRequest` on one `aiohttp.ClientSession`."""

    def __init__(
        self,
        connections: int = CONNECTIONS,
        read_timeout: float | None = READ_TIMEOUT,
        connect_timeout: float | None = CONNECT_TIMEOUT,
        pool_timeout: float | None = POOL_TIMEOUT,
    ) -> None:
        self._connections = connections
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, tuple[URL | None, aiohttp.BasicAuth | None]] = {}

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout (PTB adds it to getUpdates' long-polling time)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session (and its connection pool)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections),
                headers={"User-Agent": self.USER_AGENT},
            )

    def _proxy(self, url: str) -> tuple[URL | None, aiohttp.BasicAuth | None]:
        """The environment's proxy (and its credentials) for the server of `url`, if any."""
        scheme, _, rest = url.partition("://")
        origin = f"{scheme}://{rest.partition('/')[0]}"
        found = self._proxies.get(origin)
        if found is None:
            try:
                found = get_env_proxy_for_url(URL(origin))
            except LookupError:
                found = (None, None)
            self._proxies[origin] = found
        return found

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one request; the HTTP status and body, whatever the status."""
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        connect = _seconds(connect_timeout, self._connect_timeout)
        pool = _seconds(pool_timeout, self._pool_timeout)
        timeout = aiohttp.ClientTimeout(
            connect=None if connect is None or pool is None else connect + pool,
            sock_connect=connect,
            sock_read=_seconds(read_timeout, self._read_timeout),
        )
        body: aiohttp.FormData | dict[str, str] | None = None
        if request_data is not None:
            body = request_data.json_parameters
            if request_data.contains_files:
                form = aiohttp.FormData(body)
                for name, (filename, content, mimetype) in request_data.multipart_data.items():
                    form.add_field(name, content, filename=filename, content_type=mimetype)
                body = form
        proxy, proxy_auth = self._proxy(url)
        try:
            async with self._session.request(
                method, url, data=body, timeout=timeout, proxy=proxy, proxy_auth=proxy_auth
            ) as answer:
                return answer.status, await answer.read()
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
