"""`kizuna serve` (web app + scheduler in one process) and `kizuna worker` (dispatch only)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from kizuna import logs
from kizuna.runtime import Runtime, build_channels, email_backend, line_backend
from kizuna.service import Service
from kizuna.web.app import create_app
from kizuna.web.health import ServiceStatus


def check_channels(runtime: Runtime) -> None:
    """Refuse to start, with the reason, when a channel has no backend (raises)."""
    line_backend(runtime.settings)
    email_backend(runtime.settings)


def service_app(runtime: Runtime) -> FastAPI:
    """The app of `kizuna serve`: channels and the scheduler live inside its lifespan, on the
    server's own event loop, and are stopped cleanly when it shuts down."""
    status = ServiceStatus()
    holder: dict[str, object] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        channels = build_channels(runtime.settings)
        app.state.channels = channels
        service = Service(runtime, channels, status)
        holder["service"] = service
        service.start()
        try:
            yield
        finally:
            await service.stop()  # stop claiming; the batch in flight is finished and recorded
            await channels.close()

    app = create_app(runtime, status=status, lifespan=lifespan)
    app.state.expects_scheduler = True
    return app


def serve(runtime: Runtime) -> None:
    """Run the web app and the scheduler until SIGTERM/SIGINT (handled by uvicorn)."""
    check_channels(runtime)
    settings = runtime.settings
    logs.install()
    uvicorn.run(
        service_app(runtime), host=settings.http_host, port=settings.http_port,
        log_config=logs.uvicorn_log_config(),
    )  # fmt: skip


async def work(runtime: Runtime, stop: asyncio.Event) -> None:
    """Dispatch only, until `stop` is set; then finish the batch in flight and return."""
    channels = build_channels(runtime.settings)
    service = Service(runtime, channels, ServiceStatus())
    service.start(dispatch_only=True)
    try:
        await stop.wait()
    finally:
        await service.stop()
        await channels.close()


def run_worker(runtime: Runtime) -> None:
    """`kizuna worker`: dispatch alongside other workers until SIGTERM/SIGINT."""
    check_channels(runtime)
    logs.install()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await work(runtime, stop)

    asyncio.run(main())
