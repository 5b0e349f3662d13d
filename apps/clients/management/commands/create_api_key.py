from django.core.management.base import BaseCommand, CommandError

from apps.clients.services import api_key_create
from drift.errors import DriftError


class Command(BaseCommand):
    help = ("Create an API key for a tenant's client and print it (only its hash is stored), then the client's "
            "webhook signing secret (HMAC-SHA256 key of X-Drift-Signature).")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--client", required=True)
        parser.add_argument("--scopes", default="runtime,definitions", help="comma separated")

    def handle(self, *args, **options) -> None:
        scopes = [s.strip() for s in options["scopes"].split(",") if s.strip()]
        try:
            key, raw_key = api_key_create(tenant=options["tenant"], client_id=options["client"], scopes=scopes)
        except DriftError as exc:
            raise CommandError(f"{exc.message} {[p.as_dict() for p in exc.details]}") from exc
        self.stdout.write(raw_key)  # alone on the first line, for scripts
        self.stdout.write(f"webhook secret: {key.client.webhook_secret}")
        self.stdout.write("Keep both now: the key is not shown again; rotate the webhook secret with "
                          "POST /v3/client/webhook/rotate-secret.")
