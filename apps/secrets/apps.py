from django.apps import AppConfig


class SecretsConfig(AppConfig):
    name = "apps.secrets"
    verbose_name = "Secrets and sensitive data"

    def ready(self) -> None:
        from apps.nodes.extensions import SecretStore, register_secret_store
        from apps.secrets.crypto import secrets_cipher
        from apps.secrets.selectors import secret_value
        from core.redaction import install_log_redaction

        install_log_redaction()
        # Node types resolve `{{secret:name}}` through this store (apps.nodes imports nothing from this app).
        # The cipher is looked up per call: it follows DRIFT_SECRET_KEYS as configured at that moment.
        register_secret_store(SecretStore(value=lambda tenant, name: secret_value(tenant=tenant, name=name),
                                          encrypt=lambda data: secrets_cipher().encrypt(data),
                                          decrypt=lambda token: secrets_cipher().decrypt(token)))
