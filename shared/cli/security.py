"""`pn token create|list` (HTTP API tokens) and `pn acl` (Kafka ACLs of the secure profile)."""

from __future__ import annotations

import json

import click

from shared.cli.common import json_option


@click.group()
def token() -> None:
    """Issue and list HTTP API tokens (salted hashes in PN_TOKENS_FILE / PN_TOKENS)."""


@token.command("create")
@click.option("--role", required=True, type=click.Choice(("submitter", "officer", "ops")))
@click.option("--name", required=True, help="the client's name, shown in audit events (e.g. case-system)")
def token_create(role: str, name: str) -> None:
    """Print a new token once, and the line to add to the token file."""
    from shared.web.auth import TokenConfigError, new_token

    try:
        secret, entry = new_token(name, role)
    except TokenConfigError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"token (shown once; give it to {name}, store it in its secret store): {secret}")
    click.echo("add this line to the token file (PN_TOKENS_FILE) of every service it calls, then restart them:")
    click.echo(entry.line())


@token.command("list")
@json_option
def token_list(as_json: bool) -> None:
    """Names and roles of the configured tokens (never the secrets or hashes)."""
    from pydantic import ValidationError

    from shared.service.settings import PnSettings
    from shared.web.auth import TokenConfigError, TokenRegistry

    try:
        registry = TokenRegistry.from_settings(PnSettings())
    except (TokenConfigError, ValidationError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        for entry in registry.entries if registry else ():
            click.echo(json.dumps({"name": entry.name, "role": entry.role}))
        return
    if not registry:
        click.echo("no tokens configured (PN_TOKENS_FILE / PN_TOKENS): every protected view answers 401")
        return
    for entry in registry.entries:
        click.echo(f"{entry.name}\t{entry.role}")


@click.command("acl")
@click.option("--format", "fmt", type=click.Choice(("table", "script")), default="table", show_default=True,
              help="table: one ACL per line; script: the acl-init shell script of the secure profile")
@click.option("--service", "only", default=None, help="only this service")
@json_option
def acl(fmt: str, only: str | None, as_json: bool) -> None:
    """Kafka ACLs per service, derived from the topic catalog (see shared/platform/acl.py)."""
    from shared.platform.acl import acl_init_script, acls_for
    from shared.platform.registry import names

    SERVICES = names()

    services = SERVICES if only is None else (only,)
    if only is not None and only not in SERVICES:
        raise click.ClickException(f"unknown service {only!r}; services: {', '.join(SERVICES)}")
    if fmt == "script":
        click.echo(acl_init_script(services), nl=False)
        return
    for service in services:
        for a in acls_for(service):
            if as_json:
                click.echo(json.dumps({"service": service, "principal": a.principal, "operation": a.operation,
                                       "resource": a.resource, "pattern": a.pattern, "name": a.name}))
            else:
                click.echo(f"{a.principal}\t{a.operation}\t{a.resource}\t{a.pattern}\t{a.name}")


COMMANDS = [token, acl]
