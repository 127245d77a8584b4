package milter

import (
	"context"
	"testing"
	"time"
)

func TestBudget(t *testing.T) {
	b := newBudget(100)
	if !b.TryAcquire(60) {
		t.Fatal("TryAcquire(60) of 100 failed")
	}
	// A scan of 50 waits; a later one of 30 waits behind it (in order),
	// though 40 are free.
	got := make(chan int64, 2)
	for _, n := range []int64{50, 30} {
		go func() {
			if err := b.Acquire(context.Background(), n); err != nil {
				t.Error(err)
			}
			got <- n
		}()
		time.Sleep(20 * time.Millisecond)
	}
	// What a session holds is taken while scans wait, if it is free.
	if !b.TryAcquire(10) {
		t.Fatal("TryAcquire(10) with 40 free and scans waiting failed")
	}
	if b.TryAcquire(40) {
		t.Fatal("TryAcquire(40) with 30 free succeeded")
	}
	select {
	case n := <-got:
		t.Fatalf("Acquire(%d) returned with 30 free", n)
	case <-time.After(20 * time.Millisecond):
	}
	// 40 free: the 30 would fit, but the 50 came first.
	b.Release(10)
	select {
	case n := <-got:
		t.Fatalf("Acquire(%d) served ahead of its turn", n)
	case <-time.After(20 * time.Millisecond):
	}
	b.Release(50) // 90 free: both
	if n, m := <-got, <-got; n+m != 80 {
		t.Fatalf("served %d and %d, want 50 and 30", n, m)
	}
	// A waiter that gives up lets the ones behind it through.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := b.Acquire(ctx, 50); err == nil {
		t.Fatal("Acquire(50) with 10 free did not time out")
	}
	b.Release(10)
	if err := b.Acquire(context.Background(), 20); err != nil {
		t.Fatal(err)
	}
	b.Release(50)
	b.Release(20)
	b.Release(30)
	if b.cur != 0 || b.waiters.Len() != 0 {
		t.Errorf("left cur %d, %d waiters", b.cur, b.waiters.Len())
	}
}
