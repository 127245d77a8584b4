// Package dnstest is a fake DNS server on loopback for tests: records kept
// in a map, failures injected per name, and a log of the queries it saw,
// so a test can prove an answer came from a cache.
//
// It answers UDP and TCP on the same port. Unit tests use [New], which
// stops the server at the end of the test; end-to-end tests and tools that
// have no testing.TB use [Start] and [Server.Close].
package dnstest

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// Behavior is a failure injected for one name, whatever the type asked.
type Behavior struct {
	// Rcode, when not 0, is answered instead of the records
	// (mdns.RcodeServerFailure, mdns.RcodeRefused, ...).
	Rcode int
	// Drop never answers, so the client times out.
	Drop bool
	// Delay waits this long before answering (or before dropping).
	Delay time.Duration
	// TruncateUDP answers UDP queries with the TC bit and no records, so
	// the client has to ask again over TCP.
	TruncateUDP bool
}

// Query is one query the server received.
type Query struct {
	Name string // lower case, absolute
	Type uint16
	Net  string // "udp" or "tcp"
}

// maxLog bounds the query log; [Server.Count] keeps counting past it.
const maxLog = 10000

// Server is a running fake DNS server.
type Server struct {
	addr     string
	udp, tcp *mdns.Server
	closed   chan struct{}
	once     sync.Once

	mu      sync.Mutex
	records map[string][]mdns.RR // by lower-case absolute owner name
	behave  map[string]Behavior
	log     []Query
	counts  map[Query]int
	negTTL  uint32
}

// New starts a server on 127.0.0.1 at a random port and stops it when the
// test ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	s, err := Start("127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// Start starts a server listening on addr ("127.0.0.1:0" for a random
// port) over UDP and TCP, on the same port.
func Start(addr string) (*Server, error) {
	s := &Server{
		closed:  make(chan struct{}),
		records: make(map[string][]mdns.RR),
		behave:  make(map[string]Behavior),
		counts:  make(map[Query]int),
		negTTL:  60,
	}
	var (
		ln  net.Listener
		pc  net.PacketConn
		err error
	)
	// With port 0 the TCP port picked may be taken for UDP; try again.
	for range 10 {
		ln, err = net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("dnstest: %w", err)
		}
		pc, err = net.ListenPacket("udp", ln.Addr().String())
		if err == nil {
			break
		}
		ln.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("dnstest: %w", err)
	}
	s.addr = ln.Addr().String()
	h := mdns.HandlerFunc(s.serve)
	s.udp = &mdns.Server{PacketConn: pc, Handler: h}
	s.tcp = &mdns.Server{Listener: ln, Handler: h}
	for _, srv := range []*mdns.Server{s.udp, s.tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		errc := make(chan error, 1)
		go func() { errc <- srv.ActivateAndServe() }()
		select {
		case <-started:
		case err := <-errc:
			s.Close()
			return nil, fmt.Errorf("dnstest: %w", err)
		}
	}
	return s, nil
}

// Addr is the server's "IP:port", for the resolver's server list.
func (s *Server) Addr() string { return s.addr }

// Close stops the server; delayed answers are abandoned.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		close(s.closed)
		err = errors.Join(s.udp.Shutdown(), s.tcp.Shutdown())
	})
	return err
}

// Add adds records in zone-file form, one per string, such as
// "2.0.0.127.zen.test. 300 IN A 127.0.0.2". Names are absolute. It panics
// on a record that does not parse: that is a bug in the test.
func (s *Server) Add(records ...string) {
	for _, line := range records {
		rr, err := mdns.NewRR(line)
		if err != nil || rr == nil {
			panic(fmt.Sprintf("dnstest: bad record %q: %v", line, err))
		}
		s.AddRR(rr)
	}
}

// AddRR adds records.
func (s *Server) AddRR(rrs ...mdns.RR) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rr := range rrs {
		name := lower(rr.Header().Name)
		s.records[name] = append(s.records[name], rr)
	}
}

// Remove deletes every record of name.
func (s *Server) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.records, lower(name))
}

// Set injects b for every query for name; the zero Behavior clears it.
func (s *Server) Set(name string, b Behavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b == (Behavior{}) {
		delete(s.behave, lower(name))
		return
	}
	s.behave[lower(name)] = b
}

// SetNegativeTTL sets the TTL and MINIMUM of the SOA sent with NXDOMAIN
// and NODATA answers, which is how long resolvers cache them (RFC 2308
// §5); 60 s unless set.
func (s *Server) SetNegativeTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.negTTL = uint32(d / time.Second)
}

// Queries returns the most recent queries received (up to 10,000), oldest
// first.
func (s *Server) Queries() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Query(nil), s.log...)
}

// Count is how many queries for name and qtype arrived, over UDP and TCP
// together.
func (s *Server) Count(name string, qtype uint16) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := lower(name)
	return s.counts[Query{n, qtype, "udp"}] + s.counts[Query{n, qtype, "tcp"}]
}

// Total is how many queries arrived in all.
func (s *Server) Total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.counts {
		n += c
	}
	return n
}

// ResetLog forgets the queries received so far.
func (s *Server) ResetLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
	clear(s.counts)
}

func (s *Server) serve(w mdns.ResponseWriter, req *mdns.Msg) {
	m := new(mdns.Msg)
	if len(req.Question) != 1 {
		m.SetRcode(req, mdns.RcodeFormatError)
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := lower(q.Name)
	network := "udp"
	if _, ok := w.LocalAddr().(*net.TCPAddr); ok {
		network = "tcp"
	}

	s.mu.Lock()
	query := Query{name, q.Qtype, network}
	s.counts[query]++
	if len(s.log) == maxLog {
		s.log = append(s.log[:0], s.log[1:]...)
	}
	s.log = append(s.log, query)
	b := s.behave[name]
	m.SetReply(req)
	m.RecursionAvailable = true
	exists := s.fill(m, name, q.Qtype)
	negTTL := s.negTTL
	s.mu.Unlock()

	if b.Delay > 0 {
		t := time.NewTimer(b.Delay)
		select {
		case <-t.C:
		case <-s.closed:
			t.Stop()
			return
		}
	}
	switch {
	case b.Drop:
		return
	case b.Rcode != 0:
		m.Answer = nil
		m.Rcode = b.Rcode
	case b.TruncateUDP && network == "udp":
		m.Answer = nil
		m.Truncated = true
	case len(m.Answer) == 0:
		if !exists {
			m.Rcode = mdns.RcodeNameError
		}
		m.Ns = []mdns.RR{&mdns.SOA{
			Hdr: mdns.RR_Header{Name: "dnstest.", Rrtype: mdns.TypeSOA, Class: mdns.ClassINET, Ttl: negTTL},
			Ns:  "ns.dnstest.", Mbox: "hostmaster.dnstest.", Serial: 1,
			Refresh: 3600, Retry: 600, Expire: 86400, Minttl: negTTL,
		}}
	}
	if opt := req.IsEdns0(); opt != nil {
		m.SetEdns0(opt.UDPSize(), false)
	}
	if network == "udp" {
		size := mdns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
		}
		m.Truncate(size)
	}
	w.WriteMsg(m)
}

// fill puts the records of name and qtype into m's answer, following
// CNAMEs within the map, and reports whether name exists: it has records
// of some type, or names below it do (an empty non-terminal, RFC 8020).
func (s *Server) fill(m *mdns.Msg, name string, qtype uint16) bool {
	exists := len(s.records[name]) > 0
	if !exists {
		for n := range s.records {
			if strings.HasSuffix(n, "."+name) {
				exists = true
				break
			}
		}
	}
	for range 8 {
		var cname string
		for _, rr := range s.records[name] {
			switch t := rr.Header().Rrtype; {
			case t == qtype:
				m.Answer = append(m.Answer, mdns.Copy(rr))
			case t == mdns.TypeCNAME && cname == "":
				cname = lower(rr.(*mdns.CNAME).Target)
				m.Answer = append(m.Answer, mdns.Copy(rr))
			}
		}
		if cname == "" || qtype == mdns.TypeCNAME {
			break
		}
		name = cname
	}
	return exists
}

func lower(name string) string { return mdns.CanonicalName(name) }
