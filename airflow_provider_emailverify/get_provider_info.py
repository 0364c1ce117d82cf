# Licensed under the Apache License, Version 2.0.
"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any

_PKG = "airflow_provider_emailverify"

#: conn_type -> (hook class, display name). The connection form comes from each hook class.
_CONNECTIONS: dict[str, tuple[str, str]] = {
    "neverbounce": (f"{_PKG}.hooks.neverbounce.NeverBounceHook", "NeverBounce"),
    "neverbounce_v3": (f"{_PKG}.hooks.neverbounce.NeverBounceV3Hook", "NeverBounce v3 (deprecated)"),
    "bouncer": (f"{_PKG}.hooks.bouncer.BouncerHook", "Bouncer"),
    "bouncify": (f"{_PKG}.hooks.bouncify.BouncifyHook", "Bouncify"),
    "emailverifierapp": (f"{_PKG}.hooks.emailverifierapp.EmailVerifierAppHook", "Email Verifier App"),
}


def _connection_type(conn_type: str, hook_class: str, name: str) -> dict[str, Any]:
    from importlib import import_module

    from airflow_provider_emailverify.hooks.base import COMMON_EXTRAS

    module, _, cls_name = hook_class.rpartition(".")
    hook = getattr(import_module(module), cls_name)
    return {
        "hook-class-name": hook_class,
        "hook-name": name,
        "connection-type": conn_type,
        "ui-field-behaviour": hook.get_ui_field_behaviour(),
        "conn-fields": {**COMMON_EXTRAS, **hook.extra_fields},
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
            _connection_type(conn_type, hook_class, name) for conn_type, (hook_class, name) in _CONNECTIONS.items()
        ],
    }
