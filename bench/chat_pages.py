"""Server time of the chat pages for a user with many long conversations.

The data: on a fresh data directory (SQLite by default; ``--database-url`` names a
PostgreSQL server, on which a database of its own, ``llmhub_bench_pages_<random>``, is
created and dropped at the end), one user with 200 conversations of 50 messages
(``--conversations``, ``--messages``), written in bulk, all with the demo model (its row as
a fresh hub registers it, the GGUF header in its metadata): user and assistant turns
alternate, a user's message is 60 to 400 characters, a reply 300 to 1,200 with its token
counts, TTFT and tokens/s, as the worker stores them; every reply is done, so no page
asks Redis about a live generation. Each conversation is an hour newer than the one before,
its messages a minute apart.

Measured, in this process with Django's test ``Client`` logged in as that user (alice):
the conversation list (``/chat/``: the sidebar of her latest 200 conversations and the
new-conversation form), her newest conversation and the one in the middle of the list.
Server time runs from the client's request to its response: middleware, session and user
look-ups, the view, its queries and the template rendering, but no socket or HTTP parsing.
After each request the database connections are closed as a server closes them
(``close_old_connections``: SQLite's at once, so the next request opens its own as under
``runhub``; PostgreSQL's persistent one is kept). Each page gets 2 uncounted warm-ups, then
20 timed requests (``--requests``) on a quiet machine (a series that other processes
disturbed runs again, ``bench.quiet``), then one more request whose SQL queries are captured
(``CaptureQueriesContext``). The same pages of a second user (bob) with one conversation of
2 messages have their queries counted too: a page that runs more queries for alice than for
bob runs one per row (an N+1).

The printout gives, per page, the median, p95 (nearest rank) and fastest server time, the
queries (alice's and bob's), the most times one query ran with only its literals changed,
the page's size and the cores other processes used meanwhile; then the targets: p95 at most
300 ms and as many queries for alice as for bob; then any query a page runs more than once.
It is a benchmark: it exits 0 when a target is missed and says MISSED beside it.

Run from the project root: ``python -m bench.chat_pages [--database-url postgres://...]``.
"""
import argparse
import dataclasses
import datetime
import math
import os
import random
import re
import secrets
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from bench.quiet import ATTEMPTS, DISTURBED_ABOVE, measured_quietly
from bench.report import fmt, table, verdict

MAX_P95_MS = 300.0
SMALL = (1, 2)  # bob's conversations and messages: a page's queries must not grow past his
WARM_UPS = 2
WORDS = (
    "the model answer context token prompt reply server worker queue cache layer weights "
    "stream latency python django request response function value error retry memory batch "
    "thread process network socket because however therefore example which would could "
    "should first second then after before while when where about into over under with"
).split()


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclasses.dataclass(frozen=True)
class PageRun:
    label: str
    times_ms: list[float]
    queries: list[str]
    small_queries: int  # the same page's for the user with one short conversation
    size_bytes: int
    others: float  # cores other processes used during the timed requests

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p95_ms(self) -> float:
        ordered = sorted(self.times_ms)
        return ordered[math.ceil(0.95 * len(ordered)) - 1]

    @property
    def most_repeats(self) -> int:
        return max(Counter(map(query_shape, self.queries)).values(), default=0)


def query_shape(sql: str) -> str:
    """The query with its literals blanked: the same shape run per row is an N+1."""
    return re.sub(r"\d+", "?", re.sub(r"'(?:[^']|'')*'", "?", sql))


# --- the database --------------------------------------------------------------------------

@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A database of our own on the server ``server_url`` names, dropped afterwards."""
    import psycopg

    name = f"llmhub_bench_pages_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlsplit(server_url)._replace(path=f"/{name}").geturl()
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def django_configure(data_dir: Path, database_url: str) -> None:
    import django
    from django.core.management import call_command

    os.environ["LLMHUB_DATA_DIR"] = str(data_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "llmhub.settings"
    os.environ.pop("DATABASE_URL", None)
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    django.setup()
    call_command("migrate", verbosity=0)


# --- the data ------------------------------------------------------------------------------

def text(rng: random.Random, shortest: int, longest: int) -> str:
    wanted, words, length = rng.randint(shortest, longest), [], 0
    while length < wanted:
        words.append(rng.choice(WORDS))
        length += len(words[-1]) + 1
    return " ".join(words).capitalize()[:wanted]


def message_rows(conversation, count: int, start: datetime.datetime,
                 rng: random.Random) -> list:
    from chat.models import Message

    rows = []
    for number in range(count):
        at = start + datetime.timedelta(minutes=number)
        if number % 2 == 0:
            rows.append(Message(conversation=conversation, role=Message.Role.USER,
                                content=text(rng, 60, 400), created_at=at))
            continue
        tokens = rng.randint(80, 300)
        rows.append(Message(
            conversation=conversation, role=Message.Role.ASSISTANT,
            content=text(rng, 300, 1200), finish_reason="stop", worker="bench@node",
            prompt_tokens=rng.randint(20, 3000), completion_tokens=tokens,
            ttft_ms=rng.uniform(50, 400), tokens_per_second=rng.uniform(15, 60),
            created_at=at, started_at=at, finished_at=at + datetime.timedelta(seconds=20),
        ))
    return rows


def seed(username: str, conversations: int, messages: int, rng: random.Random):
    """A user, their conversations (the newest first) and their messages, in bulk."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from chat.models import Conversation, Message
    from llmhub.services import demo_model_register

    user = get_user_model().objects.create_user(username=username)
    model = demo_model_register()
    first = timezone.now() - datetime.timedelta(hours=conversations + 1)
    made = Conversation.objects.bulk_create(
        Conversation(owner=user, model=model, title=text(rng, 20, 80))
        for _ in range(conversations)
    )
    rows = []
    for number, conversation in enumerate(made):
        start = first + datetime.timedelta(hours=number)
        conversation.created_at = start
        conversation.updated_at = start + datetime.timedelta(minutes=messages)
        rows += message_rows(conversation, messages, start, rng)
    stored = Message.objects.bulk_create(rows, batch_size=1000)
    # Each message follows the one before it in its conversation: one branch.
    for previous, message in zip(stored, stored[1:], strict=False):
        if previous.conversation_id == message.conversation_id:
            message.parent = previous
    # auto_now and auto_now_add overwrite the times bulk_create is given; updates keep them.
    Conversation.objects.bulk_update(made, ["created_at", "updated_at"], batch_size=500)
    Message.objects.bulk_update(stored, ["created_at", "parent"], batch_size=500)
    return user, made[::-1]


# --- the measurement -----------------------------------------------------------------------

def get(client, url: str):
    from django.db import close_old_connections

    response = client.get(url)
    close_old_connections()  # as the server does when a request finishes
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")
    return response


def timed(client, url: str, requests: int) -> list[float]:
    for _ in range(WARM_UPS):
        get(client, url)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        get(client, url)
        times.append((time.perf_counter() - started) * 1000)
    return times


def queries_of(client, url: str) -> tuple[list[str], int]:
    """The SQL one request runs, and the page's size."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = get(client, url)
    return [q["sql"] for q in captured.captured_queries], len(response.content)


def page_run(client, label: str, url: str, requests: int, small_queries: int) -> PageRun:
    progress(f"measuring {label}")
    times, others, _ = measured_quietly(lambda: timed(client, url, requests), label=label,
                                        report=progress)
    queries, size = queries_of(client, url)
    return PageRun(label, times, queries, small_queries, size, others)


def logged_in(user):
    from django.test import Client

    # ALLOWED_HOSTS holds localhost; setup_test_environment would allow "testserver" but
    # also instrument template rendering, which the server does not pay for.
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    return client


def page_urls(conversations: list) -> list[tuple[str, str]]:
    from django.urls import reverse

    middle = len(conversations) // 2
    return [
        ("conversation list", reverse("chat:index")),
        ("newest conversation", reverse("chat:conversation", args=[conversations[0].pk])),
        (f"middle conversation (#{middle + 1})",
         reverse("chat:conversation", args=[conversations[middle].pk])),
    ]


def measure(big: tuple, small: tuple, requests: int) -> list[PageRun]:
    """Time the big user's pages; count the queries of the small user's same pages."""
    small_client = logged_in(small[0])
    small_counts = [len(queries_of(small_client, url)[0]) for _, url in page_urls(small[1])]
    client = logged_in(big[0])
    return [page_run(client, label, url, requests, count)
            for (label, url), count in zip(page_urls(big[1]), small_counts, strict=True)]


# --- the printout --------------------------------------------------------------------------

def print_report(runs: list[PageRun], args: argparse.Namespace, database: str) -> None:
    print("llmhub chat pages benchmark: server time with Django's test Client, in-process")
    print(f"database {database}; alice: {args.conversations} conversations x "
          f"{args.messages} messages, {args.requests} requests per page after {WARM_UPS} "
          f"warm-ups; bob: {SMALL[0]} conversation x {SMALL[1]} messages, queries counted")
    print()
    print(table(
        ["page (alice's)", "median ms", "p95 ms", "min ms", "queries", "bob's queries",
         "most repeats", "KiB", "other CPU"],
        [[r.label, fmt(r.median_ms), fmt(r.p95_ms), fmt(min(r.times_ms)), str(len(r.queries)),
          str(r.small_queries), str(r.most_repeats), fmt(r.size_bytes / 1024),
          fmt(r.others, 2) + (" *" if r.others > DISTURBED_ABOVE else "")] for r in runs],
    ))
    if any(r.others > DISTURBED_ABOVE for r in runs):
        print(f"* other processes used over {DISTURBED_ABOVE} cores in all {ATTEMPTS} attempts: "
              "its times are inflated")
    print()
    rows = []
    for r in runs:
        rows += [
            [f"{r.label}: p95 ms", fmt(r.p95_ms), f"<= {MAX_P95_MS:.0f}",
             verdict(not r.p95_ms <= MAX_P95_MS)],
            [f"{r.label}: queries, alice's / bob's (N+1 if more)",
             f"{len(r.queries)} / {r.small_queries}", "equal",
             verdict(len(r.queries) != r.small_queries)],
        ]
    print(table(["target", "value", "target", ""], rows))
    repeated = [(r.label, count, shape) for r in runs
                for shape, count in Counter(map(query_shape, r.queries)).items() if count > 1]
    if repeated:
        print()
    for label, count, shape in repeated:
        tables = ", ".join(dict.fromkeys(re.findall(r'FROM "?(\w+)', shape)))
        print(f"{label}: one query runs {count} times, on {tables}")


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.chat_pages", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="",
                        help="a PostgreSQL server to create a bench database on "
                             "(default: SQLite in the fresh data directory)")
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20)
    return parser.parse_args(argv)


def run(args: argparse.Namespace, data_dir: Path, database_url: str) -> None:
    django_configure(data_dir, database_url)
    progress(f"writing {args.conversations} conversations x {args.messages} messages")
    started = time.monotonic()
    rng = random.Random(1)
    big = seed("alice", args.conversations, args.messages, rng)
    small = seed("bob", *SMALL, rng)
    progress(f"  took {time.monotonic() - started:.1f} s")
    runs = measure(big, small, args.requests)
    print_report(runs, args, database_label())


def database_label() -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        return (f"PostgreSQL {connection.pg_version // 10000}, database "
                f"{connection.settings_dict['NAME']} (dropped afterwards)")
    return f"SQLite {sqlite3.sqlite_version} in a fresh data directory"


def main(argv: list[str]) -> int:
    args = parse_arguments(argv)
    started = time.monotonic()
    data_dir = Path(tempfile.mkdtemp(prefix="llmhub-bench-pages-"))
    try:
        if args.database_url:
            with postgres_database(args.database_url) as database_url:
                run(args, data_dir, database_url)
        else:
            run(args, data_dir, "")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    progress(f"took {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
