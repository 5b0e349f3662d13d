"""Null-safe context access: `x.k` and `x["k"]`, Null absorbs, results come back as plain JSON."""

import pytest

from apps.nodes.nullsafe import DictView, ListView, Null, unwrap, wrap
from apps.nodes.sandbox import ScriptError, evaluate

CONTEXT = {
    "_global": {
        "order": {"id": 7, "status": "DELIVERED", "items": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 1}],
                  "note": None},
        "ask:viewResponse": {"selectedOptions": {"reason": "DAMAGED"}},
    },
    "_enum_store": {"oms": {"base_url": "https://oms.example"}},
    "nodeParameters": {"orderId": 7},
}


def run(source):
    return evaluate(source, CONTEXT)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("return _global.order.status", "DELIVERED"),
        ("return _global['order']['status']", "DELIVERED"),
        ("return _global.order['items'][1].sku", "b"),
        ("return _global['ask:viewResponse'].selectedOptions.reason", "DAMAGED"),
        ("return _enum_store.oms.base_url + '/orders/' + str(nodeParameters.orderId)", "https://oms.example/orders/7"),
        ("return _global.missing", None),
        ("return _global.missing.deeper['x'].y", None),
        ("return _global.missing == None", True),
        ("return bool(_global.missing)", False),
        ("return not _global.order.note", True),
        ("return _global.order.note == None", True),
        ("return _global.order['items'][5].sku", None),
        ("return _global.order.items", [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 1}]),
        ("return _global.order.get('nope', 'dflt')", "dflt"),
        ("return sorted(_global.order.keys())", ["id", "items", "note", "status"]),
        ("return [i.sku for i in _global.order['items'] if i.qty > 1]", ["a"]),
        ("return sum(i.qty for i in _global.order['items'])", 3),
        ("return len(_global.order['items'])", 2),
        ("return 'status' in _global.order", True),
        ("return {'o': _global.order.id, 'items': _global.order['items'][0:1]}",
         {"o": 7, "items": [{"sku": "a", "qty": 2}]}),
        ("d = dict(_global.order)\nd['extra'] = 1\nreturn d['extra'] + d['id']", 8),
        ("x = []\nfor i in _global.order['items']:\n    x.append(i)\nreturn x[0]", {"sku": "a", "qty": 2}),
        ("return isinstance(_global.order, dict) and isinstance(_global.order['items'], list)", True),
        ("return coalesce(_global.missing, _global.order.id)", 7),
        ("return get_path(_global, 'order.items.1.sku')", "b"),
        ("return get_path(_global, 'order.nothing.here', 'x')", "x"),
        ("return json.dumps(_global.order['items'][0], sort_keys=True)", '{"qty": 2, "sku": "a"}'),
        ("return json.loads('{\"a\": [1, 2]}')['a']", [1, 2]),
        ("return fmt('{}-{n}', _global.order.id, n=_global.order.status)", "7-DELIVERED"),
        ("return (1, 2)", [1, 2]),
        ("return to_iso(0)", "1970-01-01T00:00:00Z"),
        ("return add_seconds('2024-01-01T00:00:00Z', 60)", "2024-01-01T00:01:00Z"),
        ("return parse_datetime('2024-01-01T00:00:00Z')", "2024-01-01T00:00:00Z"),
        ("return math.floor(2.7) + math.ceil(0.2)", 3),
        ("return _global.order", CONTEXT["_global"]["order"]),
        ("return _global.missing", None),
    ],
)
def test_null_safe_semantics(source, expected):
    assert run(source) == expected


def test_now_iso_is_utc():
    assert run("return now_iso()").endswith("Z")


def test_non_json_result_is_an_error():
    with pytest.raises(ScriptError, match="not a JSON value"):
        run("return len")


def test_views_in_process():
    view = wrap({"a": {"b": [1, None]}})
    assert isinstance(view, DictView) and isinstance(view["a"]["b"], ListView)
    assert view["a"]["b"][1] is Null and view["x"]["y"] is Null and view.attribute("x") is Null
    assert Null == None and not Null and str(Null) == "None"  # noqa: E711 - the point of Null
    assert unwrap({"k": view["a"]}) == {"k": {"b": [1, None]}}
