"""Create an API key from the shell; the key alone goes to stdout for scripts to capture."""
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from llmhub.api.keys import api_key_create
from models_registry.models import Model


class Command(BaseCommand):
    help = "Create an API key for a user and print it (it is shown only this once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--user", required=True, help="the key owner's username")
        parser.add_argument("--name", default="", help="a label to tell the key apart")
        parser.add_argument("--expires-days", type=int, default=None,
                            help="expire after this many days (default: never)")
        parser.add_argument("--models", default="",
                            help="comma-separated model names the key may use (default: all)")
        parser.add_argument("--rpm", type=int, default=None, help="requests per minute")
        parser.add_argument("--tpm", type=int, default=None, help="tokens per minute")
        parser.add_argument("--admin", action="store_true",
                            help="may call admin endpoints (staff users only)")

    def handle(self, *args, user: str, name: str, expires_days: int | None, models: str,
               rpm: int | None, tpm: int | None, admin: bool, **options) -> None:
        owner = self._owner(user)
        if expires_days is not None and expires_days < 1:
            raise CommandError("--expires-days must be at least 1.")
        model_names = [part.strip() for part in models.split(",") if part.strip()]
        self._warn_unknown_models(model_names)
        try:
            _, plain_key = api_key_create(
                owner=owner, name=name, allowed_models=model_names,
                expires_at=timezone.now() + timedelta(days=expires_days) if expires_days else None,
                requests_per_minute=rpm, tokens_per_minute=tpm, is_admin_key=admin,
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(plain_key)

    def _owner(self, username: str):
        try:
            return get_user_model().objects.get_by_natural_key(username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None

    def _warn_unknown_models(self, model_names: list[str]) -> None:
        # Models may be registered later, so a name not registered yet is kept, not refused.
        known = set(Model.objects.filter(name__in=model_names).values_list("name", flat=True))
        for unknown in [name for name in model_names if name not in known]:
            self.stderr.write(f"Warning: no model named {unknown!r} is registered yet.")
