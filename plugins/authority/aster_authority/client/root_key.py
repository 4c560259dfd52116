"""The mesh root key a signing command uses, checked against the root the authority trusts.

Its own module because both signing flows (credentials in ``signing``, the checkpoint record
in ``checkpoint``) need it and neither belongs to the other.
"""

from __future__ import annotations

from typing import Any

from aster_core.errors import AsterError, ExitCode


def root_for(expected_hex: str, root_key_file: str | None, profile: str | None) -> Any:
    from aster_trust.keys import resolve_root_key

    root, source = resolve_root_key(root_key_file, profile)
    if root.public_hex != expected_hex:
        raise AsterError(f"the root key from {source} ({root.public_hex[:16]}...) is not the mesh root the authority "
                         f"trusts ({expected_hex[:16]}...)",
                         "sign with the mesh's root key: --root-key FILE or --profile NAME", exit_code=ExitCode.DENIED)
    return root
