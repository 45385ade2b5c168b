"""What an evidence file must be before it is kept (Art. 21(一) 佐证材料, Art. 27(三);
ASVS 5.2.1-5.2.2): under the size limit, of an allowed type by extension AND content."""
import io
import zipfile

import pytest

from workflow.errors import Invalid
from workflow.evidence import TooLarge, check_upload, clean_filename, sniff

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 40 + b"PE\x00\x00"


def _zip(*members: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in members:
            archive.writestr(name, "<x/>")
    return buffer.getvalue()


DOCX = _zip("[Content_Types].xml", "word/document.xml")
XLSX = _zip("[Content_Types].xml", "xl/workbook.xml")
OFD = _zip("OFD.xml", "Doc_0/Document.xml")


@pytest.mark.parametrize("data, name, kind", [
    (PDF, "整改报告.pdf", "pdf"), (PNG, "凭证.png", "png"), (JPEG, "回单.JPG", "jpeg"), (JPEG, "回单.jpeg", "jpeg"),
    (DOCX, "说明.docx", "docx"), (XLSX, "明细.xlsx", "xlsx"), (OFD, "电子发票.ofd", "ofd"),
    ("退回资金12500.00元，已调整账目。".encode("utf-8"), "说明.txt", "txt"),
    ("凭证号,金额\nZF2026-000318,12500.00\n".encode("gb18030"), "明细.csv", "csv"),
])
def test_allowed_types_are_accepted_by_extension_and_content(data, name, kind):
    filename, file_type = check_upload(data, name, "application/octet-stream")
    assert (filename, file_type.name) == (name, kind)


def test_a_pdf_name_on_executable_bytes_is_refused():
    with pytest.raises(Invalid) as raised:
        check_upload(EXE, "整改报告.pdf", "application/pdf")
    assert raised.value.errors == {"file": ["content is not pdf"]}


def test_an_executable_extension_is_refused_whatever_it_holds():
    with pytest.raises(Invalid) as raised:
        check_upload(PDF, "report.exe", "application/pdf")
    assert list(raised.value.errors) == ["file"]


@pytest.mark.parametrize("name", ["index.html", "x.svg", "a.js", "noextension", ".pdf", "a.pdf.exe"])
def test_types_outside_the_allowlist_are_refused(name):
    with pytest.raises(Invalid):
        check_upload(b"<svg onload=alert(1)>", name, None)


def test_a_png_renamed_to_pdf_is_refused():
    with pytest.raises(Invalid):
        check_upload(PNG, "报告.pdf", None)


def test_a_macro_enabled_document_is_refused():
    macro = _zip("[Content_Types].xml", "word/document.xml", "word/vbaProject.bin")
    with pytest.raises(Invalid):
        check_upload(macro, "说明.docx", None)


def test_a_plain_zip_named_docx_is_refused():
    with pytest.raises(Invalid):
        check_upload(_zip("payload.exe"), "说明.docx", None)


def test_binary_bytes_named_txt_are_refused():
    with pytest.raises(Invalid):
        check_upload(EXE, "readme.txt", "text/plain")


def test_a_declared_type_that_contradicts_the_file_is_refused():
    with pytest.raises(Invalid) as raised:
        check_upload(PDF, "报告.pdf", "text/html")
    assert raised.value.errors == {"file": ["declared type text/html is not pdf"]}


def test_over_the_size_limit_is_413_naming_the_file():
    with pytest.raises(TooLarge) as raised:
        check_upload(PDF + b"0" * 100, "报告.pdf", None, max_bytes=64)
    assert raised.value.status == 413
    assert list(raised.value.errors) == ["file"]


def test_an_empty_file_is_refused():
    with pytest.raises(Invalid):
        check_upload(b"", "报告.pdf", None)


def test_the_given_name_loses_folders_and_control_characters():
    assert clean_filename("..\\..\\windows/system32/整改\x00报告.pdf") == "整改报告.pdf"
    assert clean_filename("../../etc/passwd") == "passwd"
    assert len(clean_filename("长" * 300 + ".pdf")) == 200


def test_sniff_knows_nothing_of_executables():
    assert sniff(EXE) is None
