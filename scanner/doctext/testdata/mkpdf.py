#!/usr/bin/env python3
"""Writes the PDF fixtures of scanner/doctext: small but real PDF files,
with a FlateDecode content stream per page, standard Type1 fonts and a
cross-reference table with exact offsets. Run it in this directory."""
import zlib

def pdf(pages, encrypt=False):
    objs = []
    def add(body):
        objs.append(body)
        return len(objs)
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    pages_id = len(objs) + 1 + 2 * len(pages)  # after the pages and their streams
    kids = []
    for content in pages:
        data = zlib.compress(content.encode("latin-1"))
        s = add(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] "
                        b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>" % (pages_id, font, s)))
    assert add(b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids) +
               b"] /Count %d >>" % len(kids)) == pages_id
    root = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    enc = None
    if encrypt:
        # A standard security handler entry whose password check fails:
        # the file cannot be opened without the (unknown) user password.
        enc = add(b"<< /Filter /Standard /V 1 /R 2 /Length 40 /P -44 "
                  b"/O <" + b"11" * 32 + b"> /U <" + b"22" * 32 + b"> >>")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for o in offsets:
        out += b"%010d 00000 n \n" % o
    trailer = b"<< /Size %d /Root %d 0 R" % (len(objs) + 1, root)
    if enc:
        trailer += b" /Encrypt %d 0 R /ID [<%s> <%s>]" % (enc, b"ab" * 16, b"ab" * 16)
    out += b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)

page1 = """BT /F1 14 Tf 72 770 Td (Quarterly report) Tj 0 -20 Td (This document is CONFIDENTIAL: project Falcon.) Tj ET
BT /F1 11 Tf 72 720 Td [(Pay) -250 (to card 4111 1111 1111 1111 or see https://pdf-link.example/pay)] TJ ET"""
page2 = """BT /F1 11 Tf 72 770 Td (Second page: caf\\351 cr\\350me \\(ok\\)) Tj T* (next line) Tj ET"""

open("report.pdf", "wb").write(pdf([page1, page2]))
open("encrypted.pdf", "wb").write(pdf(["BT /F1 11 Tf 72 770 Td (secret) Tj ET"], encrypt=True))

# A page tree whose Pages node is its own kid: a reader that follows it
# without a deadline never ends.
def cycle():
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [2 0 R] /Count 3 >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for o in offsets:
        out += b"%010d 00000 n \n" % o
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)

open("cycle.pdf", "wb").write(cycle())
