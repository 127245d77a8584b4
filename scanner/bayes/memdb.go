package bayes

import (
	"context"
	"errors"
	"sync"
)

// Label is what a message was learned as.
type Label int

// The labels; None is a message not learned (or forgotten).
const (
	None Label = iota
	Spam
	Ham
)

func (l Label) String() string {
	switch l {
	case Spam:
		return "spam"
	case Ham:
		return "ham"
	}
	return "none"
}

// ErrLabel is a learn call with a label other than Spam or Ham.
var ErrLabel = errors.New("bayes: learn as spam or ham")

// MemDB is an in-memory [DB] that learns: for tests and `mailwarden eval`.
// It keeps what each message was learned as, by the caller's digest, so
// learning a message twice counts once and learning it as the other kind
// moves it.
type MemDB struct {
	mu      sync.Mutex
	tot     Totals
	tokens  map[string]Counts
	learned map[string]learnedMsg
}

type learnedMsg struct {
	label  Label
	tokens []string
}

// NewMemDB returns an empty MemDB.
func NewMemDB() *MemDB {
	return &MemDB{tokens: map[string]Counts{}, learned: map[string]learnedMsg{}}
}

// Learn records the message with digest id and its tokens as l. It
// reports whether the database changed: learning a message again as the
// same kind does nothing.
func (db *MemDB) Learn(id string, tokens []string, l Label) (bool, error) {
	if l != Spam && l != Ham {
		return false, ErrLabel
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if old, ok := db.learned[id]; ok {
		if old.label == l {
			return false, nil
		}
		db.apply(old.tokens, old.label, -1)
	}
	db.apply(tokens, l, 1)
	db.learned[id] = learnedMsg{label: l, tokens: tokens}
	return true, nil
}

// Forget removes what message id taught; it reports whether it was learned.
func (db *MemDB) Forget(id string) bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	old, ok := db.learned[id]
	if !ok {
		return false
	}
	db.apply(old.tokens, old.label, -1)
	delete(db.learned, id)
	return true
}

func (db *MemDB) apply(tokens []string, l Label, d int64) {
	if l == Spam {
		db.tot.Spam += d
	} else {
		db.tot.Ham += d
	}
	for _, t := range tokens {
		c := db.tokens[t]
		if l == Spam {
			c.Spam += d
		} else {
			c.Ham += d
		}
		if c.Spam <= 0 && c.Ham <= 0 {
			delete(db.tokens, t)
			continue
		}
		db.tokens[t] = c
	}
}

// Totals implements [DB].
func (db *MemDB) Totals(context.Context) (Totals, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.tot, nil
}

// Counts implements [DB].
func (db *MemDB) Counts(_ context.Context, tokens []string) ([]Counts, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	out := make([]Counts, len(tokens))
	for i, t := range tokens {
		out[i] = db.tokens[t]
	}
	return out, nil
}

// Len is the number of distinct tokens held.
func (db *MemDB) Len() int {
	db.mu.Lock()
	defer db.mu.Unlock()
	return len(db.tokens)
}
