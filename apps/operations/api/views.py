"""Run operations API (spec §10): redrive, bulk jobs, schedules. Thin views over this app's services and
selectors; the routes sit under /v3/ beside the runtime API's (drift/urls.py)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.operations import schedules
from apps.operations.api import serializers as ops
from apps.operations.bulk import bulk_job_create
from apps.operations.redrive import run_redrive
from apps.operations.selectors import bulk_job_get, bulk_job_progress
from apps.runs import selectors
from apps.runs.api.serializers import RunDetailSerializer
from apps.runs.api.views import ERRORS, HEADERS, START_RUN, TERMINATE_RUN, VIEW_RUN, RuntimeView
from drift.api import validated_object
from drift.errors import InvalidInput, Problem

VIEW_SCHEDULE, CHANGE_SCHEDULE = ("operations.view_schedule",), ("operations.change_schedule",)

class RedriveView(RuntimeView):
    permission_map = {"POST": START_RUN}

    @extend_schema(summary="Redrive a FAILED or TERMINATED run as a new run (§10)", request=ops.RedriveSerializer,
                   parameters=HEADERS, responses={202: RunDetailSerializer, **ERRORS})
    def post(self, request: Request, workflow_id: str) -> Response:
        body = validated_object(ops.RedriveSerializer, request.data)
        run = selectors.run_get(tenant=self.principal.tenant, workflow_id=workflow_id)
        new_run = run_redrive(run=run, actor=f"api:{self.principal.client_id}/{self.principal.username}",
                              from_node=body.get("fromNode"), context_patch=body.get("contextPatch"),
                              version=body.get("version"))
        return Response(selectors.run_detail(new_run), status=status.HTTP_202_ACCEPTED)


class BulkStartView(RuntimeView):
    permission_map = {"POST terminate": TERMINATE_RUN, "POST rerun": START_RUN, "POST redrive": START_RUN}
    permission_operation = "op"

    @extend_schema(summary="Start a bulk terminate / rerun / redrive job (§10)", request=ops.BulkSerializer,
                   parameters=HEADERS, responses={202: ops.BulkJobCreatedSerializer, **ERRORS})
    def post(self, request: Request, op: str) -> Response:
        body = validated_object(ops.BulkSerializer, request.data, op=op)
        selection = {key: body[key] for key in ("filter", "ids") if key in body}
        options = {key: value for key, value in body.items() if key not in selection}
        job = bulk_job_create(tenant=self.principal.tenant, op=op, selection=selection, options=options,
                              actor=f"api:{self.principal.client_id}/{self.principal.username}")
        return Response({"jobId": job.job_id}, status=status.HTTP_202_ACCEPTED)


class BulkJobView(RuntimeView):
    permission_map = {"GET": VIEW_RUN}

    @extend_schema(summary="Progress and per-run failures of a bulk job (§10)", parameters=HEADERS,
                   responses={200: ops.BulkProgressSerializer, **ERRORS})
    def get(self, request: Request, job_id: str) -> Response:
        job = bulk_job_get(tenant=self.principal.tenant, job_id=job_id)
        return Response(bulk_job_progress(job))


class ScheduleListView(RuntimeView):
    permission_map = {"GET": VIEW_SCHEDULE, "POST": ("operations.add_schedule",)}

    @extend_schema(summary="The tenant's schedules (§10)", parameters=HEADERS,
                   responses={200: ops.ScheduleViewSerializer(many=True), **ERRORS})
    def get(self, request: Request) -> Response:
        return Response([schedules.schedule_view(row) for row in schedules.schedule_list(tenant=self.principal.tenant)])

    @extend_schema(summary="Create a schedule, carried out by a Temporal Schedule (§10)",
                   request=ops.ScheduleSerializer, parameters=HEADERS,
                   responses={201: ops.ScheduleViewSerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        body = validated_object(ops.ScheduleSerializer, request.data)
        if "id" not in body:
            raise InvalidInput("A schedule needs an id.", [Problem("$.id", "is required")])
        row = schedules.schedule_save(tenant=self.principal.tenant, schedule_id=body["id"], create=True,
                                      fields=ops.ScheduleSerializer.model_fields(body),
                                      client_id=self.principal.client_id, actor=self.principal.username)
        return Response(schedules.schedule_view(row), status=status.HTTP_201_CREATED)


class ScheduleDetailView(RuntimeView):
    permission_map = {"GET": VIEW_SCHEDULE, "PUT": CHANGE_SCHEDULE, "DELETE": ("operations.delete_schedule",)}

    @extend_schema(summary="One schedule (§10)", parameters=HEADERS,
                   responses={200: ops.ScheduleViewSerializer, **ERRORS})
    def get(self, request: Request, schedule_id: str) -> Response:
        row = schedules.schedule_get(tenant=self.principal.tenant, schedule_id=schedule_id)
        return Response(schedules.schedule_view(row))

    @extend_schema(summary="Replace a schedule; Temporal's follows (§10)", request=ops.ScheduleSerializer,
                   parameters=HEADERS, responses={200: ops.ScheduleViewSerializer, **ERRORS})
    def put(self, request: Request, schedule_id: str) -> Response:
        body = validated_object(ops.ScheduleSerializer, request.data)
        if body.get("id", schedule_id) != schedule_id:
            raise InvalidInput("The body's id differs from the URL's.", [Problem("$.id", "must match the URL")])
        row = schedules.schedule_save(tenant=self.principal.tenant, schedule_id=schedule_id, create=False,
                                      fields=ops.ScheduleSerializer.model_fields(body),
                                      client_id=self.principal.client_id, actor=self.principal.username)
        return Response(schedules.schedule_view(row))

    @extend_schema(summary="Delete a schedule, and Temporal's (§10)", parameters=HEADERS,
                   responses={204: None, **ERRORS})
    def delete(self, request: Request, schedule_id: str) -> Response:
        schedules.schedule_delete(schedules.schedule_get(tenant=self.principal.tenant, schedule_id=schedule_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ScheduleActionView(RuntimeView):
    permission_map = {"POST pause": CHANGE_SCHEDULE, "POST resume": CHANGE_SCHEDULE,
                      # Trigger and backfill start runs now: the schedule's right and the run's.
                      "POST trigger": CHANGE_SCHEDULE + START_RUN, "POST backfill": CHANGE_SCHEDULE + START_RUN}
    permission_operation = "action"

    @extend_schema(summary="Pause, resume, trigger now, or backfill a schedule (§10)", parameters=HEADERS,
                   request=ops.BackfillSerializer, responses={200: ops.ScheduleViewSerializer, **ERRORS},
                   description="`backfill` takes `{startAt, endAt}`; the others take no body.")
    def post(self, request: Request, schedule_id: str, action: str) -> Response:
        row = schedules.schedule_get(tenant=self.principal.tenant, schedule_id=schedule_id)
        if action in ("pause", "resume"):
            row = schedules.schedule_set_paused(row, action == "pause")
        elif action == "trigger":
            schedules.schedule_trigger(row)
        else:
            body = validated_object(ops.BackfillSerializer, request.data)
            schedules.schedule_backfill(row, start_at=body["startAt"], end_at=body["endAt"])
        return Response(schedules.schedule_view(row))
