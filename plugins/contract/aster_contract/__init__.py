"""`aster contract`: contract manifests, identity, export/import/verify, diff, typed clients.

Library entry points (importable without click):

- :func:`aster_contract.manifest.build_manifests` / :func:`load_contract_file`
- :func:`aster_contract.export.export_manifest`, :func:`aster_contract.store.import_contract`,
  :func:`aster_contract.export.verify_export`
- :func:`aster_contract.diff.diff_contracts` (used by deployment plans)
- :func:`aster_contract.live.fetch_manifests` (manifests a live producer publishes, via aster-connect)
- :func:`aster_contract.codegen_python.generate`, :func:`aster_contract.codegen_typescript.generate`
"""

__version__ = "0.1.0"
