"""Start a bulk export: check who asks and what they ask for, then store the job (the work itself runs in the
background, bulk/runner.py). Everything that can be refused is refused here, with the status search would give:
403 for a type the token may not read, 404/410 for a Group that is not there, 400 for bad parameters."""

from __future__ import annotations

from collections.abc import Sequence

from ..fhir.access import READ, SEARCH, AccessPolicy
from ..store import Store
from ..store.errors import Forbidden, InvalidRequest
from ..store.resources import now_instant
from . import jobs
from .parameters import GROUP, PATIENT, SYSTEM, ExportRequest, from_parameters, parse_kickoff


def start_export(store: Store, policy: AccessPolicy, token, level: str, group_id: str | None, *, url: str,
                 params: Sequence[tuple[str, str]], body: object, strict: bool, posted: bool) -> jobs.Job:
    if level in (SYSTEM, GROUP) and getattr(policy, "confined_to_patients", lambda: False)():
        where = "the whole server" if level == SYSTEM else "a Group"
        raise Forbidden(f"Exporting {where} needs system/ scopes (SMART Backend Services) or the user/ scopes of "
                        "a clinician; this token's scopes reach only certain patients' records. Patient/$export "
                        "exports what they reach.")
    pairs = list(params) + (from_parameters(body) if body is not None else [])
    wanted = parse_kickoff(level, url.split("?")[0] if posted else url, pairs, strict=strict, posted=posted,
                           group_id=group_id)
    if level == GROUP:
        wanted.patients = _group_members(store, policy, group_id, wanted, strict)
    elif level == PATIENT and wanted.patients is not None:
        wanted.patients = _known_patients(store, wanted, strict)
    for rtype in wanted.types or ():  # a named type the token may not search is refused now, as search refuses it
        policy.check(SEARCH, rtype)
    grant = {"client_id": token.client_id, "scope": token.scope, "user_id": token.user_id,
             "patient": token.context.get("patient")}
    return jobs.create(store, token.client_id, grant, wanted.as_dict(), now_instant())


def _group_members(store: Store, policy: AccessPolicy, group_id: str, wanted: ExportRequest,
                   strict: bool) -> list[str]:
    """The ids of the Group's active Patient members, narrowed by the `patient` parameter (export.html: patients
    who are not members of the group SHOULD be an error)."""
    group = store.read("Group", group_id)  # 404, or 410 when deleted
    policy.check_stored(READ, group)
    members = []
    for member in group.resource.get("member") or []:
        kind, _, rid = str((member.get("entity") or {}).get("reference", "")).rpartition("/")
        if kind.endswith("Patient") and rid and not member.get("inactive"):
            members.append(rid)
    members = list(dict.fromkeys(members))
    if wanted.patients is None:
        return members
    strangers = [p for p in wanted.patients if p not in members]
    if strangers and strict:
        raise InvalidRequest(f"patient names {', '.join('Patient/' + p for p in strangers)}, not an active member "
                             f"of Group/{group_id}. Send 'Prefer: handling=lenient' to have them ignored instead.")
    wanted.ignored += [f"Patient/{p} is not an active member of Group/{group_id}" for p in strangers]
    return [p for p in wanted.patients if p in members]


def _known_patients(store: Store, wanted: ExportRequest, strict: bool) -> list[str]:
    """The `patient` parameter's patients that exist (export.html: patients not on the server SHOULD be an
    error)."""
    missing = [p for p in wanted.patients or [] if (found := store.current("Patient", p)) is None or found.deleted]
    if missing and strict:
        raise InvalidRequest(f"patient names {', '.join('Patient/' + p for p in missing)}, not on this server. Send "
                             "'Prefer: handling=lenient' to have them ignored instead.")
    wanted.ignored += [f"Patient/{p} is not on this server" for p in missing]
    return [p for p in dict.fromkeys(wanted.patients or []) if p not in missing]
