"""Compare mode's pages: thin adapters over chat.compare."""
from django import forms
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_safe

from chat import compare, services
from chat.services import MAX_MESSAGE_CHARS
from models_registry.badges import model_badges_for
from models_registry.selectors import model_list_enabled, model_list_for_user

COMPARISONS_LISTED = 50


class CompareForm(forms.Form):
    prompt = forms.CharField(label=_("Prompt"), max_length=MAX_MESSAGE_CHARS,
                             widget=forms.Textarea(attrs={"rows": 4}))
    models = forms.ModelMultipleChoiceField(
        queryset=model_list_enabled(), label=_("Models"),
        error_messages={"required": _("Pick 2 or 3 models to compare."),
                        "invalid_choice": _("One of the models picked is not available to you."),
                        "invalid_pk_value": _("One of the models picked is not available to you.")})

    def __init__(self, *args, user: AbstractBaseUser, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["models"].queryset = model_list_for_user(user)

    def clean_models(self) -> list:
        # The field folds a model sent twice into one; the raw values still show it.
        picked = self.data.getlist("models") if hasattr(self.data, "getlist") else []
        if len(set(picked)) != len(picked):
            raise ValidationError(_("Pick each model only once."), code="duplicate")
        models = list(self.cleaned_data["models"])
        compare.models_check(models=models)
        return models


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def compare_new(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _compare_new_page(request, CompareForm(user=request.user))
    form = CompareForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            comparison = compare.comparison_create(
                owner=request.user, models=form.cleaned_data["models"],
                prompt=form.cleaned_data["prompt"])
        except ValidationError as refusal:  # a quota spent, access lost since the form showed
            form.add_error(None, refusal)
        else:
            return redirect("chat:compare", comparison_id=comparison.pk)
    return _compare_new_page(request, form, status=400)


def _compare_new_page(request: HttpRequest, form: CompareForm, status: int = 200) -> HttpResponse:
    picked = set(form.data.getlist("models")) if form.is_bound else set()
    choices = [{"model": model, "badges": model_badges_for(model),
                "checked": str(model.pk) in picked} for model in form.fields["models"].queryset]
    comparisons = compare.comparison_list(user=request.user)[:COMPARISONS_LISTED]
    return render(request, "chat/compare_new.html",
                  {"form": form, "choices": choices, "comparisons": comparisons}, status=status)


@login_required
@require_safe
def compare_detail(request: HttpRequest, comparison_id: int) -> HttpResponse:
    comparison = compare.comparison_get(user=request.user, comparison_id=comparison_id)
    if comparison is None:
        raise Http404(_("No such comparison."))
    columns = compare.comparison_columns(comparison=comparison)
    for column in columns:
        if column.reply is not None and column.reply.is_active:
            # As the chat page does: a reply nobody can finish any more ends as failed.
            if services.generation_check(reply=column.reply):
                column.reply.refresh_from_db()
    return render(request, "chat/compare.html", {"comparison": comparison, "columns": columns})
