"""Plugin module of the connect family: declares commands only, imports nothing heavy."""

from aster_core.hookspecs import CommandSpec, ConfigField, hookimpl


@hookimpl
def aster_commands():
    return [
        CommandSpec("call", "Call a method of a live service and print the result as JSON.",
                    "aster_connect.cli:call"),
        CommandSpec("shell", "Explore and call the services of a live peer interactively.",
                    "aster_connect.cli:shell"),
    ]


@hookimpl
def aster_config_fields():
    return [
        ConfigField("manifest_timeout", "Seconds allowed for reading published manifests (method schemas).",
                    env="ASTER_MANIFEST_TIMEOUT", default=10.0),
        ConfigField("manifest_cache", "Keep read manifests by contract id (off/0/no/false: never).",
                    env="ASTER_MANIFEST_CACHE", default="on"),
        ConfigField("manifest_cache_dir", "Where read manifests are kept.",
                    env="ASTER_MANIFEST_CACHE_DIR", default="<home>/cache/manifests"),
    ]
