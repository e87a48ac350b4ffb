from django.urls import path

from models_registry import views

app_name = "models_registry"
urlpatterns = [
    path("", views.model_list, name="list"),
    path("add/", views.model_add, name="add"),
    path("cluster/", views.cluster_overview, name="cluster"),
    path("<int:model_id>/", views.model_card, name="card"),
    path("<int:model_id>/deploy/", views.model_deploy_submit, name="deploy"),
    path("<int:model_id>/undeploy/", views.model_undeploy_submit, name="undeploy"),
    path("<int:model_id>/delete/", views.model_delete_submit, name="delete"),
]
