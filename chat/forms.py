from django import forms

from models_registry.selectors import model_list_enabled


class ConversationForm(forms.Form):
    model = forms.ModelChoiceField(queryset=model_list_enabled(), empty_label=None)
