// Package tcpprobe probes tcp://host:port replicas: up when a connection
// opens within poll_delay_dead.
package tcpprobe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/probe"
)

// Kind is the TCP probe kind.
func Kind() probe.Kind {
	return probe.Kind{
		ProbeKind: config.ProbeKind{Name: "tcp", Schemes: []string{"tcp"}, CheckURL: checkURL},
		Prepare: func(env *probe.Env, _ config.Table) (probe.Builder, error) {
			return &builder{dialer: env.Dialer, deadline: env.Metrics.PollDelayDead.Duration()}, nil
		},
	}
}

func checkURL(u *url.URL) string {
	switch {
	case u.Hostname() == "":
		return "missing host; write tcp://host:port"
	case u.Port() == "":
		return "missing port; write tcp://host:port"
	case !config.IsPort(u.Port(), false):
		return fmt.Sprintf("bad port %q; want a number from 1 to 65535", u.Port())
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil:
		return "tcp replicas take only host and port; write tcp://host:port"
	}
	return ""
}

type builder struct {
	dialer   *net.Dialer
	deadline time.Duration // poll_delay_dead, for messages
}

func (b *builder) Target(n *config.Node, i int) (probe.Target, error) {
	u, err := url.Parse(n.Replicas[i])
	if err != nil || u.Hostname() == "" || u.Port() == "" {
		return nil, errors.New("want tcp://host:port")
	}
	return &target{addr: u.Host, b: b}, nil
}

func (b *builder) NodeCheck(*config.Node) probe.NodeCheck { return nil }
func (b *builder) Close()                                 {}

// target is one tcp://host:port replica.
type target struct {
	addr string // host:port
	b    *builder
}

func (t *target) Probe(ctx context.Context) probe.Attempt {
	start := time.Now()
	c, err := t.b.dialer.DialContext(ctx, "tcp", t.addr)
	latency := time.Since(start)
	if err != nil {
		var ne net.Error
		var dns *net.DNSError
		switch {
		case (ctx.Err() != nil || errors.As(err, &ne) && ne.Timeout()) && errors.As(err, &dns):
			// Keep the lookup's error: the scheduler asks whether the
			// resolver fails for every name (probe.Attempt.LookupFailed).
			err = fmt.Errorf("dial tcp %s: no connection within %s (%w)", t.addr, t.b.deadline, dns)
		case ctx.Err() != nil || errors.As(err, &ne) && ne.Timeout():
			err = fmt.Errorf("dial tcp %s: no connection within %s", t.addr, t.b.deadline)
		}
		// else: "dial tcp 127.0.0.1:9: connect: connection refused"
		return probe.Result(latency, err)
	}
	c.Close()
	return probe.Result(latency, nil)
}
