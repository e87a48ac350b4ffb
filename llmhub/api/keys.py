"""API keys: create one (shown once), authenticate a request's bearer key, revoke."""
import hashlib
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from llmhub.api.models import ApiKey

KEY_PREFIX = "llmhub-"
SHOWN_PREFIX_LENGTH = 12
LAST_USED_RESOLUTION = timedelta(minutes=1)
MISSING_KEY = "Missing API key: send Authorization: Bearer <key>"


class ApiAuthError(Exception):
    """A request the APIs must refuse before doing anything: `status` is the HTTP status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def api_key_hash(plain_key: str) -> str:
    return hashlib.sha256(plain_key.encode()).hexdigest()


def api_key_create(
    *,
    owner: AbstractBaseUser,
    name: str = "",
    expires_at: datetime | None = None,
    allowed_models: Iterable[str] = (),
    requests_per_minute: int | None = None,
    tokens_per_minute: int | None = None,
    is_admin_key: bool = False,
) -> tuple[ApiKey, str]:
    """Store a new key's hash and return the row with the plain key, which only the caller
    ever sees. Raises ValidationError for an admin key of a non-staff owner, an expiry in
    the past, or a limit under 1."""
    if is_admin_key and not owner.is_staff:
        raise ValidationError(_("Only a staff user's key may be an admin key."))
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError(_("The expiry date is in the past."))
    plain_key = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        owner=owner,
        name=name.strip(),
        prefix=plain_key[:SHOWN_PREFIX_LENGTH],
        key_hash=api_key_hash(plain_key),
        expires_at=expires_at,
        allowed_models=list(dict.fromkeys(allowed_models)),
        requests_per_minute=requests_per_minute,
        tokens_per_minute=tokens_per_minute,
        is_admin_key=is_admin_key,
    )
    key.full_clean()
    key.save()
    return key, plain_key


def api_key_authenticate(authorization: str | None) -> ApiKey:
    """The live key of an `Authorization: Bearer <key>` header, with its owner loaded;
    raises ApiAuthError(401, why) for a missing, unknown, revoked or expired key or an
    inactive owner."""
    plain_key = _bearer_credential(authorization)
    try:
        key = ApiKey.objects.select_related("owner").get(key_hash=api_key_hash(plain_key))
    except ApiKey.DoesNotExist:
        raise ApiAuthError(401, "Invalid API key") from None
    now = timezone.now()
    _check_usable(key, now)
    _touch_last_used(key, now)
    return key


def _bearer_credential(authorization: str | None) -> str:
    scheme, _, credential = (authorization or "").strip().partition(" ")
    # The scheme is case-insensitive (RFC 9110); clients do send "bearer".
    if scheme.lower() != "bearer" or not credential.strip():
        raise ApiAuthError(401, MISSING_KEY)
    return credential.strip()


def _check_usable(key: ApiKey, now: datetime) -> None:
    if key.revoked_at is not None:
        raise ApiAuthError(401, "API key revoked")
    if key.expires_at is not None and key.expires_at <= now:
        expiry = key.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        raise ApiAuthError(401, f"API key expired on {expiry}")
    if not key.owner.is_active:
        raise ApiAuthError(401, "API key's owner account is disabled")


def _touch_last_used(key: ApiKey, now: datetime) -> None:
    # A minute's precision is all the key list shows: skip the write on busy keys. The
    # filter makes concurrent requests that all read a stale value write once between them.
    stale_before = now - LAST_USED_RESOLUTION
    if key.last_used_at is not None and key.last_used_at > stale_before:
        return
    ApiKey.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale_before), pk=key.pk
    ).update(last_used_at=now)
    key.last_used_at = now


def api_key_allows_model(key: ApiKey, model_name: str) -> bool:
    """Whether the key's own list lets it use the model; whether its owner may use that
    model at all is the caller's check."""
    return not key.allowed_models or model_name in key.allowed_models


def api_key_may_administer(key: ApiKey) -> bool:
    """Admin endpoints need an admin key whose owner is still staff."""
    return key.is_admin_key and key.owner.is_staff


def api_key_revoke(key: ApiKey) -> None:
    """Revoke for good (idempotent: a second call keeps the first date)."""
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
            revoked_at=key.revoked_at
        )
