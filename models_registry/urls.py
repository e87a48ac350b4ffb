from django.urls import path

from models_registry import views

app_name = "models_registry"
urlpatterns = [
    path("", views.model_list, name="list"),
    path("<int:model_id>/", views.model_card, name="card"),
]
