"""`/healthz` and `/metrics`: is the service well, and what has it done."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from kizuna.metrics import Metrics


@dataclass
class ServiceStatus:
    """What the scheduler reports about itself, read by the health endpoint."""

    scheduler_running: bool = False
    last_success: dict[str, datetime] = field(default_factory=dict)  # job name -> UTC time
    last_error: dict[str, str] = field(default_factory=dict)
    metrics: Metrics = field(default_factory=Metrics)


router = APIRouter()


@router.get("/healthz")
def healthz(request: Request) -> JSONResponse:
    """200 when the database answers (and the scheduler runs, where one should)."""
    status: ServiceStatus = request.app.state.status
    runtime = request.app.state.runtime
    try:
        with runtime.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        database = "ok"
    except sa.exc.SQLAlchemyError as error:
        database = f"unreachable: {type(error).__name__}"
    expects_scheduler = getattr(request.app.state, "expects_scheduler", False)
    healthy = database == "ok" and (status.scheduler_running or not expects_scheduler)
    body = {
        "status": "ok" if healthy else "failing",
        "database": database,
        "scheduler": "running" if status.scheduler_running else "stopped",
        "last_success": {job: at.isoformat() for job, at in status.last_success.items()},
        "last_error": status.last_error,
    }
    return JSONResponse(body, status_code=200 if healthy else 503)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    status: ServiceStatus = request.app.state.status
    return Response(generate_latest(status.metrics.registry), media_type=CONTENT_TYPE_LATEST)
