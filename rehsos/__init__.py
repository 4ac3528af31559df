"""Rehsos Kalsel runtime kernel: what every service process imports (registry of services,
event contracts, outbox and consumers, database and unit of work, the ``@api`` entry points,
auth, configuration, reference data, privacy). It imports no service and no tooling
(``rehsos_tools``); ``tests/domain/test_architecture.py`` holds it to that."""
