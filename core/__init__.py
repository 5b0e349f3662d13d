"""Plain-Python foundations every layer may import: no Django, DRF, Temporal or Celery (see docs/architecture.md)."""
