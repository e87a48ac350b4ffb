"""Model pages: thin adapters over the registry."""
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from models_registry.explain import model_badges, model_card_facts
from models_registry.selectors import model_list_enabled


@login_required
def model_list(request: HttpRequest) -> HttpResponse:
    return render(request, "models_registry/list.html", {"models": model_list_enabled()})


@login_required
def model_card(request: HttpRequest, model_id: int) -> HttpResponse:
    model = model_list_enabled().filter(pk=model_id).first()
    if model is None:
        raise Http404("No such model.")
    facts = model_card_facts(model.metadata, context_length=model.context_length,
                             slots=model.slots)
    context = {"model": model, "facts": facts, "badges": model_badges(model.file_path)}
    return render(request, "models_registry/card.html", context)
