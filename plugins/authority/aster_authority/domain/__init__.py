"""The authority's rules, pure: no storage, no network, no clock.

- :mod:`.errors`: :class:`~.errors.Refusal` (what every rule raises) and the generic input checks
  (choices, reasons and acknowledgements);
- :mod:`.ids`: ULIDs, instance ids, deployment ids, role names, namespace patterns;
- :mod:`.plans`: deployments and the plan state machine (propose, accept, reject, disable);
- :mod:`.classify`: a proposal's digest and its classification (update or migration);
- :mod:`.devices`: device keys, bundles and proofs, the activation and review state machines;
- :mod:`.grants`: what adding or removing a consumer's roles changes;
- :mod:`.credentials`: the credential policy: what reconcile and provisioning must sign,
  and whether an uploaded credential is exactly that.
- :mod:`.decisions`: decision records (the signed, hash-chained record of every change that
  alters what reconcile signs): making, signing and verifying them;
- :mod:`.replay`: the state machine that replays a chain into the state the credential policy
  reads (one for the server and the client).
- :mod:`.bodies`: what each decision's body holds, built by one function for the CLI that
  signs it and the authority that checks it.

Every function takes the current values (``now`` in epoch seconds, fresh ids made by the
caller) and returns new values or raises a Refusal. The server runs each call inside one
transaction and writes what it returns, so what is decided here is what is committed.
"""
