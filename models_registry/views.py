"""Model pages: thin adapters over the registry. Everyone logged in reads the cards; staff
add models, place and remove their replicas, and watch the cluster."""
from collections.abc import Callable, Sequence
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from models_registry import placement, services
from models_registry.explain import model_badges, model_card_facts
from models_registry.forms import DeployForm, HubChoiceForm, ModelSourceForm
from models_registry.huggingface import GGUFChoice, HubError, hf_gguf_choices
from models_registry.models import Model
from models_registry.selectors import cluster_snapshot, model_list_enabled, model_list_for_user


def staff_required(view: Callable) -> Callable:
    """Anonymous visitors go to log in; logged-in people who are not staff get 403."""

    @wraps(view)
    def checked(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied(_("Only staff manage models."))
        return view(request, *args, **kwargs)

    return login_required(checked)


@login_required
def model_list(request: HttpRequest) -> HttpResponse:
    return render(request, "models_registry/list.html",
                  {"models": model_list_for_user(request.user)})


@login_required
def model_card(request: HttpRequest, model_id: int) -> HttpResponse:
    return _card_render(request, _enabled_model_or_404(model_id))


@staff_required
def cluster_overview(request: HttpRequest) -> HttpResponse:
    return render(request, "models_registry/cluster.html", {"cluster": cluster_snapshot()})


@staff_required
def model_add(request: HttpRequest) -> HttpResponse:
    """Step one takes a source; a repo's GGUF choices come back as step two, one form each."""
    if request.method != "POST":
        return _add_render(request, ModelSourceForm())
    if request.POST.get("step") == "choice":
        return _hub_choice_add(request)
    return _source_add(request)


@staff_required
@require_POST
def model_deploy_submit(request: HttpRequest, model_id: int) -> HttpResponse:
    model = _enabled_model_or_404(model_id)
    form = DeployForm(request.POST)
    if form.is_valid():
        try:
            placement.model_deploy(model=model, **form.cleaned_data)
        except ValidationError as refusal:
            form.add_error(None, refusal)
        else:
            return redirect("models_registry:card", model_id=model.pk)
    return _card_render(request, model, deploy_form=form, status=400)


@staff_required
@require_POST
def model_undeploy_submit(request: HttpRequest, model_id: int) -> HttpResponse:
    model = _enabled_model_or_404(model_id)
    placement.model_undeploy(model=model)
    return redirect("models_registry:card", model_id=model.pk)


@staff_required
@require_POST
def model_delete_submit(request: HttpRequest, model_id: int) -> HttpResponse:
    """The first POST asks to confirm (a model's files go from every node); the second deletes."""
    model = _enabled_model_or_404(model_id)
    if request.POST.get("confirmed") != "yes":
        return render(request, "models_registry/delete.html", {"model": model})
    try:
        placement.model_delete(model=model)
    except ValidationError as error:
        return render(request, "models_registry/delete.html",
                      {"model": model, "error": error.messages[0]}, status=409)
    return redirect("models_registry:list")


def _enabled_model_or_404(model_id: int) -> Model:
    model = model_list_enabled().filter(pk=model_id).first()
    if model is None:
        raise Http404(_("No such model."))
    return model


def _card_render(request: HttpRequest, model: Model, *, deploy_form: DeployForm | None = None,
                 status: int = 200) -> HttpResponse:
    facts = model_card_facts(model.metadata, context_length=model.context_length,
                             slots=model.slots)
    context = {"model": model, "facts": facts, "badges": model_badges(model.file_path)}
    if request.user.is_staff:
        context["deploy_form"] = deploy_form or DeployForm(
            initial={"replicas": 1, "slots": model.slots})
        context["replicas"] = [row for row in cluster_snapshot()["placements"]
                               if row["model_id"] == model.pk]
    return render(request, "models_registry/card.html", context, status=status)


def _add_render(request: HttpRequest, form: ModelSourceForm, *, error: str = "",
                choices: Sequence[GGUFChoice] = (), status: int = 200) -> HttpResponse:
    data = getattr(form, "cleaned_data", {})
    context = {"form": form, "error": error, "choices": choices,
               "repo_id": data.get("repo_id", ""), "revision": data.get("revision", "main")}
    return render(request, "models_registry/add.html", context, status=status)


def _source_add(request: HttpRequest) -> HttpResponse:
    form = ModelSourceForm(request.POST)
    if not form.is_valid():
        return _add_render(request, form, status=400)
    if form.cleaned_data["kind"] == Model.SourceKind.HUGGINGFACE:
        return _hub_choices_show(request, form)
    try:
        model = _register_url_or_path(form.cleaned_data)
    except ValidationError as error:
        return _add_render(request, form, error=_not_added(error), status=400)
    return redirect("models_registry:card", model_id=model.pk)


def _not_added(error: ValidationError) -> str:
    return _("Not added: %(reasons)s") % {"reasons": " ".join(error.messages)}


def _register_url_or_path(data: dict) -> Model:
    if data["kind"] == Model.SourceKind.REMOTE:
        return services.model_register_remote(
            name=data["name"] or data["remote_name"], backend=data["backend"],
            base_url=data["base_url"], remote_name=data["remote_name"],
            api_key_env=data["api_key_env"])
    if data["kind"] == Model.SourceKind.URL:
        return services.model_register_url(url=data["url"], name=data["name"],
                                           sha256=data["sha256"])
    return services.model_register_path(path=data["path"], name=data["name"])


def _hub_choices_show(request: HttpRequest, form: ModelSourceForm) -> HttpResponse:
    try:
        choices = hf_gguf_choices(form.cleaned_data["repo_id"], form.cleaned_data["revision"])
    except HubError as error:
        return _add_render(request, form, error=_hub_refusal(error), status=400)
    return _add_render(request, form, choices=choices)


def _hub_refusal(error: HubError) -> str:
    return _("Hugging Face: %(reason)s") % {"reason": error}


def _hub_choice_add(request: HttpRequest) -> HttpResponse:
    choice_form = HubChoiceForm(request.POST)
    if not choice_form.is_valid():
        return _add_render(request, ModelSourceForm(), status=400,
                           error=_("That choice came incomplete: look the repo up again."))
    data = choice_form.cleaned_data
    # The repo stays in step one's fields above the error, to be looked up again.
    form = ModelSourceForm({"kind": Model.SourceKind.HUGGINGFACE, "repo_id": data["repo_id"],
                            "revision": data["revision"]})
    form.is_valid()
    try:
        choices = hf_gguf_choices(data["repo_id"], data["revision"])
    except HubError as error:
        return _add_render(request, form, error=_hub_refusal(error), status=400)
    try:
        model = services.model_register_huggingface(
            repo_id=data["repo_id"], revision=data["revision"], name=data["name"],
            choice=_choice_by_first_path(choices, data["first_path"]))
    except ValidationError as error:
        return _add_render(request, form, choices=choices, error=_not_added(error), status=400)
    return redirect("models_registry:card", model_id=model.pk)


def _choice_by_first_path(choices: Sequence[GGUFChoice], first_path: str) -> GGUFChoice:
    for choice in choices:
        if choice.files[0].path == first_path:
            return choice
    raise ValidationError(_("the repo no longer offers %(path)s: pick again below")
                          % {"path": first_path})
