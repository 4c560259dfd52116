"""The registry server: handlers (``service``), the store (``store``: ``database`` and one
module per thing it holds: ``profiles``, ``publications``, ``directory``, ``access``; with
``tables``, ``limits``, ``codes`` and ``search``), request checks (``protect``), mail
(``mail``), migrations (``migrations/versions``), and the ``serve``/``status`` commands
(``commands``, work in ``app``). Only ``commands`` is imported by the CLI group, and it
imports the rest inside the commands."""
