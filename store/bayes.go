package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// BayesLabel is what a message was learned as.
type BayesLabel int

// The labels; BayesNone is a message not learned, or forgotten.
const (
	BayesNone BayesLabel = iota
	BayesSpam
	BayesHam
)

func (l BayesLabel) String() string {
	switch l {
	case BayesSpam:
		return "spam"
	case BayesHam:
		return "ham"
	}
	return "none"
}

// BayesCounts is how many learned spam and ham messages held a token.
type BayesCounts struct {
	Spam, Ham int64
}

// BayesTotals is how many spam and ham messages are learned.
type BayesTotals struct {
	Spam, Ham int64
}

// Bayes is the Bayesian classifier's token database (check/bayes,
// `mailwarden learn`). Tokens are 64-bit hashes, so a token costs the same
// whatever its length; each has the number of learned spam and ham
// messages that held it and the time a message holding it was last
// learned. Learned messages are kept by the caller's digest with their
// label, not their tokens: relearning or forgetting a message takes its
// tokens again (the caller tokenizes it again, as sa-learn does), and a
// count never goes below zero.
type Bayes interface {
	// BayesTotals returns the numbers of messages learned.
	BayesTotals(ctx context.Context) (BayesTotals, error)
	// BayesCounts returns the counts of hashes, in one read: the i-th is
	// hashes[i]'s, zero for a hash it does not know (a token no learned
	// message holds is deleted, so a known one never counts zero).
	BayesCounts(ctx context.Context, hashes []uint64) ([]BayesCounts, error)
	// BayesLearned returns what the message digest was learned as, or
	// BayesNone.
	BayesLearned(ctx context.Context, digest string) (BayesLabel, error)
	// BayesLearn records message digest, holding the tokens hashes, as
	// label at at, in one transaction, and returns what it was learned as
	// before. Learning it again as the same label changes nothing; as the
	// other label moves its counts; as BayesNone forgets it.
	BayesLearn(ctx context.Context, digest string, hashes []uint64, label BayesLabel, at time.Time) (prev BayesLabel, err error)
	// BayesExpire bounds the token database: it deletes the tokens held by
	// one message only and last seen before onceBefore (zero: none by
	// age), and then, while more than maxTokens remain (0: no bound),
	// deletes tokens down to nine tenths of maxTokens: those held by one
	// message first, least recently seen first, then any, least recently
	// seen first (as sa-learn's expiry). It returns how many it deleted
	// and how many remain.
	BayesExpire(ctx context.Context, maxTokens int64, onceBefore time.Time) (deleted, remaining int64, err error)
}

// ErrBayesLabel is a learn call with a label that is none of the three.
var ErrBayesLabel = errors.New("store: bayes label must be spam, ham or none")

// bayesChunk is how many hashes one statement carries: under SQLite's
// smallest host parameter limit (999).
const bayesChunk = 900

// BayesTotals implements [Bayes].
func (s *Store) BayesTotals(ctx context.Context) (BayesTotals, error) {
	st, err := s.state(ctx)
	if err != nil {
		return BayesTotals{}, fmt.Errorf("store: bayes totals: %w", err)
	}
	if st.r == nil {
		return BayesTotals{}, nil
	}
	var t BayesTotals
	if err := st.queryRow(ctx, readBayesTotals).Scan(&t.Spam, &t.Ham); err != nil {
		return BayesTotals{}, fmt.Errorf("store: bayes totals: %w", err)
	}
	return t, nil
}

// inList is "(?, ?, …)" for n values.
func inList(n int) string {
	return "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
}

func hashArgs(hashes []uint64) []any {
	args := make([]any, len(hashes))
	for i, h := range hashes {
		args[i] = int64(h)
	}
	return args
}

// SetBayesCache sets how many tokens [Store.BayesCounts] keeps in memory
// ([BayesCacheTokens] unless set; 0: none) and empties the cache; see
// [bayesCache]. The answers are the same with any size.
func (s *Store) SetBayesCache(tokens int) {
	if old := s.st.bayes.Swap(newBayesCache(tokens, s.log)); old != nil {
		old.close()
	}
}

// WarmBayesCache builds the token cache's filter of the tokens the
// database holds now, instead of in the background after the first
// lookup: for benchmarks and tests, and a daemon that wants its first
// messages classified at full speed.
func (s *Store) WarmBayesCache(ctx context.Context) error {
	st, err := s.state(ctx)
	if err != nil {
		return fmt.Errorf("store: bayes cache: %w", err)
	}
	c := st.bayes.Load()
	if c == nil || st.r == nil {
		return nil
	}
	if err := c.buildFilter(ctx, st); err != nil {
		return fmt.Errorf("store: bayes cache: %w", err)
	}
	return nil
}

// BayesCounts implements [Bayes]: when the token filter and cache hold
// every token at the database's generation (the warm case), one read of
// the generation; otherwise one read transaction, a statement per 900
// hashes the token cache does not hold.
func (s *Store) BayesCounts(ctx context.Context, hashes []uint64) ([]BayesCounts, error) {
	st, err := s.state(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: bayes counts: %w", err)
	}
	out := make([]BayesCounts, len(hashes))
	if st.r == nil || len(hashes) == 0 {
		return out, nil
	}
	cache := st.bayes.Load()
	var epoch uint64
	if cache != nil {
		epoch = cache.epoch.Load() // before the transaction's snapshot
		ok, err := bayesCached(ctx, st, cache, hashes, out)
		if err != nil {
			return nil, fmt.Errorf("store: bayes counts: %w", err)
		}
		if ok {
			return out, nil
		}
		clear(out)
	}
	tx, err := st.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("store: bayes counts: %w", err)
	}
	defer tx.Rollback()
	// need are the indexes of the hashes to look up.
	need := make([]int, 0, len(hashes))
	var gen int64
	if cache != nil {
		if err := tx.QueryRowContext(ctx, `SELECT gen FROM bayes_totals WHERE id = 1`).Scan(&gen); err != nil {
			return nil, fmt.Errorf("store: bayes counts: %w", err)
		}
		// The filter first: it drops most tokens at the cost of one
		// memory read each, and the cache then holds the known ones.
		f := cache.filterAt(gen)
		for i, h := range hashes {
			if f == nil || f.mayHold(h) {
				need = append(need, i)
			}
		}
		if f == nil || f.full() {
			cache.startFilter(st)
		}
		if cache.begin(gen) {
			need = cache.get(gen, hashes, need, out, need[:0])
		} else {
			cache = nil
		}
	} else {
		for i := range hashes {
			need = append(need, i)
		}
	}
	if len(need) == 0 {
		return out, nil
	}
	asked := make([]uint64, len(need))
	for k, i := range need {
		asked[k] = hashes[i]
	}
	found := make(map[uint64]BayesCounts, len(asked))
	for chunk := range slices.Chunk(asked, bayesChunk) {
		rows, err := tx.QueryContext(ctx, `SELECT hash, spam, ham FROM bayes_tokens WHERE hash IN `+inList(len(chunk)), hashArgs(chunk)...)
		if err != nil {
			return nil, fmt.Errorf("store: bayes counts: %w", err)
		}
		for rows.Next() {
			var (
				h int64
				c BayesCounts
			)
			if err := rows.Scan(&h, &c.Spam, &c.Ham); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: bayes counts: %w", err)
			}
			found[uint64(h)] = c
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("store: bayes counts: %w", err)
		}
	}
	for _, i := range need {
		out[i] = found[hashes[i]]
	}
	if cache != nil {
		cache.put(gen, epoch, asked, found)
	}
	return out, nil
}

// bayesCached answers a lookup from the token filter and cache alone,
// into out, and reports false when they do not hold every token. It needs
// no transaction (the costliest part of a warm lookup): one statement
// reads the generation, and what the cache holds at a generation is that
// generation's counts, so the answer is one snapshot's all the same.
func bayesCached(ctx context.Context, st *stateDB, cache *bayesCache, hashes []uint64, out []BayesCounts) (bool, error) {
	var gen int64
	if err := st.queryRow(ctx, readBayesGen).Scan(&gen); err != nil {
		return false, err
	}
	f := cache.filterAt(gen)
	if f == nil || f.full() || !cache.begin(gen) {
		return false, nil // the transaction's path starts a filter
	}
	// The cache first: most of a message's tokens are known and cached,
	// and the filter then answers for the rest.
	all := make([]int, len(hashes))
	for i := range all {
		all[i] = i
	}
	for _, i := range cache.get(gen, hashes, all, out, all[:0]) {
		if f.mayHold(hashes[i]) {
			return false, nil
		}
	}
	return true, nil
}

// bumpGen increments the token database's generation in tx and returns
// it (see [bayesCache]).
func bumpGen(ctx context.Context, tx *sql.Tx) (int64, error) {
	var gen int64
	err := tx.QueryRowContext(ctx, `UPDATE bayes_totals SET gen = gen + 1 WHERE id = 1 RETURNING gen`).Scan(&gen)
	return gen, err
}

// BayesLearned implements [Bayes].
func (s *Store) BayesLearned(ctx context.Context, digest string) (BayesLabel, error) {
	st, err := s.state(ctx)
	if err != nil {
		return BayesNone, fmt.Errorf("store: bayes learned: %w", err)
	}
	if st.r == nil {
		return BayesNone, nil
	}
	var l BayesLabel
	err = st.r.QueryRowContext(ctx, `SELECT label FROM bayes_learned WHERE digest = ?`, digest).Scan(&l)
	if errors.Is(err, sql.ErrNoRows) {
		return BayesNone, nil
	}
	if err != nil {
		return BayesNone, fmt.Errorf("store: bayes learned: %w", err)
	}
	return l, nil
}

// BayesLearn implements [Bayes]; it is a bulk write, so a counter
// increment or a greylist entry goes first.
func (s *Store) BayesLearn(ctx context.Context, digest string, hashes []uint64, label BayesLabel, at time.Time) (BayesLabel, error) {
	prev, err := s.BayesLearnMany(ctx, []BayesLearning{{Digest: digest, Hashes: hashes, Label: label, At: at}})
	if err != nil {
		return BayesNone, err
	}
	return prev[0], nil
}

// BayesLearning is one message of [Store.BayesLearnMany].
type BayesLearning struct {
	Digest string
	Hashes []uint64
	Label  BayesLabel
	At     time.Time
}

// BayesLearnMany is [Store.BayesLearn] of each message in turn, in one
// transaction, and returns what each was learned as before: for learning
// a corpus, where a transaction per message writes each touched page of
// the token table once per message (and checkpoints the WAL about as
// often) instead of once per batch. All or none are learned.
func (s *Store) BayesLearnMany(ctx context.Context, ms []BayesLearning) ([]BayesLabel, error) {
	for _, m := range ms {
		if m.Label != BayesNone && m.Label != BayesSpam && m.Label != BayesHam {
			return nil, fmt.Errorf("store: bayes learn: %w", ErrBayesLabel)
		}
		if err := checkKey("bayes digest", m.Digest); err != nil {
			return nil, fmt.Errorf("store: bayes learn: %w", err)
		}
	}
	st, err := s.stateWriter(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: bayes learn: %w", err)
	}
	tx, done, err := st.beginWrite(ctx, bulk)
	if err != nil {
		return nil, fmt.Errorf("store: bayes learn: %w", err)
	}
	defer done()
	defer tx.Rollback()
	prevs := make([]BayesLabel, len(ms))
	var touched []uint64
	for i, m := range ms {
		hashes := slices.Clone(m.Hashes)
		slices.Sort(hashes)
		hashes = slices.Compact(hashes)
		changed, err := bayesLearnTx(ctx, tx, m.Digest, hashes, m.Label, unixNano(nowIfZero(m.At)), &prevs[i])
		if err != nil {
			return nil, fmt.Errorf("store: bayes learn: %w", err)
		}
		if changed {
			touched = append(touched, hashes...)
		}
	}
	if touched == nil {
		return prevs, nil
	}
	gen, err := bumpGen(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("store: bayes learn: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store: bayes learn: commit: %w", err)
	}
	// Still under the write gate: this process's writes invalidate in
	// the order they committed.
	if c := st.bayes.Load(); c != nil {
		c.learned(gen, touched)
	}
	return prevs, nil
}

// bayesLearnTx learns one message in tx, sets *prev to what it was
// learned as, and reports whether anything changed.
func bayesLearnTx(ctx context.Context, tx *sql.Tx, digest string, hashes []uint64, label BayesLabel, now int64, prev *BayesLabel) (bool, error) {
	*prev = BayesNone
	if err := tx.QueryRowContext(ctx, `SELECT label FROM bayes_learned WHERE digest = ?`, digest).Scan(prev); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, err
	}
	if *prev == label {
		return false, nil
	}
	if *prev != BayesNone {
		if err := bayesUnlearn(ctx, tx, hashes, *prev); err != nil {
			return false, err
		}
	}
	if label != BayesNone {
		if err := bayesAdd(ctx, tx, hashes, label, now); err != nil {
			return false, err
		}
	}
	var q string
	var args []any
	switch label {
	case BayesNone:
		q, args = `DELETE FROM bayes_learned WHERE digest = ?`, []any{digest}
	default:
		q, args = `INSERT INTO bayes_learned (digest, label, time_ns) VALUES (?, ?, ?)
			ON CONFLICT (digest) DO UPDATE SET label = excluded.label, time_ns = excluded.time_ns`, []any{digest, label, now}
	}
	_, err := tx.ExecContext(ctx, q, args...)
	return err == nil, err
}

// bayesColumn is the counts column of a label.
func bayesColumn(l BayesLabel) string {
	if l == BayesSpam {
		return "spam"
	}
	return "ham"
}

// bayesUnlearn takes one message of label l off hashes and the totals;
// tokens left with no message are deleted.
func bayesUnlearn(ctx context.Context, tx *sql.Tx, hashes []uint64, l BayesLabel) error {
	col := bayesColumn(l)
	for chunk := range slices.Chunk(hashes, bayesChunk) {
		args := hashArgs(chunk)
		if _, err := tx.ExecContext(ctx, `UPDATE bayes_tokens SET `+col+` = CASE WHEN `+col+` > 0 THEN `+col+` - 1 ELSE 0 END
			WHERE hash IN `+inList(len(chunk)), args...); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM bayes_tokens WHERE spam = 0 AND ham = 0 AND hash IN `+inList(len(chunk)), args...); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, `UPDATE bayes_totals SET `+col+` = CASE WHEN `+col+` > 0 THEN `+col+` - 1 ELSE 0 END WHERE id = 1`)
	return err
}

// bayesAddRows is how many tokens one upsert writes (4 parameters each).
const bayesAddRows = bayesChunk / 4

// bayesAdd adds one message of label l to hashes, seen at now, and to the
// totals.
func bayesAdd(ctx context.Context, tx *sql.Tx, hashes []uint64, l BayesLabel, now int64) error {
	var sp, hm int64 = 1, 0
	if l == BayesHam {
		sp, hm = 0, 1
	}
	for chunk := range slices.Chunk(hashes, bayesAddRows) {
		args := make([]any, 0, 4*len(chunk))
		for _, h := range chunk {
			args = append(args, int64(h), sp, hm, now)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO bayes_tokens (hash, spam, ham, seen_ns) VALUES `+
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?), ", len(chunk)), ", ")+`
			ON CONFLICT (hash) DO UPDATE SET spam = bayes_tokens.spam + excluded.spam, ham = bayes_tokens.ham + excluded.ham,
				seen_ns = CASE WHEN excluded.seen_ns > bayes_tokens.seen_ns THEN excluded.seen_ns ELSE bayes_tokens.seen_ns END`,
			args...); err != nil {
			return err
		}
	}
	col := bayesColumn(l)
	_, err := tx.ExecContext(ctx, `UPDATE bayes_totals SET `+col+` = `+col+` + 1 WHERE id = 1`)
	return err
}

// BayesExpire implements [Bayes], in bulk batches of at most 5000 tokens,
// so other state writes wait for one batch at most.
func (s *Store) BayesExpire(ctx context.Context, maxTokens int64, onceBefore time.Time) (deleted, remaining int64, err error) {
	st, err := s.stateWriter(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("store: bayes expire: %w", err)
	}
	batch := int64(bayesExpireBatch)
	// deleteUpTo runs q (a DELETE with LIMIT as its last parameter) until
	// it deletes less than a batch or want tokens are gone.
	deleteUpTo := func(want int64, q string, args ...any) error {
		for want > 0 {
			n := min(want, batch)
			got, err := st.bayesDelete(ctx, q, append(args, n)...)
			if err != nil {
				return err
			}
			deleted += got
			want -= got
			if got < n {
				return nil
			}
		}
		return nil
	}
	if !onceBefore.IsZero() {
		if err := deleteUpTo(1<<62, `DELETE FROM bayes_tokens WHERE hash IN
			(SELECT hash FROM bayes_tokens WHERE spam + ham <= 1 AND seen_ns < ? ORDER BY seen_ns, hash LIMIT ?)`,
			unixNano(onceBefore)); err != nil {
			return deleted, 0, fmt.Errorf("store: bayes expire: %w", err)
		}
	}
	if err := st.w.QueryRowContext(ctx, `SELECT COUNT(*) FROM bayes_tokens`).Scan(&remaining); err != nil {
		return deleted, 0, fmt.Errorf("store: bayes expire: %w", err)
	}
	if maxTokens > 0 && remaining > maxTokens {
		before := deleted
		excess := remaining - (maxTokens - maxTokens/10)
		if err := deleteUpTo(excess, `DELETE FROM bayes_tokens WHERE hash IN
			(SELECT hash FROM bayes_tokens WHERE spam + ham <= 1 ORDER BY seen_ns, hash LIMIT ?)`); err != nil {
			return deleted, 0, fmt.Errorf("store: bayes expire: %w", err)
		}
		if err := deleteUpTo(excess-(deleted-before), `DELETE FROM bayes_tokens WHERE hash IN
			(SELECT hash FROM bayes_tokens ORDER BY seen_ns, hash LIMIT ?)`); err != nil {
			return deleted, 0, fmt.Errorf("store: bayes expire: %w", err)
		}
		remaining -= deleted - before
	}
	if deleted > 0 {
		s.log.Debug("store: expired bayes tokens", "deleted", deleted, "remaining", remaining)
	}
	return deleted, remaining, nil
}

// bayesDelete runs q, a DELETE of tokens, in a bulk transaction that
// increments the generation when it deletes any, and empties the token
// cache then.
func (st *stateDB) bayesDelete(ctx context.Context, q string, args ...any) (int64, error) {
	tx, done, err := st.beginWrite(ctx, bulk)
	if err != nil {
		return 0, err
	}
	defer done()
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	got, err := res.RowsAffected()
	if err != nil || got == 0 {
		return 0, err
	}
	gen, err := bumpGen(ctx, tx)
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	if c := st.bayes.Load(); c != nil {
		c.flush(gen, nil)
	}
	return got, nil
}

// bayesExpireBatch is how many tokens one expiry statement deletes.
var bayesExpireBatch = 5000

var _ Bayes = (*Store)(nil)

// BayesToken is one token of [Store.BayesImport].
type BayesToken struct {
	Hash uint64
	BayesCounts
	Seen time.Time // zero: now
}

// bayesImportBatch is how many tokens one import transaction writes.
const bayesImportBatch = 20_000

// BayesImport adds the counts of tokens, and tot to the totals, directly,
// with no learned messages: for restoring a token database, and for
// benchmarks that need a million tokens in seconds rather than by
// learning a hundred thousand messages. It writes in bulk transactions of
// 20,000 tokens, the totals with the first. A token whose counts are
// both zero is left out, as learning leaves none.
func (s *Store) BayesImport(ctx context.Context, tot BayesTotals, tokens []BayesToken) error {
	st, err := s.stateWriter(ctx)
	if err != nil {
		return fmt.Errorf("store: bayes import: %w", err)
	}
	now := time.Now()
	// In the order of the primary key, as a signed integer: the B-tree
	// then grows at its end instead of splitting pages everywhere.
	tokens = slices.DeleteFunc(slices.Clone(tokens), func(t BayesToken) bool { return t.BayesCounts == (BayesCounts{}) })
	slices.SortFunc(tokens, func(a, b BayesToken) int { return cmp.Compare(int64(a.Hash), int64(b.Hash)) })
	first := true
	for len(tokens) > 0 || first {
		batch := tokens[:min(len(tokens), bayesImportBatch)]
		tokens = tokens[len(batch):]
		if err := st.bayesImport(ctx, batch, tot, first, now); err != nil {
			return fmt.Errorf("store: bayes import: %w", err)
		}
		first = false
	}
	return nil
}

func (st *stateDB) bayesImport(ctx context.Context, tokens []BayesToken, tot BayesTotals, withTotals bool, now time.Time) error {
	tx, done, err := st.beginWrite(ctx, bulk)
	if err != nil {
		return err
	}
	defer done()
	defer tx.Rollback()
	for chunk := range slices.Chunk(tokens, bayesAddRows) {
		args := make([]any, 0, 4*len(chunk))
		for _, t := range chunk {
			seen := t.Seen
			if seen.IsZero() {
				seen = now
			}
			args = append(args, int64(t.Hash), t.Spam, t.Ham, unixNano(seen))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO bayes_tokens (hash, spam, ham, seen_ns) VALUES `+
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?), ", len(chunk)), ", ")+`
			ON CONFLICT (hash) DO UPDATE SET spam = bayes_tokens.spam + excluded.spam, ham = bayes_tokens.ham + excluded.ham,
				seen_ns = CASE WHEN excluded.seen_ns > bayes_tokens.seen_ns THEN excluded.seen_ns ELSE bayes_tokens.seen_ns END`,
			args...); err != nil {
			return err
		}
	}
	if withTotals {
		if _, err := tx.ExecContext(ctx, `UPDATE bayes_totals SET spam = spam + ?, ham = ham + ? WHERE id = 1`, tot.Spam, tot.Ham); err != nil {
			return err
		}
	}
	gen, err := bumpGen(ctx, tx)
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if c := st.bayes.Load(); c != nil {
		hashes := make([]uint64, len(tokens))
		for i, t := range tokens {
			hashes[i] = t.Hash
		}
		c.flush(gen, hashes)
	}
	return nil
}
