"""``rehsos reliability``: proves, with figures, that nothing is lost under any fault and nobody
gets in where they don't belong (issue 11). See :mod:`rehsos_tools.reliability.run`."""
