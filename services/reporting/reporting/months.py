"""Moved to rehsos.clock (the one month helper); kept so that reporting.pages still imports."""
from rehsos.clock import WITA, add_months as shift, current_month as current, month_of, month_start as start, months_between as between, months_count as count  # noqa: F401,E501
