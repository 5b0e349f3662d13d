"""IdempotencyKey, BulkJob, BulkItem and Schedule moved to apps.operations (issue 20): removed from this app's
state only. Their tables stay as they are (apps.operations names them with `db_table`); no row moves."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("runs", "0014_admission_queue"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
                migrations.RemoveField(
                    model_name='bulkitem',
                    name='job',
                ),
                migrations.DeleteModel(
                    name='IdempotencyKey',
                ),
                migrations.DeleteModel(
                    name='Schedule',
                ),
                migrations.DeleteModel(
                    name='BulkItem',
                ),
                migrations.DeleteModel(
                    name='BulkJob',
                ),
        ], database_operations=[]),
    ]
