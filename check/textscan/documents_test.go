package textscan

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/scanner/doctext"
	"github.com/mailwarden/mailwarden/scanner/message"
)

// docMessage is a message with the doctext fixtures attached, each with
// the headers mail clients give it, and one given a misleading type.
func docMessage(t *testing.T) *message.Message {
	t.Helper()
	part := func(file, ctype string) string {
		b, err := os.ReadFile("../../scanner/doctext/testdata/" + file)
		if err != nil {
			t.Fatal(err)
		}
		return "--b\r\nContent-Type: " + ctype + "; name=\"" + file + "\"\r\nContent-Disposition: attachment; filename=\"" + file +
			"\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString(b) + "\r\n"
	}
	msg := "Subject: docs\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
		part("report.pdf", "application/pdf") +
		part("memo.docx", "application/octet-stream") +
		part("encrypted.pdf", "application/pdf") +
		part("cards.xlsx", "image/png") + // not named a document by its type: found by content and name
		"--b--\r\n"
	return message.ParseBytes([]byte(msg), message.DefaultLimits())
}

func TestDocuments(t *testing.T) {
	m := docMessage(t)
	docs := Documents(context.Background(), m)
	var got []string
	for _, d := range docs {
		got = append(got, d.Where+" "+string(d.Kind)+" "+doctext.Reason(d.Err))
	}
	want := []string{"attachment:report.pdf pdf ", "attachment:memo.docx docx ", "attachment:encrypted.pdf pdf encrypted", "attachment:cards.xlsx xlsx "}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("documents %q\nwant %q", got, want)
	}
	if !strings.Contains(docs[0].Text, "CONFIDENTIAL: project Falcon") || !strings.Contains(docs[1].Text, "STRICTLY CONFIDENTIAL") {
		t.Errorf("texts %q", docs[:2])
	}
	// Read once: a second call gets the same documents.
	if again := Documents(context.Background(), m); &again[0] != &docs[0] {
		t.Error("documents read twice")
	}
	s, _ := Parse([]string{AttachmentText})
	var wheres []string
	for _, x := range s.Texts(m) {
		wheres = append(wheres, x.Where)
	}
	if strings.Join(wheres, " ") != "attachment:report.pdf attachment:memo.docx attachment:cards.xlsx" {
		t.Errorf("attachment_text texts from %q", wheres)
	}
	// Others than attachment_text do not read documents.
	s, _ = Parse([]string{Body})
	for _, x := range s.Texts(m) {
		if x.Where != Body {
			t.Errorf("body entity gave %q", x.Where)
		}
	}
}

func TestDocumentsWait(t *testing.T) {
	m := docMessage(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// A caller whose context has ended gets nothing, and does not cut the
	// reading short for the others.
	if docs := Documents(ctx, m); docs != nil && len(docs) != 4 {
		t.Fatalf("documents %+v after the context ended", docs)
	}
	docs := Documents(context.Background(), m)
	if len(docs) != 4 || docs[0].Err != nil || !strings.Contains(docs[0].Text, "Falcon") {
		t.Fatalf("documents %+v", docs)
	}
	// MessageTimeout ends the reading.
	defer func(d time.Duration) { MessageTimeout = d }(MessageTimeout)
	MessageTimeout = time.Nanosecond
	docs = Documents(context.Background(), docMessage(t))
	if len(docs) == 0 || !errors.Is(docs[0].Err, doctext.ErrLimit) || doctext.Reason(docs[0].Err) != "textscan.message_timeout=1ns" {
		t.Fatalf("documents %+v", docs)
	}
}
