"""Training's domain, by sub-domain: ``events`` (details, quotas, agenda, status), ``participants``
(registration, quota and waitlist), ``invitations`` (events of other nodes, nominations sent and
received), ``attendance`` (check-in, offline batches), ``learning`` (scores, feedback, gains),
``completion`` (the rule, certificates, verification), ``materials``. Plain functions on a unit
of work; no nameko, HTTP or broker here."""
