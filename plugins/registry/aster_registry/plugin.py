"""Registers the registry family with the host. Imports nothing heavy."""

from aster_core.hookspecs import AddressResolver, CommandSpec, ConfigField, DoctorCheck, hookimpl

_HANDLES = "aster_registry.client.commands_handles"
_PUBLICATION = "aster_registry.client.commands_publication"


@hookimpl
def aster_commands():
    return [
        CommandSpec("registry", "Run a registry server (serve) and inspect it (status).", "aster_registry.cli:registry"),
        CommandSpec("join", "Claim a handle on the registry (a code is mailed to you).", f"{_HANDLES}:join"),
        CommandSpec("verify", "Finish registration with the mailed code (or --resend it).", f"{_HANDLES}:verify"),
        CommandSpec("whoami", "Your handle: local state and the registry's view of your key.", f"{_HANDLES}:whoami"),
        CommandSpec("status", "Same as whoami.", f"{_HANDLES}:status"),
        CommandSpec("recover", "Bind your handle to a new root key with a recovery code.", f"{_HANDLES}:recover"),
        CommandSpec("publish", "Publish a service under your handle; stores its producer token.",
                    f"{_PUBLICATION}:publish"),
        CommandSpec("unpublish", "Withdraw a published service.", f"{_PUBLICATION}:unpublish"),
        CommandSpec("update-service", "Change a published service's description, status or replacement.",
                    f"{_PUBLICATION}:update_service"),
        CommandSpec("visibility", "Make a published service public or private.", f"{_PUBLICATION}:visibility"),
        CommandSpec("discover", "Search the registry's published services.", f"{_PUBLICATION}:discover"),
        CommandSpec("access", "Grants, delegation and visibility of your published services.",
                    "aster_registry.client.commands_access:access"),
    ]


@hookimpl
def aster_config_fields():
    return [
        ConfigField("aster_service.node_id", "Address of the registry (aster1... ticket); ASTER_SERVICE_ADDR overrides.",
                    env="ASTER_SERVICE_ADDR", section="aster_service", key="node_id", default="",
                    check="aster_registry.client.login:check_address"),
        ConfigField("aster_service.enabled", "Whether registry commands may use the configured address.",
                    section="aster_service", key="enabled", default=True),
    ]


@hookimpl
def aster_doctor_checks():
    return [DoctorCheck("registry", "aster_registry.client.checks:check_registry", ("registry",))]


@hookimpl
def aster_address_resolvers():
    return [AddressResolver("@", "@handle/Service: a service published in a registry",
                            "aster_registry.client.resolve:Resolver")]
