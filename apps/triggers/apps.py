from django.apps import AppConfig


class TriggersConfig(AppConfig):
    name = "apps.triggers"
    default_auto_field = "django.db.models.BigAutoField"
