"""The real web app over HTTP (Starlette's TestClient) with mail going to a real SMTP server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

import sqlalchemy as sa
from conftest import NOW
from fastapi.testclient import TestClient
from mailserver import Mailbox, smtp_server

from kizuna.config import Settings
from kizuna.planner import PlanOptions, plan_day
from kizuna.runtime import Runtime, build_channels, open_runtime
from kizuna.store import SqlStore
from kizuna.web.app import create_app

BASE_URL = "https://kizuna.example.org"
DAY = NOW.date()  # 2026-11-22, the local date in Tokyo at NOW
DUE_12W0D = date(2027, 6, 6)  # pregnancy-12w0d is due on DAY
LINK = re.compile(re.escape(BASE_URL) + r"/(confirm|unsubscribe|manage)/[A-Za-z0-9_.-]+")


def smtp_settings(settings: Settings, port: int, **values) -> Settings:
    return settings.model_copy(
        update={
            "email_backend": None, "smtp_host": "127.0.0.1", "smtp_port": port,
            "smtp_tls": "none", "smtp_timeout_seconds": 5.0, "base_url": BASE_URL,
            "sender_name": "きずな運営事務局", "sender_postal_address": "東京都千代田区千代田1-1",
            "sender_contact": "help@kizuna.example.org", **values,
        }
    )  # fmt: skip


@dataclass
class Web:
    client: TestClient
    mailbox: Mailbox
    runtime: Runtime

    def form(self, path: str) -> dict[str, str]:
        """The hidden fields of the form on `path` (its CSRF token, its consent version)."""
        page = self.client.get(path)
        assert page.status_code == 200, page.text
        hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text)
        return dict(hidden)

    def sign_up(self, **fields: str):
        data = {
            **self.form("/signup"), "email": "parent@example.com", "stage": "pregnant",
            "day": DUE_12W0D.isoformat(), "variant": "ja", "consent": "yes", **fields,
        }  # fmt: skip
        return self.client.post("/signup", data=data)

    def post(self, path: str, form_page: str, **fields: str):
        return self.client.post(path, data={**self.form(form_page), **fields})

    def links(self, mail_index: int) -> dict[str, str]:
        """Purpose -> path, from the plain text of the n-th mail that arrived."""
        mail = self.mailbox.wait_for(mail_index + 1)[mail_index].mail
        text = mail.get_body(preferencelist=("plain",)).get_content()
        return {m[1]: urlsplit(m[0]).path for m in LINK.finditer(text)}

    def rows(self, model) -> list[dict]:
        with self.runtime.engine.connect() as connection:
            return [dict(r) for r in connection.execute(sa.select(model.__table__)).mappings()]

    def plan(self, day: date = DAY) -> int:
        options = PlanOptions(False, "Asia/Tokyo", 8)
        store = SqlStore(self.runtime.engine)
        return plan_day(store, self.runtime.catalog, day, options, now=NOW).planned


@contextmanager
def web_app(settings: Settings, **values) -> Iterator[Web]:
    with smtp_server() as (mailbox, port):
        configured = smtp_settings(settings, port, **values)
        runtime = open_runtime(configured)
        channels = build_channels(configured)
        app = create_app(runtime, channels=channels)
        app.state.clock = lambda: NOW
        with TestClient(app, base_url=BASE_URL) as client:
            try:
                yield Web(client, mailbox, runtime)
            finally:
                client.portal.call(channels.close)
        runtime.engine.dispose()
