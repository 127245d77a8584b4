#!/usr/bin/env python3
"""Writes testdata/pipeline/msgtext-*.txtar from the fixtures here, with the
attachments base64-encoded. Run it from the repository root, then
`go test ./session/ -run Pipeline/msgtext -update` to write the want sections."""
import base64, os
T = "scanner/doctext/testdata/"
def att(name, ctype, data=None):
    if data is None:
        data = open(T + name, "rb").read()
    b = base64.b64encode(data).decode()
    lines = "\n".join(b[i:i+76] for i in range(0, len(b), 76))
    return f"""--m
Content-Type: {ctype}; name="{name}"
Content-Disposition: attachment; filename="{name}"
Content-Transfer-Encoding: base64

{lines}
"""
SESSION = """-- session --
ip: 198.51.100.7
helo: mx.example.net
from: alice@example.net
rcpt: bob@example.com
"""
def msg(subject, parts):
    return f"""-- message.eml --
From: Alice <alice@example.net>
To: bob@example.com
Subject: {subject}
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=m

--m
Content-Type: text/plain

see attached
""" + "".join(parts) + "--m--\n"

cases = {
"msgtext-keyword-pdf-docx": ("""Keywords are matched in the text of PDF and DOCX attachments (attachment_text): "confidential" is in both (the
first match, in the PDF, is reported), "社外秘" only in the DOCX, and "falcon is strictly" only in the DOCX,
where "Falcon" is split across runs (Fal|con) and a tab follows it.
-- config.toml --
[organization]
internal_domains = ["example.com"]

[[keywords]]
name = "secret"
case_insensitive = true
entities = ["attachment_text"]
entries = [{ text = "confidential", description = "marked confidential" }, { text = "社外秘" }, { regex = "falcon\\\\s+is\\\\s+strictly" }]

[[rule]]
name = "secret-docs"
findings = ["keyword.secret"]
action = "quarantine"
quarantine = "dlp"
""", [att("report.pdf", "application/pdf"), att("memo.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document")], "documents"),
"msgtext-dlp-xlsx": ("""A card number in a spreadsheet cell (cards.xlsx, sent as application/octet-stream) gives dlp.credit_card where
the attachment.
-- config.toml --
[organization]
internal_domains = ["example.com"]

[dlp]
templates = ["credit_card"]

[[rule]]
name = "cards"
findings = ["dlp.credit_card"]
action = "quarantine"
quarantine = "dlp"
""", [att("cards.xlsx", "application/octet-stream")], "list"),
"msgtext-unreadable": ("""A PDF that needs a password and a DOCX that is not a zip cannot be read for keywords and DLP: each gives
attachment.unreadable with the reason as value, where the attachment; the readable PDF gives none.
-- config.toml --
[organization]
internal_domains = ["example.com"]

[[rule]]
name = "unreadable"
findings = ["attachment.unreadable"]
action = "quarantine"
quarantine = "dlp"
""", [att("report.pdf", "application/pdf"), att("encrypted.pdf", "application/pdf"),
      att("broken.docx", "application/octet-stream", b"PK\x03\x04 not a zip at all")], "locked"),
"msgtext-url-in-pdf": ("""A URL written in a PDF attachment is extracted for the URL checks: its host is on the local blocklist, so
url.listed, where the attachment.
-- config.toml --
[organization]
internal_domains = ["example.com"]

[urls]
blocklist = ["pdf-link.example"]

[[rule]]
name = "bad-url"
findings = ["url.listed"]
action = "quarantine"
quarantine = "spam"
""", [att("report.pdf", "application/pdf")], "pay"),
}
for name, (head, parts, subj) in cases.items():
    open(f"testdata/pipeline/{name}.txtar", "w").write(head + SESSION + msg(subj, parts))

open("testdata/pipeline/msgtext-utf7.txtar", "w").write("""A UTF-7 (RFC 2152) subject and body are decoded before matching: "Grüße" and "社外秘" are only there in base64
runs (+APw-, +eT5ZFnnY-), and "+-" is a plain "+".
-- config.toml --
[organization]
internal_domains = ["example.com"]

[[keywords]]
name = "utf7"
entities = ["subject", "body"]
entries = [{ text = "Grüße" }, { text = "社外秘" }, { text = "1 + 1" }]

[[rule]]
name = "utf7"
findings = ["keyword.utf7"]
tag_subject = "[KW]"
""" + SESSION + """-- message.eml --
From: Alice <alice@example.net>
To: bob@example.com
Subject: =?UTF-7?Q?Gr+APw-+AN8-e?=
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-7

Dies ist +eT5ZFnnY-, 1 +- 1.
""")
