#!/usr/bin/env python3
"""Writes the OOXML fixtures of scanner/doctext: minimal DOCX, XLSX and
PPTX files with the parts Office writes for text, zipped with deflate as
Office does. Run it in this directory."""
import zipfile

CT = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Override PartName="/%s" ContentType="%s"/></Types>'
RELS = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="%s"/></Relationships>'
W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'

def write(name, parts):
    with zipfile.ZipFile(name, "w", zipfile.ZIP_DEFLATED) as z:
        for n, body in parts:
            z.writestr(n, body)

write("memo.docx", [
    ("[Content_Types].xml", CT % ("word/document.xml", "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml")),
    ("_rels/.rels", RELS % "word/document.xml"),
    ("word/document.xml", '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document %s><w:body>'
     '<w:p><w:r><w:t>Internal memo</w:t></w:r></w:p>'
     '<w:p><w:r><w:t xml:space="preserve">Project </w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t>Fal</w:t></w:r><w:r><w:t>con</w:t></w:r>'
     '<w:r><w:tab/><w:t>is </w:t></w:r><w:r><w:t>STRICTLY CONFIDENTIAL</w:t></w:r></w:p>'
     '<w:p><w:r><w:t>社外秘 &amp; 極秘</w:t></w:r><w:r><w:br/><w:t>https://docx-link.example/x</w:t></w:r></w:p>'
     '<w:p><w:del><w:r><w:delText>deleted words</w:delText></w:r></w:del></w:p>'
     '</w:body></w:document>' % W),
    ("word/footer1.xml", '<?xml version="1.0" encoding="UTF-8"?><w:ftr %s><w:p><w:r><w:t>footer text</w:t></w:r></w:p></w:ftr>' % W),
])

S = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
write("cards.xlsx", [
    ("[Content_Types].xml", CT % ("xl/workbook.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml")),
    ("_rels/.rels", RELS % "xl/workbook.xml"),
    ("xl/workbook.xml", '<?xml version="1.0" encoding="UTF-8"?><workbook %s><sheets><sheet name="S" sheetId="1"/></sheets></workbook>' % S),
    ("xl/sharedStrings.xml", '<?xml version="1.0" encoding="UTF-8"?><sst %s count="2" uniqueCount="2">'
     '<si><t>Name</t></si><si><r><t>Card </t></r><r><t>number</t></r></si></sst>' % S),
    ("xl/worksheets/sheet1.xml", '<?xml version="1.0" encoding="UTF-8"?><worksheet %s><sheetData>'
     '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
     '<row r="2"><c r="A2" t="inlineStr"><is><t>Alice</t></is></c><c r="B2"><v>4111111111111111</v></c></row>'
     '</sheetData></worksheet>' % S),
    ("xl/worksheets/sheet2.xml", '<?xml version="1.0" encoding="UTF-8"?><worksheet %s><sheetData>'
     '<row r="1"><c r="A1" t="str"><f>CONCAT("a","b")</f><v>ab</v></c></row></sheetData></worksheet>' % S),
])

A = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"'
def slide(text):
    return '<?xml version="1.0" encoding="UTF-8"?><p:sld %s><p:cSld><p:spTree><p:sp><p:txBody><a:p><a:r><a:t>%s</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>' % (A, text)
write("deck.pptx", [
    ("[Content_Types].xml", CT % ("ppt/presentation.xml", "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml")),
    ("_rels/.rels", RELS % "ppt/presentation.xml"),
    ("ppt/presentation.xml", '<?xml version="1.0" encoding="UTF-8"?><p:presentation %s/>' % A),
    ("ppt/slides/slide10.xml", slide("Slide ten")),
    ("ppt/slides/slide2.xml", slide("Slide two")),
    ("ppt/slides/slide1.xml", slide("Slide one: roadmap")),
])
