"""The bare limits: the same work with nothing of Kizuna in the way, each in its own process.

- insert-sqlite: the same delivery rows with sqlite3 executemany, one transaction, the same
  pragmas as Kizuna's connections (WAL, synchronous=NORMAL, foreign keys on).
- insert-postgresql: the same rows with COPY FROM STDIN (text format, streamed).
- line: a line-bot-sdk v3 async push loop with the same concurrency, one retry key per push.
- smtp: an aiosmtplib loop over the same number of connections, opened once and reused, with
  the same mail bytes.

Inputs are read before the clock starts; each prints JSON with its count, start and end.
Usage: python -m kizuna_bench.bare KIND ARGS…
"""

from __future__ import annotations

import asyncio
import json
import pickle
import sqlite3
import sys
import time
import uuid

from kizuna_bench.processes import own_peak_rss_mb


def insert_sqlite(path: str, rows_file: str) -> dict[str, object]:
    with open(rows_file, "rb") as file:
        columns, rows = pickle.load(file)
    connection = sqlite3.connect(path, timeout=60, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        connection.execute(f"PRAGMA {pragma}")
    statement = (f"INSERT INTO delivery ({', '.join(columns)}) "
                 f"VALUES ({', '.join('?' * len(columns))})")  # fmt: skip
    start = time.time()
    connection.execute("BEGIN")
    connection.executemany(statement, rows)
    connection.execute("COMMIT")
    end = time.time()
    connection.close()
    return {"count": len(rows), "start": start, "end": end}


def insert_postgresql(dsn: str, copy_file: str, columns: str) -> dict[str, object]:
    import psycopg

    with open(copy_file, "rb") as file:
        data = file.read()
    count = data.count(b"\n")
    with psycopg.connect(dsn) as connection:
        start = time.time()
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY delivery ({columns}) FROM STDIN") as copy,
        ):
            for offset in range(0, len(data), 1 << 20):
                copy.write(data[offset : offset + (1 << 20)])
        connection.commit()
        end = time.time()
    return {"count": count, "start": start, "end": end}


async def push_loop(url: str, token: str, items_file: str, concurrency: int) -> dict[str, object]:
    from linebot.v3.messaging import (
        AsyncApiClient,
        AsyncMessagingApi,
        Configuration,
        PushMessageRequest,
    )

    with open(items_file, encoding="utf-8") as file:
        bodies = [json.loads(line) for line in file]
    work = iter([(body, str(uuid.uuid4())) for body in bodies])
    configuration = Configuration(access_token=token, host=url)
    configuration.connection_pool_maxsize = concurrency
    statuses: dict[int, int] = {}
    start, cpu = time.time(), time.process_time()
    async with AsyncApiClient(configuration) as client:
        api = AsyncMessagingApi(client)

        async def pusher() -> None:
            for body, key in work:  # one shared iterator: each push is taken once
                answer = await api.push_message_with_http_info(
                    PushMessageRequest.from_dict(body), x_line_retry_key=key
                )
                statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

        await asyncio.gather(*(pusher() for _ in range(concurrency)))
    end, cpu = time.time(), time.process_time() - cpu
    return {"count": len(bodies), "start": start, "end": end, "cpu": cpu, "statuses": statuses}


async def mail_loop(host: str, port: int, mails_file: str, connections: int) -> dict[str, object]:
    from aiosmtplib import SMTP

    with open(mails_file, "rb") as file:
        mails = pickle.load(file)
    work = iter(mails)
    sent = 0
    start, cpu = time.time(), time.process_time()

    async def sender() -> None:
        nonlocal sent
        client = SMTP(hostname=host, port=port, use_tls=False, start_tls=False)
        await client.connect()
        for mail_from, recipient, data in work:
            options = [] if recipient.isascii() else ["SMTPUTF8"]
            await client.sendmail(mail_from, [recipient], data, mail_options=options)
            sent += 1
        await client.quit()

    await asyncio.gather(*(sender() for _ in range(connections)))
    end, cpu = time.time(), time.process_time() - cpu
    return {"count": sent, "start": start, "end": end, "cpu": cpu}


def main(argv: list[str]) -> None:
    kind, args = argv[0], argv[1:]
    if kind == "insert-sqlite":
        result = insert_sqlite(*args)
    elif kind == "insert-postgresql":
        result = insert_postgresql(*args)
    elif kind == "line":
        result = asyncio.run(push_loop(args[0], args[1], args[2], int(args[3])))
    elif kind == "smtp":
        result = asyncio.run(mail_loop(args[0], int(args[1]), args[2], int(args[3])))
    else:
        raise SystemExit(f"unknown kind {kind}")
    print(json.dumps({**result, "peak_rss_mb": own_peak_rss_mb()}))


if __name__ == "__main__":
    main(sys.argv[1:])
