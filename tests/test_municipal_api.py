"""The municipal API over real HTTP (uvicorn on a port, httpx, mail to a real SMTP server):
each token reaches its own municipality only; a revoked token is refused."""

from __future__ import annotations

import threading
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from mailserver import smtp_server
from webapp import smtp_settings

from kizuna import municipalities
from kizuna.models import LineInvitation, MunicipalityLocalInfo, Subscriber
from kizuna.runtime import build_channels, open_runtime
from kizuna.web.app import create_app

A, B = "131016", "011002"
LIST = b"""channel,email,due_date,birth_date,variant,nickname,consent_date
email,hana@example.com,%(due)s,,ja,,%(today)s
email,broken,%(due)s,,ja,,%(today)s
line,,,%(born)s,ja-easy,,%(today)s
"""


class Api:
    def __init__(self, base: str, runtime, mailbox) -> None:
        self.base, self.runtime, self.mailbox = base, runtime, mailbox
        now = datetime.now(UTC)
        engine = runtime.engine
        municipalities.add(engine, code=A, name="千代田区", prefecture="東京都", now=now)
        municipalities.add(engine, code=B, name="札幌市", prefecture="北海道", now=now)
        self.token_ids, self.tokens = {}, {}
        for code in (A, B):
            self.token_ids[code], self.tokens[code] = municipalities.create_token(
                engine, code, label="test", now=now
            )

    def call(self, method: str, path: str, token: str | None = None, **kwargs) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        return httpx.request(method, f"{self.base}{path}", headers=headers, timeout=15, **kwargs)

    def as_(self, code: str, method: str, path: str, **kwargs) -> httpx.Response:
        return self.call(method, path, self.tokens[code], **kwargs)

    def count(self, model, **where) -> int:
        table = model.__table__
        condition = sa.and_(sa.true(), *(table.c[k] == v for k, v in where.items()))
        with self.runtime.engine.connect() as connection:
            return connection.execute(
                sa.select(sa.func.count()).select_from(table).where(condition)
            ).scalar()


@pytest.fixture
def api(settings):
    with smtp_server() as (mailbox, port):
        configured = smtp_settings(settings, port)
        runtime = open_runtime(configured)
        channels = build_channels(configured)

        @asynccontextmanager
        async def lifespan(app):
            yield
            await channels.close()  # on the server's own loop, where the pool was used

        app = create_app(runtime, channels=channels, lifespan=lifespan)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:  # readiness, polled
            thread.join(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield Api(f"http://127.0.0.1:{port}", runtime, mailbox)
        server.should_exit = True
        thread.join(10)
        runtime.engine.dispose()


def today() -> date:
    return datetime.now(UTC).date()


def resident_list() -> bytes:
    day = today()
    values = {"due": day + timedelta(days=100), "today": day, "born": day - timedelta(days=10)}
    return LIST % {key.encode(): str(value).encode() for key, value in values.items()}


PATHS = [
    ("GET", "/api/v1/municipalities/{code}/local-info", {}),
    ("PUT", "/api/v1/municipalities/{code}/local-info", {"json": {"values": {"checkup_3y": "x"}}}),
    ("GET", "/api/v1/municipalities/{code}/reports?month=2026-11", {}),
    ("POST", "/api/v1/municipalities/{code}/enrollments",
     {"content": b"channel,due_date,consent_date\nline,,\n",
      "headers": {"content-type": "text/csv"}}),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body"), PATHS, ids=[p[0] + p[1][28:] for p in PATHS])
def test_a_token_reaches_its_own_municipality_only(api, method, path, body):
    municipalities.update_local_info(
        api.runtime.engine, B, set_values={"vaccination": "札幌の秘密"}, now=datetime.now(UTC)
    )
    other = api.as_(A, method, path.format(code=B), **body)
    unknown = api.as_(A, method, path.format(code="472018"), **body)
    assert other.status_code == unknown.status_code == 404
    assert other.json() == unknown.json() == {"detail": "no such municipality"}
    assert "札幌" not in other.text
    assert api.count(MunicipalityLocalInfo, municipality_code=B, value="札幌の秘密") == 1
    assert api.count(MunicipalityLocalInfo, municipality_code=B) == 1
    assert api.count(LineInvitation) == 0
    own = api.as_(A, method, path.format(code=A), **body)
    assert own.status_code == 200, own.text


@pytest.mark.parametrize(("method", "path", "body"), PATHS, ids=[p[0] + p[1][28:] for p in PATHS])
def test_without_a_live_token_nothing(api, method, path, body):
    url = path.format(code=A)
    assert api.call(method, url, **body).status_code == 401
    assert api.call(method, url, "kzm_forged", **body).status_code == 401
    basic = {**body.get("headers", {}), "authorization": "Basic " + api.tokens[A]}
    without_headers = {k: v for k, v in body.items() if k != "headers"}
    assert api.call(method, url, headers=basic, **without_headers).status_code == 401
    assert municipalities.revoke_token(api.runtime.engine, api.token_ids[A], now=datetime.now(UTC))
    revoked = api.as_(A, method, url, **body)
    assert revoked.status_code == 401
    assert revoked.headers["www-authenticate"] == "Bearer"
    assert revoked.json() == {"detail": "the token is unknown or revoked"}
    assert api.as_(B, "GET", f"/api/v1/municipalities/{B}/local-info").status_code == 200


def test_local_info_put_replaces_and_get_reads(api):
    path = f"/api/v1/municipalities/{A}/local-info"
    assert api.as_(A, "GET", path).json()["values"] == {}
    put = api.as_(A, "PUT", path, json={"values": {"checkup_4m": "毎月第2火曜", "vaccination": ""}})
    assert put.status_code == 200 and put.json()["values"] == {"checkup_4m": "毎月第2火曜"}
    got = api.as_(A, "GET", path).json()
    assert got["values"] == {"checkup_4m": "毎月第2火曜"} and "checkup_3y" in got["keys"]
    refused = api.as_(A, "PUT", path, json={"values": {"checkup_5m": "x"}})
    assert refused.status_code == 422 and "unknown local info key(s): checkup_5m" in refused.text
    assert api.as_(A, "GET", path).json()["values"] == {"checkup_4m": "毎月第2火曜"}


def test_enrollments_as_csv_then_again(api):
    path = f"/api/v1/municipalities/{A}/enrollments"
    csv = {"content": resident_list(), "headers": {"content-type": "text/csv; charset=utf-8"}}
    dry = api.as_(A, "POST", path + "?dry_run=true", **csv).json()
    assert (dry["dry_run"], dry["added"], api.count(Subscriber)) == (True, 2, 0)
    first = api.as_(A, "POST", path, **csv)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["rows"], body["added"], body["unchanged"]) == (3, 2, 0)
    assert [(p["line"], p["field"]) for p in body["problems"]] == [(3, "email")]
    assert (body["email_invitations"], body["email_unsent_lines"]) == (1, [])
    [code] = body["line_codes"]
    assert code["line"] == 4 and len(code["code"]) == 11
    [mail] = api.mailbox.wait_for(1)
    assert mail.mail["To"] == "hana@example.com"
    assert "/confirm/" in mail.mail.get_body(preferencelist=("plain",)).get_content()
    again = api.as_(A, "POST", path, **csv).json()
    assert (again["added"], again["unchanged"], again["line_codes"]) == (0, 2, [])
    assert api.count(Subscriber, municipality_code=A, status="pending") == 1


def test_enrollments_as_json_rows(api):
    rows = [{"channel": "line", "due_date": str(today() + timedelta(days=100)),
             "consent_date": str(today()), "reference": "R1"},
            {"channel": "line", "consent_date": str(today()), "phone": "x"}]  # fmt: skip
    response = api.as_(B, "POST", f"/api/v1/municipalities/{B}/enrollments", json={"rows": rows})
    body = response.json()
    assert response.status_code == 200 and body["added"] == 1
    assert body["problems"] == [{"line": 2, "field": "row", "reason": "unknown field(s): phone"}]


@pytest.mark.parametrize(
    ("content", "kind", "status", "detail"),
    [(b"name,phone\nx,y\n", "text/csv", 422, "unknown column"),
     (b'{"rows": 1}', "application/json", 422, "rows"),
     (b"[", "application/json", 422, ""),
     (b"<rows/>", "application/xml", 415, "text/csv or application/json")],
)  # fmt: skip
def test_lists_that_cannot_be_read(api, content, kind, status, detail):
    response = api.as_(A, "POST", f"/api/v1/municipalities/{A}/enrollments", content=content,
                       headers={"content-type": kind})  # fmt: skip
    assert response.status_code == status and detail in response.json()["detail"]


def test_reports(api):
    path = f"/api/v1/municipalities/{A}/reports"
    month = api.as_(A, "GET", path + "?month=2026-11").json()
    assert (month["start"], month["end"], month["registrations"]) == ("2026-11-01", "2026-11-30", 0)
    assert month["stopped"] == {"unfollow": 0, "unsubscribe": 0, "loss": 0, "gone": 0}
    assert len(month["days"]) == 30
    span = api.as_(A, "GET", path + "?from=2026-11-10&to=2026-11-12").json()
    assert [d["day"] for d in span["days"]] == ["2026-11-10", "2026-11-11", "2026-11-12"]
    for query in ("", "?month=2026-13", "?month=11-2026", "?from=2026-11-12&to=2026-11-10"):
        assert api.as_(A, "GET", path + query).status_code == 422, query


def test_the_openapi_document_describes_the_api(api):
    document = api.call("GET", "/api/v1/openapi.json").json()
    assert set(document["paths"]) == {
        "/api/v1/municipalities/{code}/local-info",
        "/api/v1/municipalities/{code}/enrollments",
        "/api/v1/municipalities/{code}/reports",
    }
    enroll = document["paths"]["/api/v1/municipalities/{code}/enrollments"]["post"]
    assert set(enroll["requestBody"]["content"]) == {"text/csv", "application/json"}
    assert enroll["security"] == [{"HTTPBearer": []}]
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "EnrollmentResult" in document["components"]["schemas"]
    assert {"401", "404"} <= set(enroll["responses"])
    assert api.call("GET", "/docs").status_code == 404  # no interactive docs
