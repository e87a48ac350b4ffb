from django import forms
from django.contrib.auth.models import AbstractBaseUser

from models_registry.selectors import model_list_enabled, model_list_for_user


class _PickerSelect(forms.Select):
    # Deciding on the `required` attribute reads the first choice, which runs the models
    # query a second time on every page; with no empty choice it is never rendered anyway.
    def use_required_attribute(self, initial) -> bool:
        return False


class ConversationForm(forms.Form):
    model = forms.ModelChoiceField(queryset=model_list_enabled(), empty_label=None,
                                   widget=_PickerSelect)

    def __init__(self, *args, user: AbstractBaseUser | None = None, **kwargs) -> None:
        """Offers the models ``user`` may pick. Without a user it offers every enabled
        model, and conversation_create is left to refuse one outside the user's groups."""
        super().__init__(*args, **kwargs)
        if user is not None:
            self.fields["model"].queryset = model_list_for_user(user)
