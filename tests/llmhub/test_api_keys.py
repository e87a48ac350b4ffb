"""API keys: stored hashed, authenticated with their reasons to refuse, limited per minute
in Redis, and the usage the APIs record."""
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from llmhub.api.keys import (
    ApiAuthError,
    api_key_allows_model,
    api_key_authenticate,
    api_key_create,
    api_key_may_administer,
    api_key_revoke,
)
from llmhub.api.limits import RateLimited, limits_admit, limits_count_tokens
from llmhub.api.models import ApiKey, Usage
from llmhub.api.usage import usage_record
from llmhub.redis import redis_client

pytestmark = pytest.mark.django_db(transaction=True)

# A whole minute on the limits' clock: its window starts at MINUTE and ends 60 s later.
MINUTE = 1_800_000_000.0


@pytest.fixture(autouse=True)
def fresh_limit_counters():
    # Rows roll back between tests and their ids come again; their Redis counters must not.
    client = redis_client()
    for counter in client.scan_iter("llmhub:limits:*"):
        client.delete(counter)


@pytest.fixture
def carol(transactional_db):
    """A staff user: the only kind whose keys may be admin keys."""
    return User.objects.create_user("carol", password="carol-password-1", is_staff=True)


def bearer(plain_key: str) -> str:
    return f"Bearer {plain_key}"


def refusal(authorization: str | None) -> ApiAuthError:
    with pytest.raises(ApiAuthError) as refused:
        api_key_authenticate(authorization)
    assert refused.value.status == 401
    return refused.value


# Creating and storing keys


def test_a_new_key_is_shown_once_and_the_database_holds_only_its_hash(alice):
    key, plain_key = api_key_create(owner=alice, name="laptop")
    secret = plain_key.removeprefix("llmhub-")
    assert plain_key.startswith("llmhub-") and len(secret) == 43
    assert key.prefix == plain_key[:12]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM api_apikey")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
    assert plain_key not in stored and secret not in stored


def test_two_keys_differ(alice):
    assert api_key_create(owner=alice)[1] != api_key_create(owner=alice)[1]


def test_bob_who_is_not_staff_gets_no_admin_key(bob):
    with pytest.raises(ValidationError):
        api_key_create(owner=bob, is_admin_key=True)
    assert not ApiKey.objects.exists()


def test_an_admin_key_administers_while_its_owner_is_staff(carol):
    key, _ = api_key_create(owner=carol, is_admin_key=True)
    assert api_key_may_administer(key)
    carol.is_staff = False
    carol.save()
    key.refresh_from_db()
    assert not api_key_may_administer(key)


def test_a_plain_key_of_a_staff_user_does_not_administer(carol):
    key, _ = api_key_create(owner=carol)
    assert not api_key_may_administer(key)


def test_limits_under_one_and_past_expiries_are_refused(alice):
    with pytest.raises(ValidationError):
        api_key_create(owner=alice, requests_per_minute=0)
    with pytest.raises(ValidationError):
        api_key_create(owner=alice, expires_at=timezone.now() - timedelta(seconds=1))


# Authenticating


def test_a_good_key_authenticates_as_its_owner(alice):
    key, plain_key = api_key_create(owner=alice)
    authenticated = api_key_authenticate(bearer(plain_key))
    assert authenticated == key and authenticated.owner == alice


def test_the_bearer_scheme_is_case_insensitive(alice):
    key, plain_key = api_key_create(owner=alice)
    assert api_key_authenticate(f"bearer {plain_key}") == key


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer  ", "Basic YWxpY2U6eA=="])
def test_a_request_without_a_bearer_key_is_told_how_to_send_one(authorization):
    assert refusal(authorization).message == "Missing API key: send Authorization: Bearer <key>"


def test_a_wrong_key_is_invalid(alice):
    _, plain_key = api_key_create(owner=alice)
    assert refusal(bearer(plain_key[:-1] + "x")).message == "Invalid API key"


def test_a_revoked_key_is_refused(alice):
    key, plain_key = api_key_create(owner=alice)
    api_key_revoke(key)
    assert "revoked" in refusal(bearer(plain_key)).message


def test_revoking_twice_keeps_the_first_date(alice):
    key, _ = api_key_create(owner=alice)
    api_key_revoke(key)
    first = ApiKey.objects.get(pk=key.pk).revoked_at
    api_key_revoke(ApiKey.objects.get(pk=key.pk))
    assert ApiKey.objects.get(pk=key.pk).revoked_at == first


def test_an_expired_key_says_when_it_expired(alice):
    key, plain_key = api_key_create(owner=alice, expires_at=timezone.now() + timedelta(days=1))
    assert api_key_authenticate(bearer(plain_key)) == key
    ApiKey.objects.filter(pk=key.pk).update(
        expires_at=datetime(2025, 3, 4, 5, 6, tzinfo=UTC)
    )
    assert refusal(bearer(plain_key)).message == "API key expired on 2025-03-04 05:06 UTC"


def test_the_key_of_an_inactive_owner_is_refused(alice):
    _, plain_key = api_key_create(owner=alice)
    alice.is_active = False
    alice.save()
    assert "disabled" in refusal(bearer(plain_key)).message


def test_last_use_is_written_at_most_once_a_minute(alice, django_assert_num_queries):
    key, plain_key = api_key_create(owner=alice)
    api_key_authenticate(bearer(plain_key))
    first_use = ApiKey.objects.get(pk=key.pk).last_used_at
    assert first_use is not None

    with django_assert_num_queries(1):  # the lookup, no write
        api_key_authenticate(bearer(plain_key))
    assert ApiKey.objects.get(pk=key.pk).last_used_at == first_use

    ApiKey.objects.filter(pk=key.pk).update(last_used_at=first_use - timedelta(minutes=2))
    api_key_authenticate(bearer(plain_key))
    assert ApiKey.objects.get(pk=key.pk).last_used_at > first_use


# Allowed models


def test_a_key_without_a_model_list_allows_every_model(alice):
    key, _ = api_key_create(owner=alice)
    assert api_key_allows_model(key, "qwen2.5:0.5b")


def test_a_key_with_a_model_list_allows_only_those(alice):
    key, _ = api_key_create(owner=alice, allowed_models=["qwen2.5:0.5b", "llama3.2:1b"])
    assert api_key_allows_model(key, "llama3.2:1b")
    assert not api_key_allows_model(key, "mistral:7b")


# Limits


def test_the_fourth_request_of_a_minute_is_refused_with_retry_after(alice):
    key, _ = api_key_create(owner=alice, requests_per_minute=3)
    for second in (1, 2, 3):
        limits_admit(key, now=MINUTE + second)
    with pytest.raises(RateLimited) as refused:
        limits_admit(key, now=MINUTE + 5)
    assert refused.value.retry_after_seconds == 55
    assert "3 requests per minute" in refused.value.message


def test_retry_after_is_at_least_one_second(alice):
    key, _ = api_key_create(owner=alice, requests_per_minute=1)
    limits_admit(key, now=MINUTE + 59.2)
    with pytest.raises(RateLimited) as refused:
        limits_admit(key, now=MINUTE + 59.9)
    assert refused.value.retry_after_seconds == 1


def test_retry_after_on_the_real_clock_is_within_the_minute(alice):
    key, _ = api_key_create(owner=alice, requests_per_minute=1)
    with pytest.raises(RateLimited) as refused:
        for _ in range(3):  # a window may end between two requests, not twice
            limits_admit(key)
    assert 1 <= refused.value.retry_after_seconds <= 60


def test_a_new_minute_admits_again(alice):
    key, _ = api_key_create(owner=alice, requests_per_minute=3)
    for second in (1, 2, 3):
        limits_admit(key, now=MINUTE + second)
    with pytest.raises(RateLimited):
        limits_admit(key, now=MINUTE + 59)
    limits_admit(key, now=MINUTE + 60)


def test_requests_are_refused_once_the_minutes_tokens_reach_the_limit(alice):
    key, _ = api_key_create(owner=alice, tokens_per_minute=100)
    limits_admit(key, now=MINUTE + 1)
    limits_count_tokens(key, 60, now=MINUTE + 2)
    limits_admit(key, now=MINUTE + 3)
    limits_count_tokens(key, 40, now=MINUTE + 4)
    with pytest.raises(RateLimited) as refused:
        limits_admit(key, now=MINUTE + 10)
    assert refused.value.retry_after_seconds == 50
    assert "100 tokens per minute" in refused.value.message
    limits_admit(key, now=MINUTE + 61)


def test_one_keys_limit_does_not_refuse_another_key(alice, bob):
    alices, _ = api_key_create(owner=alice, requests_per_minute=1)
    bobs, _ = api_key_create(owner=bob, requests_per_minute=1)
    limits_admit(alices, now=MINUTE)
    with pytest.raises(RateLimited):
        limits_admit(alices, now=MINUTE)
    limits_admit(bobs, now=MINUTE)


def test_a_key_without_limits_is_never_refused_and_costs_no_redis_call(alice, monkeypatch):
    key, _ = api_key_create(owner=alice)

    def no_redis():
        raise AssertionError("a key without limits must not call Redis")

    monkeypatch.setattr("llmhub.api.limits.redis_client", no_redis)
    for _ in range(1000):
        limits_admit(key)
    limits_count_tokens(key, 10_000)


def test_limit_counters_expire(alice):
    key, _ = api_key_create(owner=alice, requests_per_minute=5, tokens_per_minute=100)
    limits_admit(key)
    limits_count_tokens(key, 10)
    counters = list(redis_client().scan_iter(f"llmhub:limits:{key.pk}:*"))
    assert len(counters) == 2
    assert all(0 < redis_client().ttl(counter) <= 120 for counter in counters)


# Usage


def test_usage_is_recorded_per_request(alice):
    key, _ = api_key_create(owner=alice)
    usage_record(user=alice, api_key=key, model_name="qwen2.5:0.5b",
                 endpoint="/v1/chat/completions", prompt_tokens=12, completion_tokens=30,
                 duration_ms=845, outcome=Usage.Outcome.DONE)
    usage_record(user=alice, api_key=key, model_name="qwen2.5:0.5b", endpoint="/api/chat",
                 prompt_tokens=0, completion_tokens=0, duration_ms=2,
                 outcome="rate_limited", error="x" * 2000)
    rows = list(Usage.objects.filter(user=alice).order_by("pk"))
    assert [(row.endpoint, row.outcome) for row in rows] == [
        ("/v1/chat/completions", "done"), ("/api/chat", "rate_limited")
    ]
    assert (rows[0].prompt_tokens, rows[0].completion_tokens, rows[0].duration_ms) == (12, 30, 845)
    assert len(rows[1].error) == 500


def test_usage_outlives_its_key(alice):
    key, _ = api_key_create(owner=alice)
    usage = usage_record(user=alice, api_key=key, model_name="m", endpoint="/api/generate",
                         prompt_tokens=1, completion_tokens=1, duration_ms=1, outcome="done")
    key.delete()
    usage.refresh_from_db()
    assert usage.api_key is None


def test_an_unknown_outcome_is_a_bug(alice):
    with pytest.raises(ValueError):
        usage_record(user=alice, api_key=None, model_name="m", endpoint="/api/generate",
                     prompt_tokens=0, completion_tokens=0, duration_ms=0, outcome="ok")


# Management command


def apikey_create(*args: str) -> str:
    out = StringIO()
    call_command("apikey_create", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_the_command_prints_only_a_key_that_authenticates(alice):
    lines = apikey_create("--user", "alice", "--name", "ci").splitlines()
    assert len(lines) == 1
    key = api_key_authenticate(bearer(lines[0]))
    assert (key.owner, key.name, key.is_admin_key) == (alice, "ci", False)


def test_the_command_sets_expiry_models_and_limits(carol):
    plain_key = apikey_create("--user", "carol", "--expires-days", "7", "--models", "a, b",
                              "--rpm", "10", "--tpm", "5000", "--admin").strip()
    key = api_key_authenticate(bearer(plain_key))
    assert key.allowed_models == ["a", "b"]
    assert (key.requests_per_minute, key.tokens_per_minute, key.is_admin_key) == (10, 5000, True)
    assert timedelta(days=6) < key.expires_at - timezone.now() <= timedelta(days=7)


def test_the_command_refuses_an_unknown_user(alice):
    with pytest.raises(CommandError, match="No user named 'mallory'"):
        apikey_create("--user", "mallory")


def test_the_command_refuses_an_admin_key_for_bob_who_is_not_staff(bob):
    with pytest.raises(CommandError, match="staff"):
        apikey_create("--user", "bob", "--admin")
    assert not ApiKey.objects.exists()


# Admin


@pytest.fixture
def admin_client_of_carol(client, carol):
    carol.is_superuser = True
    carol.save()
    client.force_login(carol)
    return client


def test_the_admin_lists_keys_without_their_hash_and_revokes_them(admin_client_of_carol, alice):
    key, _ = api_key_create(owner=alice, name="laptop", requests_per_minute=3)
    page = admin_client_of_carol.get("/admin/api/apikey/")
    assert page.status_code == 200
    assert key.prefix in page.text and key.key_hash not in page.text
    change_page = admin_client_of_carol.get(f"/admin/api/apikey/{key.pk}/change/")
    assert change_page.status_code == 200 and key.key_hash not in change_page.text

    admin_client_of_carol.post(
        "/admin/api/apikey/", {"action": "revoke", "_selected_action": [key.pk]}
    )
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_the_admin_shows_usage_read_only(admin_client_of_carol, alice):
    usage = usage_record(user=alice, api_key=None, model_name="m", endpoint="/api/chat",
                         prompt_tokens=1, completion_tokens=2, duration_ms=3, outcome="failed")
    assert admin_client_of_carol.get("/admin/api/usage/?outcome=failed").status_code == 200
    change_page = admin_client_of_carol.get(f"/admin/api/usage/{usage.pk}/change/")
    assert change_page.status_code == 200 and "Save" not in change_page.text
