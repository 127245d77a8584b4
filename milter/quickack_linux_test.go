package milter

import (
	"encoding/binary"
	"io"
	"net"
	"syscall"
	"testing"
)

// TestQuickAck proves the cure for the per-message stall over TCP: after
// each packet the milter side of a TCP connection is back in quick-ACK
// mode, so an MTA's second unanswered write is never held by Nagle waiting
// for a delayed ACK. An interactive exchange (a reply to every packet)
// puts a Linux socket in delayed-ACK ("pingpong") mode; without the guard's
// re-arming it stays there.
func TestQuickAck(t *testing.T) {
	for _, rearm := range []bool{false, true} {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		gl := guardListener{Listener: ln, maxPacket: maxPacket}
		client, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		srv, err := gl.Accept()
		if err != nil {
			t.Fatal(err)
		}
		g := srv.(*guardConn)
		if g.quickAck == nil {
			t.Fatal("a TCP connection has no quick-ACK re-arming")
		}
		if !rearm {
			g.quickAck = nil
		}
		pkt := binary.BigEndian.AppendUint32(nil, 2)
		pkt = append(pkt, 'T', 'x')
		var quick int
		for range 50 {
			if _, err := client.Write(pkt); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, len(pkt))
			if _, err := io.ReadFull(g, buf); err != nil {
				t.Fatal(err)
			}
			quick = quickAckState(t, g.Conn)
			if _, err := srv.Write([]byte("ok")); err != nil { // the reply
				t.Fatal(err)
			}
			if _, err := io.ReadFull(client, make([]byte, 2)); err != nil {
				t.Fatal(err)
			}
		}
		if rearm && quick != 1 {
			t.Errorf("with re-arming, TCP_QUICKACK = %d after a packet; want 1", quick)
		}
		if !rearm && quick != 0 {
			t.Logf("without re-arming the socket did not enter delayed-ACK mode (TCP_QUICKACK = %d); the kernel may differ", quick)
		}
		client.Close()
		srv.Close()
		ln.Close()
	}
}

func quickAckState(t *testing.T, c net.Conn) int {
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := raw.Control(func(fd uintptr) { v, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK) }); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}
