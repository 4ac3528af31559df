"""Reporting (*pelaporan*): the provincial hub's read models, built from the nodes' events."""
