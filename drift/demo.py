"""A tiny demo "order service" so the sample workflow works end to end on a fresh machine.

`load_samples` points the enum store's `oms.base_url` at `<api>/demo/oms`; the sample's HTTP node
then calls `/demo/oms/orders/<id>`. Even ids are DELIVERED, odd ones SHIPPED. Disabled with
DRIFT_DEMO_ENDPOINTS=false (the k8s ConfigMap does so).
"""

from django.http import Http404, JsonResponse
from django.views.decorators.http import require_GET


@require_GET
def demo_order(request, order_id: str) -> JsonResponse:
    try:
        number = int(order_id)
    except ValueError:
        number = sum(map(ord, order_id))
    return JsonResponse(
        {
            "id": order_id,
            "status": "DELIVERED" if number % 2 == 0 else "SHIPPED",
            "returnable": True,
            "items": [{"sku": f"SKU-{number % 1000:03d}", "quantity": 1}],
        }
    )


def demo_disabled(request, order_id: str):
    raise Http404("demo endpoints are disabled")
