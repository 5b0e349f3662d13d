"""Run webhooks (spec §3.7): `delivery` builds and records each delivery, `slots` bounds how many Celery
processes slow receivers hold. The Celery tasks that send them are in apps/runs/tasks.py."""
