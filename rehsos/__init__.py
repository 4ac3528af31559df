"""Rehsos Kalsel shared package: what the services share (contracts, outbox/inbox, config, auth,
reference data, HTTP plumbing) and the `rehsos` operator command."""
