"""``/v1/bulk``: score a file of customer ids as a background job.

``POST /v1/bulk`` takes a CSV or XLSX upload (multipart field ``file``), checks it at
once (size, rows, the ``customer_id`` column: errors name the row and column) and
answers 202 with the job; ``GET /v1/jobs/{job_id}/result?format=csv|xlsx`` downloads
the results when it has succeeded. ``GET /v1/bulk/template`` is an example file.
"""

from __future__ import annotations

from pathlib import PurePath

from fastapi import APIRouter, Response, UploadFile

from custintel.api.deps import StateDep
from custintel.api.problems import Problem
from custintel.api.routers.jobs import JobOut, QueueDep, accepted
from custintel.api.schemas import PROBLEM_RESPONSES
from custintel.api.security import PredictKey, ReadKey
from custintel.jobs.bulk import TEMPLATE, parse_ids, write_input
from custintel.jobs.state import new_job_id

__all__ = ["router"]

router = APIRouter(prefix="/v1/bulk", tags=["bulk"], responses=PROBLEM_RESPONSES)


@router.post("", status_code=202, summary="Score a CSV or XLSX file of customer ids")
def submit_bulk(
    file: UploadFile, app: StateDep, queue: QueueDep, _: PredictKey, response: Response
) -> JobOut:
    limit = app.settings.bulk_max_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise Problem(
            413,
            "Upload too large",
            f"the file is larger than {limit:,} bytes; split it, or raise CUSTINTEL_BULK_MAX_BYTES",
        )
    name = PurePath(file.filename or "upload").name[:200] or "upload"
    parsed = parse_ids(data, filename=name, settings=app.settings)
    job_id = new_job_id()
    write_input(app.settings, job_id, parsed.ids)
    params = {
        "filename": name,
        "format": parsed.format,
        "column": parsed.column,
        "customers": len(parsed.ids),
        "duplicates": parsed.duplicates,
    }
    return accepted(queue.submit("bulk", params, job_id=job_id), response)


@router.get(
    "/template",
    summary="An example upload (CSV with a customer_id column)",
    responses={200: {"content": {"text/csv": {"example": "customer_id\nC00042\nC00043\n"}}}},
)
def template(_: ReadKey) -> Response:
    return Response(
        TEMPLATE,
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="custintel-bulk-template.csv"'},
    )
