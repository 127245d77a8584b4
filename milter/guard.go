package milter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// guardConn validates milter framing before go-milter sees it. go-milter
// v0.10.2 indexes packets without checking them and panics (in a goroutine
// of its own, where no recover of ours can reach) on a zero-length packet,
// and on connect, MAIL and RCPT packets whose strings lack their NUL. Such a
// packet closes the connection here, with an error, so a broken or hostile
// peer costs one session and never the daemon.
type guardConn struct {
	net.Conn
	maxPacket uint32
	onBad     func(error)

	// quickAck re-arms TCP_QUICKACK on a TCP connection (nil otherwise);
	// see [quickAcker].
	quickAck func()

	mu      sync.Mutex
	buf     []byte // the rest of the current validated packet
	backing []byte // reused packet storage
	through int    // payload bytes of the current packet passed straight through
	err     error
}

// ErrBadPacket is returned to go-milter for a packet that would crash it.
var ErrBadPacket = errors.New("milter: malformed milter packet")

func (g *guardConn) Read(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.buf) == 0 && g.through == 0 {
		if g.err != nil {
			return 0, g.err
		}
		if err := g.fill(); err != nil {
			g.err = err
			return 0, err
		}
		if g.quickAck != nil {
			g.quickAck()
		}
	}
	if len(g.buf) > 0 {
		n := copy(p, g.buf)
		g.buf = g.buf[n:]
		return n, nil
	}
	// The rest of a packet that needs no check (a body chunk): read it
	// straight into the caller's buffer rather than copy 64 KiB twice.
	n, err := g.Conn.Read(p[:min(len(p), g.through)])
	g.through -= n
	if err != nil {
		g.err = err
	}
	return n, err
}

// checked are the command codes whose whole packet checkPacket reads.
func checked(code byte) bool { return code == 'C' || code == 'M' || code == 'R' }

// fill reads one whole packet, checks it, and queues it for Read.
func (g *guardConn) fill() error {
	var hdr [4]byte
	if _, err := io.ReadFull(g.Conn, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || n > g.maxPacket {
		return g.bad(fmt.Errorf("%w: length %d", ErrBadPacket, n))
	}
	var code [1]byte
	if _, err := io.ReadFull(g.Conn, code[:]); err != nil {
		return err
	}
	if !checked(code[0]) {
		g.backing = append(append(g.backing[:0], hdr[:]...), code[0])
		g.buf, g.through = g.backing, int(n)-1
		return nil
	}
	if cap(g.backing) < 4+int(n) {
		g.backing = make([]byte, 4+int(n))
	}
	pkt := g.backing[:4+int(n)]
	copy(pkt, hdr[:])
	pkt[4] = code[0]
	if _, err := io.ReadFull(g.Conn, pkt[5:]); err != nil {
		return err
	}
	if err := checkPacket(pkt[4:]); err != nil {
		return g.bad(err)
	}
	g.buf = pkt
	return nil
}

func (g *guardConn) bad(err error) error {
	if g.onBad != nil {
		g.onBad(err)
	}
	return err
}

// checkPacket rejects the shapes go-milter cannot parse safely: command code
// followed by data (see go-milter's session.processMsg).
func checkPacket(p []byte) error {
	code, data := p[0], p[1:]
	switch code {
	case 'C': // connect: hostname NUL family [port(2) address NUL]
		i := indexNUL(data)
		if i < 0 || i+1 >= len(data) {
			return fmt.Errorf("%w: connect without family", ErrBadPacket)
		}
	case 'M', 'R': // MAIL, RCPT: address NUL args...
		if indexNUL(data) < 0 {
			return fmt.Errorf("%w: %c without NUL", ErrBadPacket, code)
		}
	}
	return nil
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// guardListener wraps accepted connections in a [guardConn], and keeps
// accepting through transient errors: go-milter's Serve returns on any
// accept error, and "too many open files" under a connection flood must
// cost the flood, not the daemon.
type guardListener struct {
	net.Listener
	maxPacket uint32
	onBad     func(error)
	// onAcceptErr is told of each accept error that is retried, with the
	// delay before the next try.
	onAcceptErr func(err error, delay time.Duration)
}

// Accept back-off bounds, as net/http's Server uses.
const (
	minAcceptDelay = 5 * time.Millisecond
	maxAcceptDelay = time.Second
)

func (l guardListener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			return l.wrap(c), nil
		}
		if errors.Is(err, net.ErrClosed) {
			return nil, err
		}
		// Anything else (EMFILE, ENFILE, ENOBUFS, ECONNABORTED, a timeout)
		// passes: wait, then try again, doubling the wait up to a second.
		delay = min(max(2*delay, minAcceptDelay), maxAcceptDelay)
		if l.onAcceptErr != nil {
			l.onAcceptErr(err, delay)
		}
		time.Sleep(delay)
	}
}

func (l guardListener) wrap(c net.Conn) net.Conn {
	return &guardConn{Conn: c, maxPacket: l.maxPacket, onBad: l.onBad, quickAck: quickAcker(c)}
}
