"""Building the FastAPI app: every router registered here, explicitly."""

from __future__ import annotations

from fastapi import FastAPI

from kizuna.channels.base import Channels
from kizuna.i18n import Catalogs
from kizuna.line_bot import LineBot
from kizuna.runtime import Runtime
from kizuna.web import (
    family_manage,
    family_signup,
    health,
    line_webhook,
    municipal_api,
    my_data,
    signup,
    staff_pages,
)


def create_app(
    runtime: Runtime,
    *,
    channels: Channels | None = None,
    status: health.ServiceStatus | None = None,
    lifespan=None,
) -> FastAPI:
    """The app for one runtime.

    `channels` carries mail the pages send at once (confirmations); `status` is shared with
    the scheduler when one runs in the same process.
    """
    app = FastAPI(title="Kizuna", version="0.1.0", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.runtime = runtime
    app.state.channels = channels or Channels()
    app.state.status = status or health.ServiceStatus()
    app.state.line_bot = LineBot(runtime, Catalogs(runtime.settings.locales_dir))
    app.include_router(health.router)
    app.include_router(signup.router)
    app.include_router(family_signup.router)
    app.include_router(family_manage.router)
    app.include_router(line_webhook.router)
    app.include_router(municipal_api.router)
    app.include_router(my_data.router)
    app.include_router(staff_pages.router)
    return app
