from django.urls import re_path

from apps.trials.api import views

urlpatterns = [
    re_path(r"^nodeDefinition/(?P<key>[^/]+)/dryRun/?$", views.NodeDryRunView.as_view(), name="node-dry-run"),
    re_path(r"^workflowDefinition/(?P<key>[^/]+)/test/?$", views.WorkflowTestView.as_view(), name="workflow-test"),
]
