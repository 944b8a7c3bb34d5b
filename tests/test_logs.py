"""Logs without personal data: the token filter, and a whole day — LINE registration over the
webhook, a web sign-up, planning, sending over a real SMTP server and a LINE peer, a deletion,
a retention run — with every logger at DEBUG (sqlalchemy.engine at INFO), every line searched
for the addresses, LINE ids, nicknames, dates, tokens and message texts the day used."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn
from mailserver import free_port, smtp_server
from pydantic import SecretStr
from stored import date_forms
from test_line_webhook import SECRET, USER, event, post, postback, text
from webapp import smtp_settings

from kizuna import logs, subscriptions
from kizuna.channels.base import Channels
from kizuna.config import Backend, Settings
from kizuna.dispatcher import Dispatcher
from kizuna.runtime import build_channels, dispatch_options, open_runtime, plan
from kizuna.service import Service
from kizuna.store import SqlStore
from kizuna.web.app import create_app
from kizuna.web.health import ServiceStatus

# The test's own tools log what they see, and are not Kizuna: the HTTP client (httpx, httpcore)
# and the SMTP server standing in for the mail provider (aiosmtpd's "mail.log").
NOT_KIZUNA = ("httpx", "httpcore", "mail.log")
LINK = re.compile(r"https?://[^/\s]+/((?:confirm|unsubscribe|manage)/[A-Za-z0-9_.-]+)")


@pytest.mark.parametrize(
    ("message", "args", "expected"),
    [
        ('%s - "%s %s HTTP/%s" %d',
         ("127.0.0.1:5", "GET", "/manage/MQ.abc-_d/data?lang=en", "1.1", 200),
         '127.0.0.1:5 - "GET /manage/…/data?lang=en HTTP/1.1" 200'),
        ("%s", ("POST /confirm/MQ.x1, /unsubscribe/Mg.y2",), "POST /confirm/…, /unsubscribe/…"),
        ("opened /manage/MQ.abc", (), "opened /manage/…"),
        ("POST /staff/password/Zk9_x-1 HTTP/1.1", (), "POST /staff/password/… HTTP/1.1"),
        ("GET /signup?municipality=131016", (), "GET /signup?municipality=131016"),
        ("%(path)s", ({"path": "/manage/MQ.abc"},), "/manage/…"),
    ],
)  # fmt: skip
def test_tokens_are_cut_from_log_records_which_keep_their_shape(message, args, expected):
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, message, args, None)
    shape = type(record.args)  # uvicorn's access formatter unpacks a tuple of five
    assert logs.RedactTokens().filter(record) is True
    assert record.getMessage() == expected
    assert type(record.args) is shape


def test_the_filter_is_installed_once_and_in_uvicorns_own_configuration():
    logs.install()
    logs.install()
    access = logging.getLogger("uvicorn.access")
    assert sum(isinstance(f, logs.RedactTokens) for f in access.filters) == 1
    config = logs.uvicorn_log_config()
    assert config["loggers"]["uvicorn.access"]["filters"] == ["redact_tokens"]
    assert config["handlers"]["access"]["formatter"] == "access"  # uvicorn's own otherwise


class Capture(logging.Handler):
    """Every record of every logger, as the text a log file would get (exceptions included)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        if record.stack_info:
            text += "\n" + record.stack_info
        self.lines.append((record.name, text))  # emit runs under the handler's lock


def everything_at_debug() -> None:
    """DEBUG for every logger there is, SQLAlchemy's engine at INFO (its DEBUG is result
    rows: see kizuna/logs.py); all propagate to the root, where the capture listens. Called
    again after anything that sets its own levels (line-bot-sdk's client does)."""
    logging.root.setLevel(logging.DEBUG)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            engine = name == "sqlalchemy.engine" or name.startswith("sqlalchemy.engine.")
            logger.setLevel(logging.INFO if engine else logging.DEBUG)
            logger.propagate, logger.disabled = True, False


@pytest.fixture
def capture():
    saved = {
        name: (logger.level, logger.propagate, logger.disabled)
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    root_level, handler = logging.root.level, Capture()
    logging.root.addHandler(handler)
    yield handler
    logging.root.removeHandler(handler)
    logging.root.setLevel(root_level)
    for name, (level, propagate, disabled) in saved.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.propagate, logger.disabled = propagate, disabled


class Day:
    """The running service for one day: web app on a real port, SMTP server, LINE peer."""

    def __init__(self, settings: Settings, peer, mailbox, smtp_port: int) -> None:
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"  # plain HTTP: the CSRF cookie is not Secure
        self.settings = smtp_settings(
            settings, smtp_port, base_url=self.base, line_backend=Backend.API,
            line_channel_secret=SecretStr(SECRET), line_api_url=peer.api_url,
            line_channel_access_token=SecretStr(peer.state.token),
        )  # fmt: skip
        self.peer, self.mailbox = peer, mailbox
        self.runtime = open_runtime(self.settings)
        self.channels = build_channels(self.settings)
        logs.install()  # as `kizuna serve` does
        config = uvicorn.Config(
            create_app(self.runtime, channels=self.channels), host="127.0.0.1", port=port,
            log_config=logs.uvicorn_log_config(), log_level="debug",
        )  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Day:
        self.thread.start()
        while not self.server.started:  # readiness, polled
            self.thread.join(0.01)
        self.client = httpx.Client(base_url=self.base, timeout=10)
        return self

    def __exit__(self, *exc) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(10)
        self.runtime.engine.dispose()

    def webhook(self, *events) -> None:
        assert post(SimpleNamespace(base=self.base), *events).status_code == 200

    def form(self, path: str) -> dict[str, str]:
        page = self.client.get(path)
        assert page.status_code == 200, page.text
        return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))

    def submit(self, path: str, **fields: str) -> httpx.Response:
        response = self.client.post(path, data={**self.form(path), **fields})
        assert response.status_code == 200, response.text
        return response


def test_a_whole_day_logs_no_personal_data(settings, peer, capture):
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo("Asia/Tokyo")).date()
    line_due = today + timedelta(days=196)  # 12w0d today: a LINE push
    web_due = today + timedelta(days=200)
    born = today - timedelta(days=7)  # child-d7 today: a mail, with the nickname in it
    email, other_email, nickname = "hanako.yamada@example.org", "sakura.mama@example.net", "さくら"
    with smtp_server() as (mailbox, smtp_port), Day(settings, peer, mailbox, smtp_port) as day:
        everything_at_debug()
        # LINE: a registration over the webhook, and a question.
        day.webhook(event("follow", follow={"isUnblocked": False}))
        for step in ("a=kind&v=pregnant", None, "a=variant&v=ja", "a=skip", "a=confirm"):
            day.webhook(postback(step) if step else postback("a=date&v=due", line_due.isoformat()))
        day.webhook(text("ヘルプ"))
        # The web: a sign-up, the confirmation link, the settings and data pages.
        day.submit("/signup", email=email, stage="pregnant", day=web_due.isoformat(),
                   variant="ja", consent="yes")  # fmt: skip
        confirm = links(mail_text(mailbox.wait_for(1)[0]), "confirm")[0]
        manage = links(day.submit(confirm).text, "manage")[0]
        assert day.client.get(f"{manage}/data").status_code == 200
        # An operator's subscriber, then the day's planning and sending.
        subscriptions.subscribe(
            day.runtime.engine,
            subscriptions.SubscribeRequest("email", other_email, birth_date=born,
                                           nickname=nickname),
            variants=day.runtime.variants(), default_timezone="Asia/Tokyo", now=now,
        )  # fmt: skip
        plan(day.runtime, today, now=now)
        assert asyncio.run(send_day(day, today, now)).sent == 2
        mails = mailbox.wait_for(2)
        # Deleting: in LINE, and on the web; then the retention job.
        day.webhook(text("データを消して"))
        day.webhook(postback("a=erase&v=yes"))
        day.submit(f"{manage}/delete")
        Service(day.runtime, Channels(), ServiceStatus()).retain(now)
    personal = [USER, email, other_email, nickname]
    personal += [form for d in (line_due, web_due, born) for form in date_forms(d)]
    personal += tokens_of(mails, day, peer)
    personal += message_texts(mails[1:], peer)
    lines = [(name, line) for name, line in capture.lines if not name.startswith(NOT_KIZUNA)]
    live_everywhere(lines)
    leaks = [(name, value, line[:300]) for name, line in lines for value in personal
             if value and value in line]  # fmt: skip
    assert leaks == []


def mail_text(arrived) -> str:
    """A mail's plain text and its List-Unsubscribe header, decoded."""
    body = arrived.mail.get_body(preferencelist=("plain",)).get_content()
    return f"{arrived.mail.get('List-Unsubscribe', '')}\n{body}"


def links(text: str, purpose: str = "") -> list[str]:
    """The paths of Kizuna's links in a text (of one purpose, or all)."""
    return ["/" + path for path in LINK.findall(text) if path.startswith(purpose)]


async def send_day(day: Day, today, now: datetime):
    """`kizuna send` for the day, with its own channels (as the command builds them): the
    SDK's client sets its loggers to WARNING when it is configured, so DEBUG is set again."""
    channels = build_channels(day.settings)
    everything_at_debug()
    options = dispatch_options(day.settings)
    dispatcher = Dispatcher(SqlStore(day.runtime.engine), day.runtime.catalog, channels, options)
    try:
        return await dispatcher.run(now=now, through_local_date=today)
    finally:
        await channels.close()


def tokens_of(mails, day: Day, peer) -> list[str]:
    """Link tokens in every mail, the CSRF cookie, LINE's reply tokens and credentials."""
    found = [path.split("/")[2] for mail in mails for path in links(mail_text(mail))]
    found += [day.client.cookies.get("kizuna_csrf", "")]
    found += [reply["replyToken"] for reply in peer.state.replies]
    found += [peer.state.token, SECRET, day.settings.secret_key.get_secret_value()]
    assert len(found) > 6
    return found


def message_texts(mails, peer) -> list[str]:
    """The messages sent today: each push's text, each mail's message (before its footer)."""
    texts = [m["text"] for body in peer.state.accepted.values() for m in body["messages"]]
    for mail in mails:
        body = mail.mail.get_body(preferencelist=("plain",)).get_content()
        texts.append(body.strip().split("\n")[0])
    assert "妊娠12週0日です。" in texts and any("さくら" in t for t in texts)
    return texts


def live_everywhere(lines: list[tuple[str, str]]) -> None:
    """The capture really heard each part of the stack at its most talkative."""
    heard = {name.split(".")[0] for name, _ in lines}
    assert {"sqlalchemy", "uvicorn", "linebot", "kizuna"} <= heard, heard
    joined = "\n".join(line for _, line in lines)
    for expected in ("INSERT INTO", "/manage/…/data", "/confirm/…", "response body",
                     "erased by subscriber:line", "retention run removed"):  # fmt: skip
        assert expected in joined, expected
