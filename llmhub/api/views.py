"""The account pages: your API keys, and the tokens you spent. Thin adapters over
llmhub.api.keys and llmhub.api.selectors."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from llmhub.api import selectors
from llmhub.api.charts import usage_chart
from llmhub.api.forms import ApiKeyForm
from llmhub.api.keys import api_key_create, api_key_revoke
from llmhub.api.quotas import quota_status

USAGE_DAYS = 30


@login_required
@never_cache  # the page that answers a creation holds the plain key
@require_http_methods(["GET", "POST"])
def api_keys(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST if request.method == "POST" else None, user=request.user)
    if form.is_valid():
        try:
            key, plain_key = api_key_create(
                owner=request.user, name=form.cleaned_data["name"],
                expires_at=form.expires_at(), allowed_models=form.allowed_model_names())
        except ValidationError as error:
            form.add_error(None, error)
        else:
            # Rendered, not redirected to: the plain key must not be stored anywhere, even
            # in the session, to show it after a redirect.
            return render(request, "api/key_created.html", {"key": key, "plain_key": plain_key})
    context = {"keys": selectors.api_key_list(user=request.user), "form": form,
               "now": timezone.now()}
    return render(request, "api/keys.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def api_key_revoke_view(request: HttpRequest, key_id: int) -> HttpResponse:
    key = selectors.api_key_get(user=request.user, key_id=key_id)
    if key is None:
        raise Http404(_("No such API key."))
    api_key_revoke(key)
    messages.success(request, _("Revoked the key %(key)s.") % {"key": key})
    return redirect("api_keys")


@login_required
def usage(request: HttpRequest) -> HttpResponse:
    everyone = request.user.is_staff and request.GET.get("who") == "everyone"
    rows = selectors.usage_daily_tokens(user=None if everyone else request.user,
                                        days=USAGE_DAYS)
    return render(request, "api/usage.html", {
        "rows": rows, "everyone": everyone, "days": USAGE_DAYS,
        "chart": usage_chart(rows, selectors.usage_days(USAGE_DAYS)),
        "total": sum(row.tokens for row in rows),
        "quota": None if everyone else _quota_context(request.user),
    })


def _quota_context(user: AbstractBaseUser) -> dict | None:
    status = quota_status(user=user)
    if status is None:
        return None
    return {"used": number_format(status.used, force_grouping=True),
            "tokens_per_day": number_format(status.tokens_per_day, force_grouping=True),
            # The meter stops at full: a reply may finish past the quota.
            "meter_value": min(status.used, status.tokens_per_day),
            "meter_max": status.tokens_per_day, "is_spent": status.is_spent}
