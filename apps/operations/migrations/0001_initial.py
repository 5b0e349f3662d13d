"""The run operations' models, moved from apps.runs (issue 20): created in this app's state only, on the tables
apps.runs made (runs 0006, 0009, 0010), which keep their names. Runs after runs 0015 removed them from its state.

The content types move too, so existing permissions (e.g. `view_schedule`, now `operations.view_schedule`), their
grants to users and groups, and the admin's history keep pointing at the same rows."""

import django.db.models.deletion
from django.db import migrations, models

MOVED = ("idempotencykey", "bulkjob", "bulkitem", "schedule")


def move_content_types(apps, schema_editor) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in MOVED:
        if not content_type.objects.using(db).filter(app_label="operations", model=model).exists():
            content_type.objects.using(db).filter(app_label="runs", model=model).update(app_label="operations")


def move_content_types_back(apps, schema_editor) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in MOVED:
        if not content_type.objects.using(db).filter(app_label="runs", model=model).exists():
            content_type.objects.using(db).filter(app_label="operations", model=model).update(app_label="runs")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("runs", "0015_move_operations_to_their_app"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
                migrations.CreateModel(
                    name='BulkJob',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('job_id', models.CharField(max_length=32, unique=True)),
                        ('tenant', models.CharField(db_index=True, max_length=64)),
                        ('op', models.CharField(choices=[('terminate', 'Terminate'), ('rerun', 'Rerun'), ('redrive', 'Redrive')], max_length=12)),
                        ('selection', models.JSONField(help_text='{"filter": {search keys}} or {"ids": [...]}, as requested.')),
                        ('options', models.JSONField(blank=True, default=dict, help_text='Terminate reason or redrive options.')),
                        ('state', models.CharField(choices=[('PENDING', 'Pending'), ('RUNNING', 'Running'), ('DONE', 'Done')], default='PENDING', max_length=10)),
                        ('total', models.PositiveIntegerField(default=0)),
                        ('created_by', models.CharField(blank=True, max_length=200)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('lease_until', models.DateTimeField(blank=True, null=True)),
                    ],
                    options={
                        'db_table': 'runs_bulkjob',
                        'ordering': ['-created_at'],
                    },
                ),
                migrations.CreateModel(
                    name='IdempotencyKey',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('tenant', models.CharField(max_length=64)),
                        ('client_id', models.CharField(max_length=64)),
                        ('key', models.CharField(max_length=200)),
                        ('body_hash', models.CharField(help_text='SHA-256 of the canonical JSON start body.', max_length=64)),
                        ('workflow_id', models.CharField(max_length=200)),
                        ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                    ],
                    options={
                        'db_table': 'runs_idempotencykey',
                        'constraints': [models.UniqueConstraint(fields=('tenant', 'client_id', 'key'), name='uniq_idempotency_key')],
                    },
                ),
                migrations.CreateModel(
                    name='Schedule',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('tenant', models.CharField(max_length=64)),
                        ('schedule_id', models.CharField(help_text='The id in the API (unique per tenant).', max_length=100)),
                        ('workflow_key', models.CharField(blank=True, help_text='Workflow definition id, or ...', max_length=200)),
                        ('issue_id', models.CharField(blank=True, help_text='... an issue routed to a workflow.', max_length=200)),
                        ('version', models.CharField(blank=True, help_text='Empty: resolved (ACTIVE) at each run.', max_length=20)),
                        ('cron', models.CharField(blank=True, max_length=200)),
                        ('interval_seconds', models.PositiveIntegerField(blank=True, null=True)),
                        ('start', models.JSONField(blank=True, default=dict, help_text='The start body each run gets.')),
                        ('overlap', models.CharField(choices=[('SKIP', 'Skip'), ('BUFFER_ONE', 'Buffer One'), ('ALLOW_ALL', 'Allow All')], default='SKIP', max_length=12)),
                        ('paused', models.BooleanField(default=False)),
                        ('client_id', models.CharField(blank=True, max_length=64)),
                        ('created_by', models.CharField(blank=True, max_length=200)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('synced_at', models.DateTimeField(blank=True, help_text='Last time Temporal matched this row.', null=True)),
                        ('sync_error', models.TextField(blank=True)),
                    ],
                    options={
                        'db_table': 'runs_schedule',
                        'ordering': ['tenant', 'schedule_id'],
                        'constraints': [models.UniqueConstraint(fields=('tenant', 'schedule_id'), name='uniq_schedule_id')],
                    },
                ),
                migrations.CreateModel(
                    name='BulkItem',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('workflow_id', models.CharField(max_length=200)),
                        ('state', models.CharField(choices=[('PENDING', 'Pending'), ('DONE', 'Done'), ('FAILED', 'Failed')], default='PENDING', max_length=8)),
                        ('result_workflow_id', models.CharField(blank=True, help_text='The run a rerun/redrive started.', max_length=200)),
                        ('error', models.TextField(blank=True)),
                        ('handled_at', models.DateTimeField(blank=True, null=True)),
                        ('job', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='items', to='operations.bulkjob')),
                    ],
                    options={
                        'db_table': 'runs_bulkitem',
                        'ordering': ['job', 'id'],
                        'indexes': [models.Index(fields=['job', 'state'], name='bulk_item_state')],
                        'constraints': [models.UniqueConstraint(fields=('job', 'workflow_id'), name='uniq_bulk_item')],
                    },
                ),
        ], database_operations=[]),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
