"""The registry's admin forms. They only gather values: the services check them."""
from django import forms

from models_registry.models import Model

Kind = Model.SourceKind
# The field each kind of source cannot do without.
_SOURCE_FIELD = {Kind.HUGGINGFACE: "repo_id", Kind.URL: "url", Kind.LOCAL_FILE: "path",
                 Kind.REMOTE: "base_url"}
_REMOTE_BACKENDS = [(backend, backend.label) for backend in (
    Model.Backend.OPENAI, Model.Backend.OPENROUTER, Model.Backend.OLLAMA)]


class ModelSourceForm(forms.Form):
    """Where a new model comes from: a Hugging Face repo, an https URL, a path on the nodes,
    or a remote server (OpenAI-compatible, OpenRouter, Ollama)."""

    kind = forms.ChoiceField(
        choices=[(kind, kind.label) for kind in (Kind.HUGGINGFACE, Kind.URL, Kind.LOCAL_FILE,
                                                 Kind.REMOTE)],
        initial=Kind.HUGGINGFACE, widget=forms.RadioSelect, label="Source",
    )
    repo_id = forms.CharField(required=False, max_length=200, label="Repo id",
                              help_text="owner/name, e.g. bartowski/Qwen2.5-7B-Instruct-GGUF")
    revision = forms.CharField(required=False, max_length=100, initial="main",
                               label="Revision", help_text="A branch, tag or commit.")
    url = forms.CharField(required=False, max_length=500, label="URL",
                          help_text="https only, naming a .gguf file.")
    sha256 = forms.CharField(required=False, max_length=64, label="sha256 (optional)",
                             help_text="The pull checks the file against it.")
    path = forms.CharField(required=False, max_length=500, label="Path",
                           help_text="Absolute path of the .gguf file on the nodes' disks.")
    backend = forms.ChoiceField(choices=_REMOTE_BACKENDS, required=False, label="Protocol")
    base_url = forms.CharField(required=False, max_length=500, label="Base URL",
                               help_text="e.g. https://api.openai.com/v1, "
                                         "https://openrouter.ai/api/v1, http://gpu1:11434")
    remote_name = forms.CharField(required=False, max_length=200, label="Model there",
                                  help_text="The model's name on that server.")
    api_key_env = forms.CharField(required=False, max_length=100, label="Key variable",
                                  help_text="Name of the environment variable holding the key "
                                            "on the workers (e.g. OPENAI_API_KEY), never the "
                                            "key itself.")
    name = forms.CharField(required=False, max_length=200, label="Name (optional)",
                           help_text="For a URL or path; parsed from the file name when empty. "
                                     "For a repo, you pick the name in the next step.")

    def clean(self) -> dict:
        cleaned = super().clean()
        needed = _SOURCE_FIELD.get(cleaned.get("kind"))
        if needed and not cleaned.get(needed):
            self.add_error(needed, "Needed for this kind of source.")
        cleaned["revision"] = cleaned.get("revision") or "main"
        return cleaned


class HubChoiceForm(forms.Form):
    """One GGUF choice of a repo, named by its first file; the view lists the repo again."""

    repo_id = forms.CharField(max_length=200)
    revision = forms.CharField(max_length=100)
    first_path = forms.CharField(max_length=500)
    name = forms.CharField(required=False, max_length=200)


class DeployForm(forms.Form):
    replicas = forms.IntegerField(min_value=1, max_value=64, initial=1,
                                  help_text="Each on a different node.")
    slots = forms.IntegerField(min_value=1, max_value=256,
                               help_text="Replies each replica writes at once.")
