from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.core.validators import MaxValueValidator
from django.utils.translation import gettext_lazy as _

from chat.prompting import CONVERSATION_SETTINGS
from models_registry.badges import model_badges_text
from models_registry.selectors import model_list_enabled, model_list_for_user

SYSTEM_PROMPT_MAX_CHARS = 20_000
MIN_CONTEXT_LENGTH = 256


class _PickerSelect(forms.Select):
    # Deciding on the `required` attribute reads the first choice, which runs the models
    # query a second time on every page; with no empty choice it is never rendered anyway.
    def use_required_attribute(self, initial) -> bool:
        return False


class _ModelWithBadges(forms.ModelChoiceField):
    def label_from_instance(self, model) -> str:
        return f"{model.name} ({model_badges_text(model)})"


class ConversationForm(forms.Form):
    model = _ModelWithBadges(queryset=model_list_enabled(), empty_label=None,
                             widget=_PickerSelect, label=_("Model"))

    def __init__(self, *args, user: AbstractBaseUser | None = None, **kwargs) -> None:
        """Offers the models ``user`` may pick. Without a user it offers every enabled
        model, and conversation_create is left to refuse one outside the user's groups."""
        super().__init__(*args, **kwargs)
        if user is not None:
            self.fields["model"].queryset = model_list_for_user(user)


class ConversationSettingsForm(forms.Form):
    """A conversation's system prompt and sampling settings; a field left empty takes the
    model's default, shown as its placeholder."""

    system_prompt = forms.CharField(
        label=_("System prompt"), required=False, max_length=SYSTEM_PROMPT_MAX_CHARS,
        strip=True, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Instructions the model reads before the conversation."))
    temperature = forms.FloatField(
        label=_("Temperature"), required=False, min_value=0.0, max_value=2.0,
        help_text=_("0 always picks the likeliest word; higher is more varied."))
    top_p = forms.FloatField(
        label=_("Top p"), required=False, min_value=0.01, max_value=1.0,
        help_text=_("Pick only among the likeliest words whose probabilities add up to this."))
    max_tokens = forms.IntegerField(label=_("Max tokens"), required=False, min_value=1,
                                    help_text=_("The longest reply, in tokens."))
    seed = forms.IntegerField(
        label=_("Seed"), required=False, min_value=0, max_value=2**31 - 1,
        help_text=_("The same seed and settings give the same reply; empty is random."))
    context_length = forms.IntegerField(
        label=_("Context length"), required=False, min_value=MIN_CONTEXT_LENGTH,
        help_text=_("Tokens the model sees; the oldest turns are left out beyond it."))

    def __init__(self, *args, defaults: dict, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        limit = defaults["context_length"]
        for name in ("max_tokens", "context_length"):
            self.fields[name].max_value = limit
            self.fields[name].validators.append(MaxValueValidator(limit))
            self.fields[name].widget.attrs["max"] = limit
        for name, value in defaults.items():
            if value is not None:
                self.fields[name].widget.attrs["placeholder"] = value
        self.fields["seed"].widget.attrs["placeholder"] = _("random")

    def settings(self) -> dict:
        """The settings the user chose (left-empty ones omitted)."""
        return {name: self.cleaned_data[name] for name in CONVERSATION_SETTINGS
                if self.cleaned_data.get(name) is not None}
