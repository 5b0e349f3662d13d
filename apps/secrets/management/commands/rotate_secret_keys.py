from django.core.management.base import BaseCommand

from apps.secrets.services import secrets_rotate


class Command(BaseCommand):
    help = ("Re-encrypt every secret under the first DRIFT_SECRET_KEYS key. Put the new key first, deploy, run "
            "this, then drop the old key: old keys keep decrypting until then, so nothing stops meanwhile.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, batch_size: int, **options) -> None:
        rotated = secrets_rotate(batch_size=batch_size)
        self.stdout.write(self.style.SUCCESS(f"{rotated} secrets re-encrypted under the current key"))
