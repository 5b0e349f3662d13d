"""Create the HBase context store table (`WorkflowContextHB`, family `main`) if absent."""

from django.core.management.base import BaseCommand

from apps.runs.context_store.hbase import TABLE, HBaseContextStore, create_table


class Command(BaseCommand):
    help = "Create the HBase context store table if it does not exist (idempotent)."

    def handle(self, *args, **options) -> None:
        connection = HBaseContextStore.from_settings().connection()
        try:
            created = create_table(connection)
        finally:
            connection.close()
        self.stdout.write(f"{TABLE} {'created' if created else 'already exists'}")
