"""The hand-written Temporal baseline: the same steps as Drift's 10-SCRIPT chain, as local activities."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

STEPS = 10


@activity.defn(name="bench_step")
def bench_step(previous: int, step: int) -> int:
    """The same arithmetic as each SCRIPT node of the Drift chain."""
    return previous * 2 + step


@workflow.defn(name="BaselineChain")
class BaselineChain:
    @workflow.run
    async def run(self, start: int) -> dict:
        value = start
        outputs = {}
        for step in range(STEPS):
            value = await workflow.execute_local_activity(
                "bench_step", args=[value, step], start_to_close_timeout=timedelta(seconds=30)
            )
            outputs[f"s{step}"] = value
        return {"status": "COMPLETED", "output": outputs}


# --------------------------------------------------------------------------- the sample flow, by hand


@activity.defn(name="baseline_get_order")
def baseline_get_order(url: str) -> dict:
    """The sample's HTTP node: GET the order and keep status and returnable."""
    import requests

    order = requests.get(url, headers={"Accept": "application/json"}, timeout=10).json()
    return {"status": order["status"], "returnable": bool(order["returnable"])}


@workflow.defn(name="BaselineOrderStatus")
class BaselineOrderStatus:
    """order_status written directly against Temporal: fetch, decide, ask for a reason or show the status."""

    def __init__(self) -> None:
        self.status = "RUNNING"
        self.view: dict | None = None
        self.reply: dict | None = None

    @workflow.run
    async def run(self, url: str) -> dict:
        order = await workflow.execute_activity(
            "baseline_get_order", url, start_to_close_timeout=timedelta(seconds=30)
        )
        if order["status"] == "DELIVERED" and order["returnable"]:
            self.view = {"layoutId": "return_form", "inputOptions": [{"id": "reason"}, {"id": "submit"}]}
            self.status = "WAITING"
            await workflow.wait_condition(lambda: self.reply is not None)
            self.view = None
        else:
            self.view = {"layoutId": None, "inputOptions": [{"id": "status"}]}
        self.status = "COMPLETED"
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state()

    def _state(self) -> dict:
        return {"workflowId": workflow.info().workflow_id, "workflowStatus": self.status, "view": self.view}

    @workflow.update
    async def wait_stable(self) -> dict:
        await workflow.wait_condition(lambda: self.status in ("WAITING", "COMPLETED"))
        return self._state()

    @workflow.update
    async def resume(self, reply: dict) -> dict:
        self.reply = reply
        await workflow.wait_condition(lambda: self.status == "COMPLETED")
        return self._state()


# --------------------------------------------------------------------------- MAP, by hand


@workflow.defn(name="BaselineMap")
class BaselineMap:
    """A hand-written fan-out: the same iterator child runs as a Drift MAP state, `concurrency` at once, results
    in item order. `spec`: {"tenant", "workflowKey", "items", "concurrency", "taskQueue"}."""

    def __init__(self) -> None:
        self.running = 0

    @workflow.run
    async def run(self, spec: dict) -> dict:
        import asyncio

        results: list = [None] * len(spec["items"])

        async def one(index: int, item: object) -> None:
            try:
                result = await workflow.execute_child_workflow(
                    "DriftWorkflow",
                    {"tenant": spec["tenant"], "workflow_key": spec["workflowKey"],
                     "start": {"params": {"item": item, "index": index}}},
                    id=f"{workflow.info().workflow_id}.{index}", task_queue=spec["taskQueue"], result_type=dict,
                )
                results[index] = result.get("output")
            finally:
                self.running -= 1

        tasks = []
        for index, item in enumerate(spec["items"]):
            await workflow.wait_condition(lambda: self.running < spec["concurrency"])
            self.running += 1
            tasks.append(asyncio.ensure_future(one(index, item)))
        await asyncio.gather(*tasks)
        return {"results": results}


# --------------------------------------------------------------------------- a large context, by hand


@activity.defn(name="baseline_fetch_line")
def baseline_fetch_line(context: dict, url: str, index: int) -> dict:
    """The payload benchmark's HTTP node: the whole context comes in (as most hand-written workflows pass it)."""
    import requests

    line = context["orderDetails"]["lines"][index]
    return requests.get(url, params={"i": index, "sku": line["sku"]}, timeout=10).json()


@workflow.defn(name="BaselinePayload")
class BaselinePayload:
    """`nodes` activities, each handed the whole context and adding its small result to it."""

    @workflow.run
    async def run(self, spec: dict) -> dict:
        context = {"orderDetails": spec["orderDetails"]}
        for index in range(spec["nodes"]):
            context[f"n{index}"] = await workflow.execute_activity(
                "baseline_fetch_line", args=[context, spec["url"], index % len(spec["orderDetails"]["lines"])],
                start_to_close_timeout=timedelta(seconds=30),
            )
        return {"status": "COMPLETED", "nodes": spec["nodes"]}
