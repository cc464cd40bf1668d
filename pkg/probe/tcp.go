package probe

import (
	"context"
	"fmt"
	"net"
	"time"
)

// tcpTarget is a tcp://host:port replica: up when a connection opens.
type tcpTarget struct {
	addr     string // host:port
	dialer   *net.Dialer
	deadline time.Duration // poll_delay_dead, for messages
}

func (t *tcpTarget) check(ctx context.Context, _ *scratch) (time.Duration, error) {
	start := time.Now()
	c, err := t.dialer.DialContext(ctx, "tcp", t.addr)
	latency := time.Since(start)
	if err != nil {
		if ctx.Err() != nil || isTimeout(err) {
			return latency, fmt.Errorf("dial tcp %s: no connection within %s", t.addr, t.deadline)
		}
		return latency, err // "dial tcp 127.0.0.1:9: connect: connection refused"
	}
	c.Close()
	return latency, nil
}
