package throttle

import (
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"
)

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

var addr = netip.MustParseAddr

// step is one failure in TestBlocksAfterRepeatedFailures.
type step struct {
	after     time.Duration // on the clock before this step
	ip        string
	wantBlock time.Duration // what Fail returns
	wantWait  time.Duration // Wait of the same address afterwards
}

func TestBlocksAfterRepeatedFailures(t *testing.T) {
	cases := []struct {
		name  string
		steps []step
	}{
		{"the tenth failure within a minute blocks for a minute", append(repeat(9, step{0, "192.0.2.1", 0, 0}),
			step{0, "192.0.2.1", time.Minute, time.Minute})},
		{"failures spread over more than the window do not block", append(repeat(9, step{0, "192.0.2.1", 0, 0}),
			step{time.Minute, "192.0.2.1", 0, 0})},
		{"other addresses count on their own", append(repeat(9, step{0, "192.0.2.1", 0, 0}),
			step{0, "192.0.2.2", 0, 0}, step{0, "192.0.2.1", time.Minute, time.Minute})},
		{"an IPv4-mapped address is the IPv4 one", append(repeat(9, step{0, "192.0.2.1", 0, 0}),
			step{0, "::ffff:192.0.2.1", time.Minute, time.Minute})},
		{"one IPv6 /64 counts as one client", append(repeat(9, step{0, "2001:db8:1:2::1", 0, 0}),
			step{0, "2001:db8:1:2:ffff::9", time.Minute, time.Minute})},
		{"another /64 does not", append(repeat(9, step{0, "2001:db8:1:2::1", 0, 0}),
			step{0, "2001:db8:1:3::1", 0, 0})},
		{"failures while blocked do not stretch the block", append(repeat(10, step{0, "192.0.2.1", 0, 0})[:9],
			step{0, "192.0.2.1", time.Minute, time.Minute}, step{30 * time.Second, "192.0.2.1", 0, 30 * time.Second},
			step{29 * time.Second, "192.0.2.1", 0, time.Second})},
		{"after the block ten more failures are needed", append(append(repeat(9, step{0, "192.0.2.1", 0, 0}),
			step{0, "192.0.2.1", time.Minute, time.Minute}, step{time.Minute, "192.0.2.1", 0, 0}),
			append(repeat(8, step{0, "192.0.2.1", 0, 0}), step{0, "192.0.2.1", time.Minute, time.Minute})...)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			th := New(Options{Now: clk.Now})
			for i, st := range tc.steps {
				clk.Add(st.after)
				if got, _ := th.Fail(addr(st.ip)); got != st.wantBlock {
					t.Fatalf("step %d: Fail(%s) = %v, want %v", i, st.ip, got, st.wantBlock)
				}
				if got := th.Wait(addr(st.ip)); got != st.wantWait {
					t.Fatalf("step %d: Wait(%s) = %v, want %v", i, st.ip, got, st.wantWait)
				}
			}
		})
	}
}

func repeat(n int, s step) []step {
	out := make([]step, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestBlockEnds(t *testing.T) {
	clk := newClock()
	th := New(Options{Failures: 3, Block: 5 * time.Minute, Now: clk.Now})
	ip := addr("198.51.100.7")
	for range 2 {
		th.Fail(ip)
	}
	if th.Blocking() {
		t.Fatal("Blocking before any block")
	}
	block, failures := th.Fail(ip)
	if !th.Blocking() {
		t.Fatal("not Blocking during a block")
	}
	if block != 5*time.Minute || failures != 3 {
		t.Fatalf("third failure: block %v after %d failures, want 5m after 3", block, failures)
	}
	clk.Add(5*time.Minute - time.Nanosecond)
	if w := th.Wait(ip); w != time.Nanosecond {
		t.Fatalf("just before the end: wait %v, want 1ns", w)
	}
	clk.Add(time.Nanosecond)
	if w := th.Wait(ip); w != 0 || th.Blocking() {
		t.Fatalf("at the end: wait %v, Blocking %v; want 0 and false", w, th.Blocking())
	}
	if w := th.Wait(addr("198.51.100.8")); w != 0 {
		t.Fatalf("an address never seen waits %v", w)
	}
}

// TestMemoryIsBounded: many addresses never grow the table past Clients,
// the least recently failed go first, and quiet ones are forgotten.
func TestMemoryIsBounded(t *testing.T) {
	clk := newClock()
	th := New(Options{Failures: 2, Clients: 100, Now: clk.Now})
	blocked := addr("203.0.113.1")
	th.Fail(blocked)
	if b, _ := th.Fail(blocked); b == 0 {
		t.Fatal("not blocked")
	}
	for i := range 10_000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		th.Fail(a)
		if n := th.Len(); n > 100 {
			t.Fatalf("after %d addresses the table holds %d, want at most 100", i+1, n)
		}
	}
	if th.Wait(blocked) != 0 {
		t.Error("the least recently failed address was not the one forgotten")
	}
	// A minute of quiet: the next failure clears the stale entries.
	clk.Add(time.Minute)
	th.Fail(addr("192.0.2.99"))
	if n := th.Len(); n != 1 {
		t.Errorf("after a quiet minute the table holds %d, want 1", n)
	}
}

func TestConcurrentUse(t *testing.T) {
	th := New(Options{Clients: 50})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				a := addr("10.0." + strconv.Itoa(g) + "." + strconv.Itoa(i%100))
				th.Fail(a)
				th.Wait(a)
			}
		})
	}
	wg.Wait()
	if n := th.Len(); n > 50 {
		t.Fatalf("table holds %d, want at most 50", n)
	}
}
