"""CSV import of leads: every valid row imported, every bad row reported with its line number and reason.

File format: UTF-8 (a BOM is accepted), comma-separated, a header row. Columns (case-insensitive): `phone`
(required), `name`, `email`, `source`, `owner_email`, `status`; any other column becomes a custom field of the lead
(empty cells are left out).

Atomicity: each row is inserted by itself or not at all (one multi-row INSERT ... ON CONFLICT DO NOTHING: a row can
never be half-written), and all valid rows of a file commit in ONE transaction with their `created` timeline events.
So an import is stored completely or, if the database fails midway, not at all: retrying the same file never finds
half of it already there. A row whose phone another request took while the import ran is reported as a duplicate,
not failed. A `lead_import` job commits with the rows; its workflow starts the leads' workflows behind the 202, and
also those of duplicate rows whose lead's workflow never started (uploading the file again completes an import).
"""

import csv
import io
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from api.schemas.leads import InvalidEmail, LeadImportReport, SkipCode, SkippedRow, normalize_email
from api.schemas.nul import NUL, NUL_REASON
from api.services.jobs import create_job, job_public
from core.errors import AppError, Unprocessable
from core.phone import InvalidPhone, normalize_phone, timezone_for_phone
from models import Tenant
from repositories.leads import LeadRepository
from repositories.statuses import StatusRepository
from repositories.timeline import lead_created_data
from repositories.users import UserRepository
from workflow_clients.jobs import JobWorkflowClient
from workflows.job_types import JobKind

KNOWN_COLUMNS = ("phone", "name", "email", "source", "owner_email", "status")
DEFAULT_SOURCE = "import"
_INSERT_CHUNK = 500


class ImportTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"


@dataclass
class _Row:
    line: int
    values: dict[str, Any]


async def read_upload(file: UploadFile, *, max_bytes: int) -> str:
    """The uploaded file as text; 413 above `max_bytes`, 422 when it is not UTF-8."""
    data = await file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImportTooLarge(
            f"the file is larger than {max_bytes} bytes; split it into smaller files",
            details={"max_bytes": max_bytes},
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise Unprocessable(
            f"the file is not UTF-8 (first bad byte on line {line}); save it as 'CSV UTF-8' and upload again",
            details={"line": line},
        ) from None


def _parse(text: str, *, max_rows: int) -> tuple[list[str], list[_Row], list[SkippedRow]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise Unprocessable("the file is empty; the first line must be a header with a 'phone' column") from None
    except csv.Error as exc:
        raise Unprocessable(f"line 1: the header row is not valid CSV ({exc})") from None
    columns = [name.strip().lower() for name in header]
    if "phone" not in columns:
        raise Unprocessable(
            "the header row has no 'phone' column (expected columns: phone, name, email, source, owner_email, status)",
            details={"columns": columns},
        )
    if any(not name for name in columns):
        raise Unprocessable("the header row has an empty column name; name every column or remove it")
    if any(NUL in name for name in columns):
        raise Unprocessable(f"the header row {NUL_REASON}; remove it and upload again")
    duplicated = sorted({name for name in columns if columns.count(name) > 1})
    if duplicated:
        raise Unprocessable(f"the header row repeats the column(s) {', '.join(duplicated)}")

    rows: list[_Row] = []
    skipped: list[SkippedRow] = []
    line = reader.line_num
    while True:
        start = line + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise Unprocessable(f"line {start}: not valid CSV ({exc}); nothing was imported") from None
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # blank lines are not rows
        if len(rows) + len(skipped) >= max_rows:
            raise ImportTooLarge(
                f"the file has more than {max_rows} rows; split it into smaller files (nothing was imported)",
                details={"max_rows": max_rows},
            )
        if len(cells) > len(columns):
            skipped.append(
                SkippedRow(
                    line=start,
                    code="too_many_values",
                    reason=f"{len(cells)} values but the header has {len(columns)} columns",
                )
            )
            continue
        values = {name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(columns)}
        with_nul = next((name for name, value in values.items() if NUL in value), None)
        if with_nul is not None:
            reason = f"{with_nul} {NUL_REASON}"
            skipped.append(
                SkippedRow(
                    line=start, code="nul_character", reason=reason, field=with_nul, phone=values["phone"] or None
                )
            )
            continue
        rows.append(_Row(line=start, values=values))
    return columns, rows, skipped


async def import_leads(
    *, session: AsyncSession, jobs: JobWorkflowClient, tenant: Tenant, text: str, actor: str, max_rows: int
) -> LeadImportReport:
    """Validate every row, insert the valid ones with their timeline events and report the rest; the job starts
    their workflows after the commit."""
    columns, rows, skipped = _parse(text, max_rows=max_rows)
    leads = LeadRepository(session)
    statuses = {s.key: s for s in await StatusRepository(session).list(tenant_id=tenant.id)}
    default_status = await StatusRepository(session).get_default(tenant_id=tenant.id)
    owner_emails = sorted({r.values.get("owner_email", "").lower() for r in rows} - {""})
    owners = await UserRepository(session).by_emails(tenant_id=tenant.id, emails=owner_emails)
    extra_columns = [name for name in columns if name not in KNOWN_COLUMNS]

    first_line_of_phone: dict[str, int] = {}
    candidates: list[tuple[_Row, dict[str, Any]]] = []
    for row in rows:
        values = row.values
        raw_phone = values["phone"]

        def skip(code: SkipCode, reason: str, column: str | None, row: _Row = row, raw_phone: str = raw_phone) -> None:
            skipped.append(SkippedRow(line=row.line, code=code, reason=reason, field=column, phone=raw_phone or None))

        try:
            phone = normalize_phone(raw_phone, tenant.default_region)
        except InvalidPhone as exc:
            skip("invalid_phone", f"invalid phone '{raw_phone}': {exc.reason}", "phone")
            continue
        try:
            email = normalize_email(values.get("email"))
        except InvalidEmail as exc:
            skip("invalid_email", f"invalid email: {exc}", "email")
            continue
        status_key = values.get("status") or None
        status = statuses.get(status_key) if status_key else default_status
        if status is None:
            if status_key:
                skip("unknown_status", f"unknown status '{status_key}'", "status")
            else:
                skip("no_default_status", "this tenant has no status of stage 'new' to start leads in", "status")
            continue
        owner_id = None
        owner_email = values.get("owner_email", "").lower()
        if owner_email:
            owner = owners.get(owner_email)
            if owner is None:
                skip(
                    "unknown_owner",
                    f"unknown owner '{owner_email}': no user with this e-mail in this tenant",
                    "owner_email",
                )
                continue
            if not owner.is_active:
                skip("deactivated_owner", f"owner '{owner_email}' is deactivated", "owner_email")
                continue
            owner_id = owner.id
        name, source = values.get("name", ""), values.get("source") or DEFAULT_SOURCE
        if len(name) > 200:
            skip("too_long", "name is longer than 200 characters", "name")
            continue
        if len(source) > 40:
            skip("too_long", "source is longer than 40 characters", "source")
            continue
        if phone in first_line_of_phone:
            skip("duplicate_in_file", f"duplicate of line {first_line_of_phone[phone]} in this file ({phone})", "phone")
            continue
        first_line_of_phone[phone] = row.line
        candidates.append(
            (
                row,
                {
                    "id": uuid.uuid4(),
                    "tenant_id": tenant.id,
                    "phone": phone,
                    "name": name,
                    "email": email,
                    "source": source,
                    "owner_id": owner_id,
                    "status_key": status.key,
                    "stage": status.stage,
                    "timezone": timezone_for_phone(phone, tenant.timezone),
                    "custom_fields": {c: values[c] for c in extra_columns if values.get(c)},
                },
            )
        )

    existing = await leads.ids_by_phone(tenant_id=tenant.id, phones=[values["phone"] for _, values in candidates])
    to_insert: list[tuple[_Row, dict[str, Any]]] = []
    for row, values in candidates:
        if values["phone"] in existing:
            skipped.append(_duplicate_of_existing(row, values["phone"], existing[values["phone"]]))
        else:
            to_insert.append((row, values))

    imported: list[uuid.UUID] = []
    for start in range(0, len(to_insert), _INSERT_CHUNK):
        chunk = to_insert[start : start + _INSERT_CHUNK]
        inserted = await leads.insert_many_skip_existing([values for _, values in chunk])
        raced = [values["phone"] for _, values in chunk if values["phone"] not in inserted]
        raced_ids = await leads.ids_by_phone(tenant_id=tenant.id, phones=raced)
        events: list[tuple[uuid.UUID, dict[str, Any]]] = []
        for row, values in chunk:
            lead_id = inserted.get(values["phone"])
            if lead_id is None:
                # Another request took this phone after our check: the row is a duplicate, not a failure.
                skipped.append(_duplicate_of_existing(row, values["phone"], raced_ids.get(values["phone"])))
                continue
            imported.append(lead_id)
            data = lead_created_data(source=values["source"], status_key=values["status_key"], phone=values["phone"])
            events.append((lead_id, {**data, "import_line": row.line}))
        await leads.record_created_events(tenant_id=tenant.id, actor=actor, events=events)

    skipped.sort(key=lambda s: s.line)
    duplicates = [row.existing_lead_id for row in skipped if row.existing_lead_id is not None]
    job = await create_job(
        session=session,
        jobs=jobs,
        tenant=tenant,
        kind=JobKind.LEAD_IMPORT,
        actor=actor,
        skipped=[_job_item(row) for row in skipped],
        item_ids=imported,
        retry_ids=[lead.id for lead in await leads.never_started_among(tenant_id=tenant.id, lead_ids=duplicates)],
    )
    return LeadImportReport(imported=len(imported), skipped=skipped, lead_ids=imported, job=job_public(job))


def _job_item(row: SkippedRow) -> dict[str, Any]:
    """A skipped row as the job lists it: its code is the reason the job counts."""
    item = row.model_dump(mode="json", exclude_none=True)
    return {**item, "reason": row.code, "message": row.reason}


def _duplicate_of_existing(row: _Row, phone: str, lead_id: uuid.UUID | None) -> SkippedRow:
    return SkippedRow(
        line=row.line,
        code="duplicate_of_existing",
        reason=f"a lead with phone {phone} already exists",
        field="phone",
        phone=row.values["phone"],
        existing_lead_id=lead_id,
    )
