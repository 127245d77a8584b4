package attachment

import (
	"context"

	"github.com/mailwarden/mailwarden/scanner/archive"
	"github.com/mailwarden/mailwarden/scanner/message"
)

// OpenedMembers calls scan with each file of msg's attachments that a
// password found in the message text opened: content that a virus scanner
// given the attachment as sent cannot see. It walks the attached archives
// with c's limits, candidates and tries, as the attachment check does, and
// only when the message text has a candidate. The first error scan returns
// ends the walk and is returned.
func OpenedMembers(ctx context.Context, c Config, msg *message.Message, scan func(path string, data []byte) error) error {
	if msg == nil || c.PasswordTries <= 0 || c.PasswordCandidates <= 0 {
		return nil
	}
	ch := New(c)
	r := report{msg: msg, triesLeft: c.PasswordTries}
	var err error
	for i := range msg.Parts {
		p := &msg.Parts[i]
		if !isAttachment(p) || r.triesLeft <= 0 {
			continue
		}
		data := p.Body()
		if f := archive.Detect(data); f != archive.FormatZip && f != archive.Format7z {
			continue // only zip and 7z members are opened with passwords
		}
		cands := r.candidates(c.PasswordCandidates)
		if len(cands) == 0 {
			return nil
		}
		name := p.Filename
		if name == "" {
			name = p.Where
		}
		lim := ch.lim
		lim.Passwords, lim.MaxTries = cands, r.triesLeft
		res := archive.Walk(ctx, name, data, lim, func(e *archive.Entry) {
			if err == nil && e.Password > 0 && len(e.Data) > 0 {
				err = scan(e.Path, e.Data)
			}
		})
		r.triesLeft -= res.Tries
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}
