"""Labels of the request metrics (rehsos.metrics)."""
from rehsos.metrics import NodeMetrics


def test_request_metrics_bound_their_labels_whatever_the_client_sends():
    node = NodeMetrics("6371", "amqp://127.0.0.1:1/none", is_hub=False)
    node.observe_request("BREW-A-NAME", "unmatched", 418, 0.01)
    node.observe_request("GET", "/api/v1/cases", 200, 0.02)
    assert node.registry.get_sample_value("rehsos_http_request_duration_seconds_count",
                                          {"method": "other", "route": "unmatched", "status": "4xx"}) == 1
    assert node.registry.get_sample_value("rehsos_http_request_duration_seconds_count",
                                          {"method": "GET", "route": "/api/v1/cases", "status": "2xx"}) == 1
