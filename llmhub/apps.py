from django.apps import AppConfig


class LlmhubConfig(AppConfig):
    name = "llmhub"
    verbose_name = "llmhub"
