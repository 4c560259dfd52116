"""The registry server: services (``service``), storage (``store``), mail (``mail``),
request checks (``protect``), migrations (``migrations/versions``), and the ``serve``/``status``
commands (``commands``). Only ``commands`` is imported by the CLI group, and it imports the
rest inside the commands."""
