"""Start everything on one machine: embedded Redis if needed, web and worker processes."""
import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from llmhub.embedded import embedded_redis_start
from llmhub.services import admin_ensure, demo_model_register
from models_registry.worker import worker_slots_total


class Command(BaseCommand):
    help = "Run the hub: migrate, admin login, demo model, web (daphne) and a worker (celery)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--concurrency", type=int, default=None,
                            help="worker task threads (default: the slots of its models, and one)")
        parser.add_argument("--no-demo", action="store_true", help="skip the demo model")

    def handle(self, *args, host: str, port: int, concurrency: int | None, no_demo: bool,
               **options):
        # SIGTERM unwinds like Ctrl-C, so the finally blocks stop children and Redis.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        embedded = None
        if settings.REDIS_EMBEDDED:
            embedded = embedded_redis_start(
                socket_path=settings.REDIS_SOCKET, data_dir=settings.DATA_DIR
            )
            self.stdout.write(f"Embedded Redis on {settings.REDIS_SOCKET}")
        call_command("migrate", interactive=False, verbosity=0)
        username, password = admin_ensure(password_file=settings.DATA_DIR / "admin-password")
        if not no_demo:
            self.stdout.write(f"Demo model: {demo_model_register().name}")
        worker_name = f"celery@{socket.gethostname()}"
        concurrency = concurrency or worker_slots_total(worker_name)
        try:
            self._supervise(self._start_children(host, port, worker_name, concurrency), host,
                            port, username, password)
        finally:
            if embedded is not None:
                embedded.shutdown(nosave=True)

    def _start_children(self, host: str, port: int, worker_name: str,
                        concurrency: int) -> list[subprocess.Popen]:
        env = os.environ | {"REDIS_URL": settings.REDIS_URL}
        web = [sys.executable, "-m", "daphne", "-b", host, "-p", str(port),
               "llmhub.asgi:application"]
        worker = [sys.executable, "-m", "celery", "-A", "llmhub", "worker", "--pool", "threads",
                  "--concurrency", str(concurrency), "--hostname", worker_name,
                  "--loglevel", "INFO"]
        return [subprocess.Popen(cmd, env=env, cwd=settings.BASE_DIR) for cmd in (web, worker)]

    def _supervise(self, children, host, port, username, password) -> None:
        self.stdout.write(self.style.SUCCESS(f"llmhub is starting on http://{host}:{port}/"))
        self.stdout.write(f"Admin login: {username} / {password or '(set by you)'}")
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            self.stderr.write("A child process stopped; shutting the hub down.")
        except KeyboardInterrupt:
            pass
        finally:
            for child in children:
                child.terminate()
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
