from datetime import datetime, timedelta

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from models_registry.models import Model
from models_registry.selectors import model_list_for_user


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, required=False, label=_("Name"),
                           help_text=_("To tell your keys apart, e.g. the program that uses it."))
    expires_in_days = forms.IntegerField(
        min_value=1, max_value=3650, required=False, label=_("Expires in (days)"),
        help_text=_("Empty: it never expires."))
    allowed_models = forms.ModelMultipleChoiceField(
        queryset=Model.objects.none(), required=False, to_field_name="name",
        widget=forms.CheckboxSelectMultiple, label=_("Allowed models"),
        help_text=_("None ticked: every model you may use, now and later."))

    def __init__(self, *args, user: AbstractBaseUser, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["allowed_models"].queryset = model_list_for_user(user)

    def expires_at(self) -> datetime | None:
        days = self.cleaned_data["expires_in_days"]
        return timezone.now() + timedelta(days=days) if days else None

    def allowed_model_names(self) -> list[str]:
        return [model.name for model in self.cleaned_data["allowed_models"]]
