"""Development and operations tooling on top of the runtime kernel (``rehsos``): the ``rehsos``
command, the local province launcher, demo data and the broker's set-up through its management
API. No service imports it; it may import the kernel and, to run them, the services."""
