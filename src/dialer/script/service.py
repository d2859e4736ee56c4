"""Scripts: per-account, versioned prompt templates with declared variables.

A script is identified by (account, name); each version is its own row with its own
``script_id`` and is never edited, so a batch that pinned a version keeps saying exactly
what it said when it was created.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import anyio
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.errors import Conflict, InvalidInput, NotFound
from dialer.kit.ids import new_id
from dialer.models import Account, Batch, Script
from dialer.script import render
from dialer.script.defaults import DEFAULTS
from dialer.script.repository import ScriptRepository
from dialer.script.schemas import ScriptCreate, ScriptVersionCreate


class ScriptNotFound(NotFound):
    """Script not found."""


class ScriptVariableMissing(InvalidInput):
    """The script uses a variable the batch's rows do not provide."""


def _declared(template: str, first_message: str | None, given: list[str] | None) -> list[str]:
    """The template's variables; 422 on bad syntax or a mismatching declared list."""
    try:
        found = render.template_variables(template, first_message)
    except render.TemplateError as exc:
        where = f" (line {exc.line})" if exc.line else ""
        raise InvalidInput(f"template does not parse{where}: {exc}", field="template") from exc
    if given is not None:
        extra = sorted(set(given) - set(found))
        missing = sorted(set(found) - set(given))
        if extra:
            raise InvalidInput(
                f"declared variable '{extra[0]}' is not used by the template", field="variables"
            )
        if missing:
            raise InvalidInput(
                f"template uses variable '{missing[0]}' that is not declared", field="variables"
            )
    return found


RENDER_TIMEOUT_S = 2.0


async def _off_loop(func: Any, *args: Any) -> Any:
    """Run a render of a tenant's template in a worker thread, so the event loop keeps
    answering; the render limits in ``render`` bound its work, and a render still running
    after RENDER_TIMEOUT_S is a 422 (the thread is abandoned, not killed)."""
    with anyio.move_on_after(RENDER_TIMEOUT_S) as scope:
        return await anyio.to_thread.run_sync(func, *args, abandon_on_cancel=True)
    assert scope.cancelled_caught
    raise InvalidInput(
        f"template took longer than {RENDER_TIMEOUT_S:g} s to render", field="template"
    )


async def _check_limits(template: str, first_message: str | None) -> None:
    """422 when a template to be saved crosses a render limit with sample values."""
    try:
        await _off_loop(render.check_limits, template, first_message)
    except render.TemplateError as exc:
        raise InvalidInput(str(exc), field="template") from exc


async def _check_account(session: AsyncSession, account_id: str) -> None:
    if await session.get(Account, account_id) is None:
        raise NotFound(f"account '{account_id}' not found", field="account_id")


async def _insert(session: AsyncSession, script: Script) -> Script:
    try:
        async with session.begin_nested():
            ScriptRepository.from_session(session).add(script)
    except IntegrityError as exc:
        raise Conflict(
            f"script '{script.name}' version {script.version} already exists; retry",
            field="name",
        ) from exc
    return script


async def create_script(session: AsyncSession, account_id: str, data: ScriptCreate) -> Script:
    """Create version 1 of a new script. 409 when the name is taken in the account."""
    await _check_account(session, account_id)
    variables = _declared(data.template, data.first_message, data.variables)
    await _check_limits(data.template, data.first_message)
    repo = ScriptRepository.from_session(session)
    if await repo.max_version(account_id, data.name):
        raise Conflict(f"script '{data.name}' already exists; add a version instead", field="name")
    script = Script(
        id=new_id("scr"),
        account_id=account_id,
        name=data.name,
        version=1,
        processing_type=data.processing_type,
        description=data.description,
        template=data.template,
        first_message=data.first_message,
        variables=variables,
        variable_set=data.variable_set,
    )
    return await _insert(session, script)


async def create_version(
    session: AsyncSession, script_id: str, data: ScriptVersionCreate, *, visible_to: str | None
) -> Script:
    """Add the next version of the script ``script_id`` belongs to (any version's id works)."""
    script = await get_script(session, script_id, visible_to=visible_to)
    variables = _declared(data.template, data.first_message, data.variables)
    await _check_limits(data.template, data.first_message)
    repo = ScriptRepository.from_session(session)
    latest = await repo.latest(script.account_id, script.name)
    assert latest is not None
    new = Script(
        id=new_id("scr"),
        account_id=script.account_id,
        name=script.name,
        version=latest.version + 1,
        processing_type=latest.processing_type,
        description=data.description if data.description is not None else latest.description,
        template=data.template,
        first_message=data.first_message,
        variables=variables,
        variable_set=latest.variable_set,
    )
    return await _insert(session, new)


async def get_script(session: AsyncSession, script_id: str, *, visible_to: str | None) -> Script:
    """A script by id; 404 when missing or owned by another account than ``visible_to``."""
    script = await ScriptRepository.from_session(session).get(script_id)
    if script is None or (visible_to is not None and script.account_id != visible_to):
        raise ScriptNotFound(f"script '{script_id}' not found", field="script_id")
    return script


async def list_scripts(
    session: AsyncSession,
    *,
    account_id: str | None,
    name: str | None = None,
    processing_type: str | None = None,
    all_versions: bool = False,
    limit: int = 50,
    skip: int = 0,
) -> tuple[Sequence[Script], int]:
    """Scripts (latest version of each unless ``all_versions``), filtered."""
    return await ScriptRepository.from_session(session).list(
        account_id=account_id,
        name=name,
        processing_type=processing_type,
        latest_only=not all_versions,
        limit=limit,
        skip=skip,
    )


async def list_scripts_for_batch(session: AsyncSession, batch: Batch) -> list[Script]:
    """The scripts a batch may pin: the latest version of each of its account's, and the
    version the batch pins now (even when a newer one exists)."""
    latest, _total = await ScriptRepository.from_session(session).list(
        account_id=batch.account_id, name=None, processing_type=None,
        latest_only=True, limit=200, skip=0,
    )  # fmt: skip
    scripts = list(latest)
    if batch.script_id is not None and all(s.id != batch.script_id for s in scripts):
        pinned = await ScriptRepository.from_session(session).get(batch.script_id)
        if pinned is not None and pinned.account_id == batch.account_id:
            scripts.append(pinned)
    return sorted(scripts, key=lambda s: (s.name, s.version))


async def ensure_default_script(
    session: AsyncSession, account_id: str, processing_type: str = "basic"
) -> Script:
    """The account's default script for ``processing_type`` (latest version), created on demand."""
    default = DEFAULTS.get(processing_type)
    if default is None:
        raise InvalidInput(
            f"processing_type must be one of {sorted(DEFAULTS)}", field="processing_type"
        )
    # An admin may name any account id: an unknown one is a 404, not a foreign-key error.
    await _check_account(session, account_id)
    repo = ScriptRepository.from_session(session)
    existing = await repo.latest(account_id, default.name)
    if existing is not None:
        return existing
    script = Script(
        id=new_id("scr"),
        account_id=account_id,
        name=default.name,
        version=1,
        processing_type=default.processing_type,
        description=default.description,
        template=default.template,
        first_message=default.first_message,
        variables=render.template_variables(default.template, default.first_message),
    )
    try:
        # Two batches may ask for the default at once; the loser reads the winner's row.
        async with session.begin_nested():
            repo.add(script)
    except IntegrityError:
        found = await repo.latest(account_id, default.name)
        assert found is not None
        return found
    return script


async def resolve_script(
    session: AsyncSession,
    *,
    account_id: str,
    script_id: str | None,
    version: int | None = None,
    processing_type: str = "basic",
) -> Script:
    """The exact script version a batch pins.

    ``script_id`` names any version of a script; ``version`` picks another version of
    the same script. Without ``script_id`` the account's default for ``processing_type``
    is used (created on demand). 404 for another account's script.
    """
    if script_id is None:
        script = await ensure_default_script(session, account_id, processing_type)
    else:
        script = await get_script(session, script_id, visible_to=account_id)
    if version is not None and version != script.version:
        other = await ScriptRepository.from_session(session).get_version(
            account_id, script.name, version
        )
        if other is None:
            raise ScriptNotFound(
                f"script '{script.name}' has no version {version}", field="script_version"
            )
        script = other
    return script


async def validate_batch_script(
    session: AsyncSession,
    *,
    account_id: str,
    script_id: str | None,
    version: int | None,
    sample_payload_keys: Iterable[str],
    processing_type: str = "basic",
    has_contact: bool = True,
    variable_set: str | None = None,
) -> Script:
    """Resolve the batch's script and check the rows can fill every variable it uses.

    ``sample_payload_keys`` are the payload keys the batch's jobs carry (spreadsheet
    columns after mapping). Raises ScriptVariableMissing (422) naming the first variable
    no row provides.
    """
    script = await resolve_script(
        session,
        account_id=account_id,
        script_id=script_id,
        version=version,
        processing_type=processing_type,
    )
    available = render.available_variables(
        sample_payload_keys,
        has_contact=has_contact,
        variable_set=variable_set or script.variable_set or "standard",
    )
    missing = [v for v in script.variables if v not in available]
    if missing:
        raise ScriptVariableMissing(
            f"script '{script.name}' v{script.version} uses variable '{missing[0]}' "
            "that the batch's rows do not provide",
            field=f"script.variables.{missing[0]}",
            missing_variables=missing,
        )
    return script


async def preview(
    session: AsyncSession, script_id: str, variables: dict[str, Any], *, visible_to: str | None
) -> tuple[Script, str, str | None]:
    """Render a script with sample variables; 422 naming a missing one."""
    script = await get_script(session, script_id, visible_to=visible_to)
    try:
        prompt = await _off_loop(render.render_prompt, script, variables)
        first = await _off_loop(render.render_first_message, script, variables)
        return script, prompt, first
    except render.MissingVariable as exc:
        raise ScriptVariableMissing(
            f"variable '{exc.name}' has no value", field=f"variables.{exc.name}"
        ) from exc
    except render.TemplateError as exc:
        raise InvalidInput(str(exc), field="template") from exc
