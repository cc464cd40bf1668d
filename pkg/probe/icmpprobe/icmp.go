// Package icmpprobe probes icmp://host replicas: up when every address of
// the host answers an echo request; the latency is the slowest answer. Its
// [plugins.icmp] table picks the socket kind.
package icmpprobe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-ping/ping"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/probe"
)

// Kind is the ICMP probe kind.
func Kind() probe.Kind {
	return probe.Kind{
		ProbeKind: config.ProbeKind{Name: "icmp", Schemes: []string{"icmp"}, CheckURL: checkURL,
			Plugin: func() config.Table { return &Plugin{Socket: "auto"} }},
		Prepare: prepare,
	}
}

// Plugin is [plugins.icmp].
type Plugin struct {
	// Socket is "auto" (unprivileged datagram ICMP, then raw), "raw" or "dgram".
	Socket string `toml:"socket"`
}

// Check implements config.Table.
func (p *Plugin) Check(c *config.Check) {
	c.OneOf("socket", p.Socket, "ICMP socket kind", "auto", "raw", "dgram")
}

func checkURL(u *url.URL) string {
	switch {
	case u.Hostname() == "":
		return "missing host; write icmp://host"
	case u.Port() != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil:
		return "icmp replicas take only a host; write icmp://host"
	}
	return ""
}

func prepare(env *probe.Env, table config.Table) (probe.Builder, error) {
	p, _ := table.(*Plugin)
	if p == nil {
		p = &Plugin{Socket: "auto"}
	}
	sockets, err := newSockets(p.Socket)
	if err != nil {
		return nil, err
	}
	return &builder{sockets: sockets, deadline: env.Metrics.PollDelayDead.Duration()}, nil
}

type builder struct {
	sockets  *sockets // shared by all ICMP replicas
	deadline time.Duration
}

func (b *builder) Target(n *config.Node, i int) (probe.Target, error) {
	u, err := url.Parse(n.Replicas[i])
	if err != nil || u.Hostname() == "" {
		return nil, errors.New("want icmp://host")
	}
	return &target{host: u.Hostname(), sockets: b.sockets, deadline: b.deadline}, nil
}

func (b *builder) NodeCheck(*config.Node) probe.NodeCheck { return nil }
func (b *builder) Close()                                 {}

// socketKind is how echo requests are sent.
type socketKind int32

const (
	socketUnknown socketKind = iota
	// socketDgram is unprivileged ICMP (SOCK_DGRAM, IPPROTO_ICMP): allowed for
	// processes whose group is within net.ipv4.ping_group_range.
	socketDgram
	// socketRaw needs root or CAP_NET_RAW.
	socketRaw
)

func (k socketKind) String() string {
	switch k {
	case socketDgram:
		return "dgram"
	case socketRaw:
		return "raw"
	}
	return "unknown"
}

// sockets picks the socket kind for all ICMP replicas of a scheduler and,
// in auto mode, remembers the kind that last worked so later probes try it
// first instead of failing over on every probe.
type sockets struct {
	fixed  socketKind // from [plugins.icmp] socket; socketUnknown for "auto"
	worked atomic.Int32
}

func newSockets(mode string) (*sockets, error) {
	switch mode {
	case "", "auto":
		return &sockets{}, nil
	case "dgram":
		return &sockets{fixed: socketDgram}, nil
	case "raw":
		return &sockets{fixed: socketRaw}, nil
	}
	return nil, fmt.Errorf("plugins.icmp.socket: %q is not a socket kind (want auto, raw or dgram)", mode)
}

// order lists the kinds to try, best bet first.
func (s *sockets) order() [2]socketKind {
	if s.fixed != socketUnknown {
		return [2]socketKind{s.fixed}
	}
	if socketKind(s.worked.Load()) == socketRaw {
		return [2]socketKind{socketRaw, socketDgram}
	}
	return [2]socketKind{socketDgram, socketRaw}
}

// target is an icmp://host replica.
type target struct {
	host     string
	sockets  *sockets
	deadline time.Duration // poll_delay_dead, for messages
}

func (t *target) Probe(ctx context.Context) probe.Attempt {
	return probe.Result(t.check(ctx))
}

func (t *target) check(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	var addrs []net.IPAddr
	if ip := net.ParseIP(t.host); ip != nil {
		addrs = []net.IPAddr{{IP: ip}}
	} else {
		var err error
		addrs, err = net.DefaultResolver.LookupIPAddr(ctx, t.host)
		if err != nil {
			if ctx.Err() != nil {
				// Keep the lookup's error: the scheduler asks whether the
				// resolver fails for every name (probe.Attempt.LookupFailed).
				return time.Since(start), fmt.Errorf("icmp %s: no address within %s (%w)", t.host, t.deadline, err)
			}
			return time.Since(start), fmt.Errorf("icmp %s: %w", t.host, err)
		}
	}
	if len(addrs) == 1 {
		return t.ping(ctx, addrs[0])
	}
	rtts := make([]time.Duration, len(addrs))
	errs := make([]string, len(addrs))
	var wg sync.WaitGroup
	for i := range addrs {
		wg.Go(func() {
			var err error
			if rtts[i], err = t.ping(ctx, addrs[i]); err != nil {
				errs[i] = err.Error()
			}
		})
	}
	wg.Wait()
	errs = slices.DeleteFunc(errs, func(e string) bool { return e == "" })
	if len(errs) > 0 {
		return slices.Max(rtts), errors.New(strings.Join(errs, "; "))
	}
	return slices.Max(rtts), nil
}

// ping sends one echo request to addr, falling back to the other socket kind
// in auto mode when a socket cannot be opened.
func (t *target) ping(ctx context.Context, addr net.IPAddr) (time.Duration, error) {
	var failures []string
	denied := true // every socket kind was refused for want of permission
	for _, kind := range t.sockets.order() {
		if kind == socketUnknown {
			break
		}
		rtt, err := echo(ctx, addr, kind == socketRaw)
		if err == nil {
			t.sockets.worked.Store(int32(kind))
			return rtt, nil
		}
		var se *os.SyscallError
		if !errors.As(err, &se) || se.Syscall != "socket" {
			if ctx.Err() != nil || errors.Is(err, errNoReply) {
				return rtt, fmt.Errorf("icmp %s: no echo reply within %s", addr.String(), t.deadline)
			}
			return rtt, fmt.Errorf("icmp %s (%s socket): %w", addr.String(), kind, err)
		}
		if probe.ServerFault(se) != "" { // out of file descriptors: the other kind fares no better
			return 0, fmt.Errorf("icmp %s (%s socket): %w", addr.String(), kind, se)
		}
		failures = append(failures, socketFailure(kind, se))
		denied = denied && (errors.Is(se, syscall.EPERM) || errors.Is(se, syscall.EACCES))
	}
	t.sockets.worked.Store(int32(socketUnknown))
	err := fmt.Errorf("icmp %s: %s", addr.String(), strings.Join(failures, "; "))
	if denied {
		// Not the host's fault: this server may not send echo requests.
		err = probe.MarkServerFault(err, "no permission for ICMP sockets")
	}
	return 0, err
}

var errNoReply = errors.New("no echo reply")

// echo runs one go-ping round trip. go-ping has no context, so a cancelled
// ctx stops the pinger and the ctx deadline is its timeout.
func echo(ctx context.Context, addr net.IPAddr, raw bool) (time.Duration, error) {
	wait := time.Second
	if deadline, ok := ctx.Deadline(); ok {
		wait = time.Until(deadline)
	}
	if wait <= 0 {
		return 0, errNoReply
	}
	p := ping.New("")
	p.SetIPAddr(&addr)
	p.SetPrivileged(raw)
	p.SetLogger(ping.NoopLogger{})
	p.Count = 1
	p.Interval = wait // a single request is sent
	p.Timeout = wait
	p.RecordRtts = false
	stop := context.AfterFunc(ctx, p.Stop)
	defer stop()
	if err := p.Run(); err != nil {
		return 0, err
	}
	st := p.Statistics()
	if st.PacketsRecv == 0 {
		return 0, errNoReply
	}
	return st.MaxRtt, nil
}

// socketFailure says which socket kind failed, why, and what to change.
func socketFailure(kind socketKind, err *os.SyscallError) string {
	if kind == socketRaw {
		return fmt.Sprintf("raw socket: %v (raw ICMP needs root or CAP_NET_RAW, e.g. AmbientCapabilities=CAP_NET_RAW in the systemd unit)", err)
	}
	rng := "unreadable"
	if b, rerr := os.ReadFile("/proc/sys/net/ipv4/ping_group_range"); rerr == nil {
		rng = strings.Join(strings.Fields(string(b)), " ")
	}
	return fmt.Sprintf("dgram socket: %v (unprivileged ICMP needs the process group %d within net.ipv4.ping_group_range, now %q; "+
		"widen it with sysctl net.ipv4.ping_group_range, or use socket = \"raw\")", err, os.Getegid(), rng)
}
