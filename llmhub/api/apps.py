from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "llmhub.api"
    label = "api"
    verbose_name = "API keys and usage"
