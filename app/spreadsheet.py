"""One writer for every export, XLSX or CSV, with the formula guard: a cell typed as
``=HYPERLINK(…)``, ``+1``, ``-1`` or ``@x`` (or led by a tab, CR or LF, by blanks before
one, or by a full-width ＝＋－＠) is written as text,
because Excel, LibreOffice and openpyxl would evaluate it."""

import csv
import io
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r", "\n")
# What may stand before a lead and still be skipped by a reader: blanks (the ideographic
# space too) and characters that show nothing.
_BLANKS = re.compile(r"[\s\u200b-\u200d\u2060\ufeff]*")
CSV_CHUNK_ROWS = 500

# (sheet title, header row, data rows)
Sheet = tuple[str, list, Iterable[list]]


def as_text(value):
    """A string a spreadsheet would take for a formula, quoted so that it stays text: led
    by a formula's first character, also after blanks or invisible characters, or by its
    full-width form (＝＋－＠, which an East Asian Excel reads as its ASCII self)."""
    if isinstance(value, str) and value and _leads_a_formula(value):
        return "'" + value
    return value


def _leads_a_formula(text: str) -> bool:
    if text[0] in FORMULA_LEADS:
        return True
    first = text[_BLANKS.match(text).end() :][:1]
    return unicodedata.normalize("NFKC", first) in FORMULA_LEADS


def _display_width(text: str) -> int:
    """Columns a text takes in a spreadsheet: a Chinese character two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _write_xlsx(out, sheets: Iterable[Sheet]) -> None:
    """A write-only workbook: rows go out as they come, memory stays flat. Each sheet
    opens readable: its header in bold and frozen, columns as wide as their headings
    (rows are not measured: they stream), money (Decimal) shown to the fen."""
    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    for title, headers, rows in sheets:
        sheet = workbook.create_sheet(title)
        for i, heading in enumerate(headers, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = max(10, _display_width(str(heading)) + 4)
        sheet.freeze_panes = "A2"
        head = []
        for heading in headers:
            cell = WriteOnlyCell(sheet, value=str(heading))
            cell.font = bold
            head.append(cell)
        sheet.append(head)
        for row in rows:
            sheet.append([_cell(sheet, v) for v in row])
    workbook.save(out)


def _cell(sheet, value):
    if isinstance(value, Decimal):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "0.00"
        return cell
    return as_text(value)


def xlsx_bytes(*sheets: Sheet) -> bytes:
    out = io.BytesIO()
    _write_xlsx(out, sheets)
    return out.getvalue()


def xlsx_file(*sheets: Sheet):
    """The workbook in a temporary file, rewound, for a response to stream and close."""
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - the caller closes it with the response
    _write_xlsx(spool, sheets)
    spool.seek(0)
    return spool


def csv_chunks(headers: list, rows: Iterable[list], chunk_rows: int | None = None) -> Iterator[str]:
    """CSV text in chunks of rows, led by a BOM so that Excel reads the Chinese as UTF-8."""
    chunk_rows = chunk_rows or CSV_CHUNK_ROWS
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([str(h) for h in headers])
    yield "\ufeff" + buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    for i, row in enumerate(rows, start=1):
        writer.writerow([as_text(v) for v in row])
        if i % chunk_rows == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def attachment(name: str, ascii_name: str) -> dict:
    """Download headers naming the file in Chinese (RFC 5987 ``filename*``) with an
    ASCII ``filename`` for clients that cannot read it."""
    from urllib.parse import quote

    return {
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}",
        "Cache-Control": "no-store",
    }
