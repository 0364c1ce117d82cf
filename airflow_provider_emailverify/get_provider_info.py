# Licensed under the Apache License, Version 2.0.
"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any

_PKG = "airflow_provider_emailverify"

#: conn_type -> (hook class, client class, display name). Only the client modules are imported
#: here: they describe the connection form and import no Airflow, so Airflow's provider discovery
#: can call this while Airflow itself is still importing.
_CONNECTIONS: dict[str, tuple[str, str, str]] = {
    "neverbounce": (
        f"{_PKG}.hooks.neverbounce.NeverBounceHook", f"{_PKG}.clients.neverbounce.NeverBounceClient", "NeverBounce"
    ),
    "neverbounce_v3": (
        f"{_PKG}.hooks.neverbounce.NeverBounceV3Hook",
        f"{_PKG}.clients.neverbounce_v3.NeverBounceV3Client",
        "NeverBounce v3 (deprecated)",
    ),
    "bouncer": (f"{_PKG}.hooks.bouncer.BouncerHook", f"{_PKG}.clients.bouncer.BouncerClient", "Bouncer"),
    "bouncify": (f"{_PKG}.hooks.bouncify.BouncifyHook", f"{_PKG}.clients.bouncify.BouncifyClient", "Bouncify"),
    "emailverifierapp": (
        f"{_PKG}.hooks.emailverifierapp.EmailVerifierAppHook",
        f"{_PKG}.clients.emailverifierapp.EmailVerifierAppClient",
        "Email Verifier App",
    ),
}


def _load(path: str) -> Any:
    from importlib import import_module

    module, _, name = path.rpartition(".")
    return getattr(import_module(module), name)


def ui_field_behaviour(client: Any) -> dict[str, Any]:
    """The connection form's field behaviour for a vendor client class."""
    relabeling = {"password": client.password_label, "host": "Base URL (optional)"}
    if client.login_label:
        relabeling["login"] = client.login_label
    return {
        "hidden-fields": ["schema", "port"] + ([] if client.login_label else ["login"]),
        "relabeling": relabeling,
        "placeholders": {"host": client.default_base_url},
    }


def _connection_type(conn_type: str, hook_class: str, client_class: str, name: str) -> dict[str, Any]:
    from airflow_provider_emailverify.clients.base import COMMON_EXTRAS

    client = _load(client_class)
    return {
        "hook-class-name": hook_class,
        "hook-name": name,
        "connection-type": conn_type,
        "ui-field-behaviour": ui_field_behaviour(client),
        "conn-fields": {**COMMON_EXTRAS, **client.connection_extras},
    }


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-emailverify",
        "name": "Email Verification",
        "description": "Verify email lists with NeverBounce, Bouncer, Bouncify and Email Verifier App.",
        "versions": ["0.1.0"],
        "integrations": [
            {
                "integration-name": "Email Verification",
                "external-doc-url": "https://github.com/airflow-provider-emailverify",
                "tags": ["service"],
            }
        ],
        "operators": [
            {"integration-name": "Email Verification", "python-modules": [f"{_PKG}.operators.verify"]}
        ],
        "sensors": [{"integration-name": "Email Verification", "python-modules": [f"{_PKG}.sensors.job"]}],
        "triggers": [{"integration-name": "Email Verification", "python-modules": [f"{_PKG}.triggers.job"]}],
        "hooks": [
            {
                "integration-name": "Email Verification",
                "python-modules": [
                    f"{_PKG}.hooks.base",
                    f"{_PKG}.hooks.neverbounce",
                    f"{_PKG}.hooks.bouncer",
                    f"{_PKG}.hooks.bouncify",
                    f"{_PKG}.hooks.emailverifierapp",
                ],
            }
        ],
        "transfers": [
            {
                "source-integration-name": "Email Verification",
                "target-integration-name": "Amazon Simple Storage Service (S3)",
                "python-module": f"{_PKG}.transfers.results_to_s3",
            },
            {
                "source-integration-name": "Email Verification",
                "target-integration-name": "Common SQL",
                "python-module": f"{_PKG}.transfers.results_to_sql",
            },
        ],
        "extra-links": [f"{_PKG}.links.EmailVerificationJobLink"],
        "connection-types": [
            _connection_type(conn_type, *entry) for conn_type, entry in _CONNECTIONS.items()
        ],
    }
