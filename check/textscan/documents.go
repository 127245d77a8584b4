package textscan

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"weak"

	"github.com/mailwarden/mailwarden/scanner/doctext"
	"github.com/mailwarden/mailwarden/scanner/message"
)

// Document is the text of one document attachment.
type Document struct {
	// Where is "attachment:NAME", as findings name it.
	Where string
	// Kind is the format.
	Kind doctext.Kind
	// Text is the text read; on an error, what was read before it.
	Text string
	// Err is why the document could not be read whole, or nil; see
	// [doctext.Reason] for its short form.
	Err error
}

// MaxDocuments bounds the document attachments read per message; the
// others are [Document]s with an error naming the bound.
const MaxDocuments = 32

// DocLimits bounds the reading of each document.
var DocLimits = doctext.DefaultLimits()

// errTooMany is the error of the documents past MaxDocuments.
var errTooMany = &doctext.LimitError{Limit: fmt.Sprintf("textscan.max_documents=%d", MaxDocuments), Detail: "more document attachments in the message"}

// docs is the extraction of one message, shared by every check that asks.
type docs struct {
	done chan struct{}
	list []Document
}

// docCache holds the documents of the messages being checked, keyed by a
// weak pointer so that an entry goes when its message does: the keyword,
// DLP and URL checks run concurrently on one message, and each PDF is read
// once.
var docCache sync.Map // weak.Pointer[message.Message] -> *docs

// Documents returns the text of m's PDF, DOCX, XLSX and PPTX attachments,
// found by their content (see [doctext.Detect]), in message order. It reads
// them once per message: a second caller gets the first one's result,
// waiting for it while ctx allows (nil if ctx ends first). ctx, and
// [DocLimits], bound the reading; a document that could not be read whole
// has Err set.
func Documents(ctx context.Context, m *message.Message) []Document {
	if m == nil {
		return nil
	}
	k := weak.Make(m)
	d := &docs{done: make(chan struct{})}
	if v, loaded := docCache.LoadOrStore(k, d); loaded {
		d = v.(*docs)
		select {
		case <-d.done:
			return d.list
		case <-ctx.Done():
			return nil
		}
	}
	runtime.AddCleanup(m, func(k weak.Pointer[message.Message]) { docCache.Delete(k) }, k)
	defer close(d.done)
	d.list = extractAll(ctx, m)
	return d.list
}

func extractAll(ctx context.Context, m *message.Message) []Document {
	var out []Document
	for i := range m.Parts {
		p := &m.Parts[i]
		if strings.HasPrefix(p.ContentType, "text/") || strings.HasPrefix(p.ContentType, "image/") ||
			strings.HasPrefix(p.ContentType, "audio/") || strings.HasPrefix(p.ContentType, "video/") {
			// Text parts are matched as text; media are no documents,
			// unless named as one.
			if doctext.KindByName(p.Filename, "") == "" {
				continue
			}
		}
		where := "attachment:" + p.Filename
		if p.Size > DocLimits.MaxInputBytes {
			if k := doctext.KindByName(p.Filename, p.ContentType); k != "" {
				out = append(out, Document{Where: where, Kind: k, Err: &doctext.LimitError{
					Limit:  fmt.Sprintf("doctext.max_input_bytes=%d", DocLimits.MaxInputBytes),
					Detail: fmt.Sprintf("the document is %d bytes", p.Size)}})
			}
			continue
		}
		body := p.Body()
		k := doctext.Detect(p.Filename, p.ContentType, body)
		if k == "" {
			continue
		}
		if len(out) == MaxDocuments {
			out = append(out, Document{Where: where, Kind: k, Err: errTooMany})
			break
		}
		text, err := doctext.Extract(ctx, k, body, DocLimits)
		out = append(out, Document{Where: where, Kind: k, Text: text, Err: err})
	}
	return out
}
