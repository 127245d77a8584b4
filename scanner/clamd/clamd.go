// Package clamd is a client of ClamAV's daemon: it streams content to clamd
// with the INSTREAM command over a unix socket or TCP and parses the
// verdict, and asks PING and VERSION for health.
//
// Every call opens its own connection and closes it at the end. clamd
// closes a connection after answering a command outside an IDSESSION, and
// a session would pin one of clamd's MaxThreads workers per idle pooled
// connection; a local dial costs microseconds next to a scan. What the
// client bounds instead is the number of connections open at once
// ([Options].MaxConns, below clamd's MaxThreads), so a burst of messages
// waits its turn here, within its deadline, instead of filling clamd's
// queue. TCP connections set TCP_NODELAY, so the last chunk and the
// terminator are not held back by Nagle's algorithm waiting for an ACK.
//
// Protocol (clamd(8)): "zINSTREAM\0", then chunks, each a 4-byte
// big-endian length and that many bytes, then a zero length; the reply is
// one NUL-terminated line: "stream: OK", "stream: NAME FOUND", or
// "... ERROR". "INSTREAM size limit exceeded. ERROR" (clamd's
// StreamMaxLength) is [ErrSizeLimit]: an error, never a clean verdict.
package clamd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// The errors a call can return, wrapped with the details; test with
// errors.Is.
var (
	// ErrAddress is a malformed address.
	ErrAddress = errors.New("clamd: bad address")
	// ErrSizeLimit is clamd's "INSTREAM size limit exceeded": the stream
	// was longer than its StreamMaxLength, so it was not scanned.
	ErrSizeLimit = errors.New("clamd: INSTREAM size limit exceeded")
	// ErrClamd is any other ERROR reply of clamd.
	ErrClamd = errors.New("clamd: error reply")
	// ErrProtocol is a reply this client does not understand.
	ErrProtocol = errors.New("clamd: unexpected reply")
	// ErrNoDeadline is a call whose context has no deadline: every call
	// to clamd must have one.
	ErrNoDeadline = errors.New("clamd: context has no deadline")
)

// DefaultChunk is the INSTREAM chunk size (clamd reads up to its own
// buffer at a time; 64 KiB keeps writes few and memory small).
const DefaultChunk = 64 << 10

// DefaultMaxConns bounds the connections open at once; Debian's clamd has
// MaxThreads 12.
const DefaultMaxConns = 8

// maxReply bounds a reply line; clamd's are short.
const maxReply = 4096

// Options tune a [Client].
type Options struct {
	// Chunk is the INSTREAM chunk size; 0 means [DefaultChunk].
	Chunk int
	// MaxConns bounds the connections open at once; 0 means
	// [DefaultMaxConns].
	MaxConns int
}

// Client talks to one clamd. It is safe for concurrent use.
type Client struct {
	network, addr string
	chunk         int
	slots         chan struct{}
	dialer        net.Dialer
}

// ParseAddress splits "unix:/path" or "inet:host:port" into a network and
// address for net.Dial.
func ParseAddress(s string) (network, addr string, err error) {
	switch {
	case strings.HasPrefix(s, "unix:"):
		p := strings.TrimPrefix(s, "unix:")
		if !strings.HasPrefix(p, "/") {
			return "", "", fmt.Errorf("%w: %q: the socket path must be absolute", ErrAddress, s)
		}
		return "unix", p, nil
	case strings.HasPrefix(s, "inet:"):
		hp := strings.TrimPrefix(s, "inet:")
		host, port, err := net.SplitHostPort(hp)
		if err != nil || host == "" || port == "" {
			return "", "", fmt.Errorf("%w: %q: want inet:host:port", ErrAddress, s)
		}
		return "tcp", hp, nil
	}
	return "", "", fmt.Errorf("%w: %q: want unix:/path or inet:host:port", ErrAddress, s)
}

// New is a client of the clamd at address ("unix:/path" or
// "inet:host:port").
func New(address string, o Options) (*Client, error) {
	network, addr, err := ParseAddress(address)
	if err != nil {
		return nil, err
	}
	if o.Chunk <= 0 {
		o.Chunk = DefaultChunk
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	return &Client{network: network, addr: addr, chunk: o.Chunk, slots: make(chan struct{}, o.MaxConns)}, nil
}

// Address is the client's address as net.Dial takes it.
func (c *Client) Address() (network, addr string) { return c.network, c.addr }

// Result is a scan's verdict.
type Result struct {
	// Infected is set when clamd found a signature.
	Infected bool
	// Signature is the signature's name, e.g. "Win.Test.EICAR_HDB-1".
	Signature string
}

// conn takes a connection slot and dials, both within ctx; the deadline
// of ctx becomes the connection's. release gives both back.
func (c *Client) conn(ctx context.Context) (net.Conn, func(), error) {
	dl, ok := ctx.Deadline()
	if !ok {
		return nil, nil, ErrNoDeadline
	}
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("clamd: waiting for a connection slot: %w", ctx.Err())
	}
	nc, err := c.dialer.DialContext(ctx, c.network, c.addr)
	if err != nil {
		<-c.slots
		return nil, nil, fmt.Errorf("clamd: %w", err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true) // Go's default, set here on purpose
	}
	_ = nc.SetDeadline(dl)
	// Closing the connection when ctx ends unblocks a read or write at
	// once, even before the deadline (a cancelled transaction).
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	return nc, func() {
		stop()
		_ = nc.Close()
		<-c.slots
	}, nil
}

// command sends a NUL-terminated command and reads the NUL-terminated
// reply.
func (c *Client) command(ctx context.Context, cmd string) (string, error) {
	nc, release, err := c.conn(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	if _, err := io.WriteString(nc, "z"+cmd+"\x00"); err != nil {
		return "", c.ioErr(ctx, "writing "+cmd, err)
	}
	line, err := readReply(nc)
	if err != nil {
		return "", c.ioErr(ctx, "reading the reply to "+cmd, err)
	}
	return line, nil
}

// ioErr wraps a connection error, naming the context's end when that was
// the cause.
func (c *Client) ioErr(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("clamd: %s: %w", what, ctx.Err())
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("clamd: %s: %w", what, context.DeadlineExceeded)
	}
	return fmt.Errorf("clamd: %s: %w", what, err)
}

// readReply reads one reply up to its NUL (or the end of the connection),
// at most maxReply bytes.
func readReply(r io.Reader) (string, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, maxReply+1), maxReply+1)
	b, err := br.ReadSlice(0)
	switch {
	case err == nil:
		b = b[:len(b)-1]
	case errors.Is(err, io.EOF) && len(b) > 0:
		// a reply without its NUL: take it as it is
	case errors.Is(err, io.EOF):
		return "", fmt.Errorf("%w: connection closed without a reply", ErrProtocol)
	case errors.Is(err, bufio.ErrBufferFull):
		return "", fmt.Errorf("%w: reply longer than %d bytes", ErrProtocol, maxReply)
	default:
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// Ping asks clamd PING and wants PONG.
func (c *Client) Ping(ctx context.Context) error {
	line, err := c.command(ctx, "PING")
	if err != nil {
		return err
	}
	if line != "PONG" {
		return fmt.Errorf("%w: PING answered %q", ErrProtocol, line)
	}
	return nil
}

// Version asks clamd VERSION: "ClamAV 1.4.3/27000/Tue Dec  1 09:00:00 2026",
// the engine, database version and date.
func (c *Client) Version(ctx context.Context) (string, error) {
	line, err := c.command(ctx, "VERSION")
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(line, "ClamAV ") {
		return "", fmt.Errorf("%w: VERSION answered %q", ErrProtocol, line)
	}
	return line, nil
}

// ScanBytes scans b with INSTREAM.
func (c *Client) ScanBytes(ctx context.Context, b []byte) (Result, error) {
	return c.Scan(ctx, bytes.NewReader(b))
}

// Scan streams r to clamd with INSTREAM and returns its verdict. An error
// is never a verdict: a stream over clamd's StreamMaxLength is
// [ErrSizeLimit], and an unreachable or slow clamd an error wrapping the
// cause (context.DeadlineExceeded for a deadline).
func (c *Client) Scan(ctx context.Context, r io.Reader) (Result, error) {
	nc, release, err := c.conn(ctx)
	if err != nil {
		return Result{}, err
	}
	defer release()
	werr := c.stream(nc, r)
	if werr != nil && !isConnErr(werr) {
		return Result{}, werr // the reader failed, not clamd
	}
	// clamd answers and closes as soon as the stream is over its limit,
	// so a failed write may still have a reply waiting.
	line, rerr := readReply(nc)
	if rerr != nil {
		if werr != nil {
			return Result{}, c.ioErr(ctx, "streaming", werr)
		}
		return Result{}, c.ioErr(ctx, "reading the verdict", rerr)
	}
	res, err := ParseReply(line)
	if err == nil && werr != nil {
		// A verdict on part of the stream is no verdict on all of it.
		return Result{}, fmt.Errorf("%w: %q before the stream ended: %w", ErrProtocol, line, werr)
	}
	return res, err
}

// errReader marks an error of the reader being streamed.
type errReader struct{ err error }

func (e errReader) Error() string { return "clamd: reading the content: " + e.err.Error() }
func (e errReader) Unwrap() error { return e.err }

func isConnErr(err error) bool {
	var er errReader
	return !errors.As(err, &er)
}

// stream writes the command, r in chunks and the terminating zero chunk.
// The length prefix and its data go out in one write.
func (c *Client) stream(w io.Writer, r io.Reader) error {
	buf := make([]byte, 4+c.chunk)
	copy(buf, "zINSTREAM\x00")
	if _, err := w.Write(buf[:len("zINSTREAM\x00")]); err != nil {
		return err
	}
	for {
		n, err := io.ReadFull(r, buf[4:])
		if n > 0 {
			binary.BigEndian.PutUint32(buf, uint32(n))
			if _, werr := w.Write(buf[:4+n]); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return errReader{err}
		}
	}
	binary.BigEndian.PutUint32(buf, 0)
	_, err := w.Write(buf[:4])
	return err
}

// ParseReply parses an INSTREAM reply line.
func ParseReply(line string) (Result, error) {
	s := line
	// A reply names the stream ("stream: ..."); with IDSESSION it would
	// start with the request number ("1: stream: ...").
	if i := strings.Index(s, "stream: "); i >= 0 && !strings.HasSuffix(s, " ERROR") {
		s = s[i+len("stream: "):]
	}
	switch {
	case strings.Contains(s, "size limit exceeded"):
		return Result{}, fmt.Errorf("%w: %q", ErrSizeLimit, line)
	case s == "OK":
		return Result{}, nil
	case strings.HasSuffix(s, " FOUND"):
		name := strings.TrimSpace(strings.TrimSuffix(s, " FOUND"))
		if name == "" {
			return Result{}, fmt.Errorf("%w: %q", ErrProtocol, line)
		}
		return Result{Infected: true, Signature: name}, nil
	case strings.HasSuffix(s, "ERROR"):
		return Result{}, fmt.Errorf("%w: %q", ErrClamd, line)
	}
	return Result{}, fmt.Errorf("%w: %q", ErrProtocol, line)
}
