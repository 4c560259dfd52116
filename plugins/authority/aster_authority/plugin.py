"""Registers the ``svc``, ``dev``, ``grants`` and ``authority`` commands with the host. Imports nothing heavy."""

from aster_core.hookspecs import CommandSpec, ConfigField, DoctorCheck, hookimpl


@hookimpl
def aster_commands():
    return [
        CommandSpec("svc", "Service deployments: reviewed authority plans, instances, reconcile.",
                    "aster_authority.cli.svc:svc"),
        CommandSpec("dev", "Device deployments: provisioning, activation, reviews, revocation.",
                    "aster_authority.cli.dev:dev"),
        CommandSpec("grants", "Deployment grants: which consumers get which roles.",
                    "aster_authority.cli.grants:grants"),
        CommandSpec("authority", "Run the deployment authority, fetch a node's credentials, check it.",
                    "aster_authority.cli.authority:authority"),
    ]


@hookimpl
def aster_config_fields():
    return [
        ConfigField("authority.address", "Address of the deployment authority (aster1... ticket).",
                    env="ASTER_AUTHORITY_ADDR", section="authority", key="address",
                    check="aster_authority.client.login:check_address"),
        ConfigField("authority.credential", "Admin credential presented to the authority (--rcan).",
                    env="ASTER_AUTHORITY_CREDENTIAL", section="authority", key="credential", secret=True,
                    check="aster_authority.client.login:check_credential"),
        ConfigField("authority.timeout", "How long to wait for the authority to connect and answer each call.",
                    env="ASTER_AUTHORITY_TIMEOUT", section="authority", key="timeout", default="20s",
                    check="aster_authority.client.login:check_timeout"),
        ConfigField("authority.max_credential_ttl", "Longest lifetime reconcile and provisioning sign, whatever the "
                    "authority asks.", env="ASTER_AUTHORITY_MAX_CREDENTIAL_TTL", section="authority",
                    key="max_credential_ttl", default="30d",
                    check="aster_authority.client.settings:check_max_credential_ttl"),
    ]


@hookimpl
def aster_doctor_checks():
    return [DoctorCheck("authority", "aster_authority.client.checks:check_authority", ("authority",))]
