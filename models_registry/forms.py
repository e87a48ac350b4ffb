"""The registry's admin forms. They only gather values: the services check them."""
from django import forms
from django.utils.translation import gettext_lazy as _

from models_registry.models import Model

Kind = Model.SourceKind
# The field each kind of source cannot do without.
_SOURCE_FIELD = {Kind.HUGGINGFACE: "repo_id", Kind.URL: "url", Kind.LOCAL_FILE: "path",
                 Kind.REMOTE: "base_url"}
# The models' choice labels are plain English (translating them there would take a
# migration); the form shows its own translated ones.
_SOURCE_KINDS = [(Kind.HUGGINGFACE, _("Hugging Face repo")), (Kind.URL, _("https URL")),
                 (Kind.LOCAL_FILE, _("Path on the node")), (Kind.REMOTE, _("Remote server"))]
_REMOTE_BACKENDS = [(Model.Backend.OPENAI, _("OpenAI-compatible server")),
                    (Model.Backend.OPENROUTER, "OpenRouter"),
                    (Model.Backend.OLLAMA, _("Ollama server"))]


class ModelSourceForm(forms.Form):
    """Where a new model comes from: a Hugging Face repo, an https URL, a path on the nodes,
    or a remote server (OpenAI-compatible, OpenRouter, Ollama)."""

    kind = forms.ChoiceField(choices=_SOURCE_KINDS, initial=Kind.HUGGINGFACE,
                             widget=forms.RadioSelect, label=_("Source"))
    repo_id = forms.CharField(required=False, max_length=200, label=_("Repo id"),
                              help_text=_("owner/name, e.g. bartowski/Qwen2.5-7B-Instruct-GGUF"))
    revision = forms.CharField(required=False, max_length=100, initial="main",
                               label=_("Revision"), help_text=_("A branch, tag or commit."))
    url = forms.CharField(required=False, max_length=500, label=_("URL"),
                          help_text=_("https only, naming a .gguf file."))
    sha256 = forms.CharField(required=False, max_length=64, label=_("sha256 (optional)"),
                             help_text=_("The pull checks the file against it."))
    path = forms.CharField(required=False, max_length=500, label=_("Path"),
                           help_text=_("Absolute path of the .gguf file on the nodes' disks."))
    backend = forms.ChoiceField(choices=_REMOTE_BACKENDS, required=False, label=_("Protocol"))
    base_url = forms.CharField(required=False, max_length=500, label=_("Base URL"),
                               help_text=_("e.g. https://api.openai.com/v1, "
                                           "https://openrouter.ai/api/v1, http://gpu1:11434"))
    remote_name = forms.CharField(required=False, max_length=200, label=_("Model there"),
                                  help_text=_("The model's name on that server."))
    api_key_env = forms.CharField(required=False, max_length=100, label=_("Key variable"),
                                  help_text=_("Name of the environment variable holding the "
                                              "key on the workers (e.g. OPENAI_API_KEY), never "
                                              "the key itself."))
    name = forms.CharField(required=False, max_length=200, label=_("Name (optional)"),
                           help_text=_("For a URL or path; parsed from the file name when "
                                       "empty. For a repo, you pick the name in the next step."))

    def clean(self) -> dict:
        cleaned = super().clean()
        needed = _SOURCE_FIELD.get(cleaned.get("kind"))
        if needed and not cleaned.get(needed):
            self.add_error(needed, _("Needed for this kind of source."))
        cleaned["revision"] = cleaned.get("revision") or "main"
        return cleaned


class HubChoiceForm(forms.Form):
    """One GGUF choice of a repo, named by its first file; the view lists the repo again."""

    repo_id = forms.CharField(max_length=200)
    revision = forms.CharField(max_length=100)
    first_path = forms.CharField(max_length=500)
    name = forms.CharField(required=False, max_length=200)


class DeployForm(forms.Form):
    replicas = forms.IntegerField(min_value=1, max_value=64, initial=1, label=_("Replicas"),
                                  help_text=_("Each on a different node."))
    slots = forms.IntegerField(min_value=1, max_value=256, label=_("Slots"),
                               help_text=_("Replies each replica writes at once."))
