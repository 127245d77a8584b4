package textscan

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"
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

// MessageTimeout bounds the reading of all of a message's documents. It is
// under Sendmail's 10 s reply timeout, and is not the budget of the check
// that asks first, so that what one check's budget cuts short is not cut
// short for the others.
var MessageTimeout = 6 * time.Second

// Documents returns the text of m's PDF, DOCX, XLSX and PPTX attachments,
// found by their content (see [doctext.Detect]), in message order. They are
// read once per message, in the background, bounded by [MessageTimeout]
// and [DocLimits]: every caller waits for the same result while its ctx
// allows, and gets nil if ctx ends first. A document that could not be read
// whole has Err set.
func Documents(ctx context.Context, m *message.Message) []Document {
	if m == nil {
		return nil
	}
	k := weak.Make(m)
	d := &docs{done: make(chan struct{})}
	v, loaded := docCache.LoadOrStore(k, d)
	d = v.(*docs)
	if !loaded {
		runtime.AddCleanup(m, func(k weak.Pointer[message.Message]) { docCache.Delete(k) }, k)
		go func() {
			defer close(d.done)
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), MessageTimeout)
			defer cancel()
			d.list = extractAll(rctx, m)
		}()
	}
	select {
	case <-d.done:
		return d.list
	case <-ctx.Done():
		return nil
	}
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
		if ctx.Err() != nil {
			out = append(out, Document{Where: where, Kind: k, Err: timeoutErr(ctx)})
			continue
		}
		text, err := doctext.Extract(ctx, k, body, DocLimits)
		if err != nil && ctx.Err() != nil && errors.Is(err, doctext.ErrLimit) {
			err = timeoutErr(ctx) // the message's deadline, not the document's
		}
		out = append(out, Document{Where: where, Kind: k, Text: text, Err: err})
	}
	return out
}

// timeoutErr is the error of a document not read by MessageTimeout.
func timeoutErr(ctx context.Context) error {
	return &doctext.LimitError{Limit: "textscan.message_timeout=" + MessageTimeout.String(),
		Detail: "the documents of the message took too long", Err: ctx.Err()}
}
