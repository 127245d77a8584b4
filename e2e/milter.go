package e2e

import (
	"net"
	"testing"

	"github.com/d--j/go-milter"
)

// StartMilter serves a go-milter server built with opts on a random
// 127.0.0.1 port and returns its address for [StartPostfix] and
// [StartSendmail]. t.Cleanup closes it. opts must include
// [milter.WithMilter].
func StartMilter(t testing.TB, opts ...milter.Option) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("e2e: milter: %v", err)
	}
	srv := milter.NewServer(opts...)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return ln.Addr().String()
}
