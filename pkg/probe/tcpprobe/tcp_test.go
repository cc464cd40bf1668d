package tcpprobe

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/probe"
	"github.com/overvakt/overvakt/pkg/probe/probetest"
	"github.com/overvakt/overvakt/pkg/status"
)

func TestTCP(t *testing.T) {
	scenarios := []struct {
		name    string
		addr    func(testing.TB) string
		want    status.Status
		wantErr string
	}{
		{name: "open port is healthy", addr: probetest.OpenPort, want: status.Healthy},
		{name: "closed port is dead", addr: probetest.ClosedPort, want: status.Dead, wantErr: "connect: connection refused"},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			addr := sc.addr(t)
			rep := firstResult(t, testConfig(pollNode("tcp://"+addr)))
			if rep.Status != sc.want {
				t.Errorf("status = %s (%q), want %s", rep.Status, rep.Error, sc.want)
			}
			if sc.wantErr == "" && rep.Error != "" {
				t.Errorf("error = %q, want none", rep.Error)
			}
			if want := "dial tcp " + addr + ": " + sc.wantErr; sc.wantErr != "" && rep.Error != want {
				t.Errorf("error = %q, want %q", rep.Error, want)
			}
		})
	}
}

func TestNewSchedulerRejectsTCPWithoutPort(t *testing.T) {
	cfg := testConfig(pollNode("tcp://db.internal"))
	_, err := probe.NewScheduler(probe.Options{Config: cfg, Registry: status.NewRegistry(cfg.StatusSpecs(), time.Now()), Kinds: testKinds})
	if err == nil || !strings.Contains(err.Error(), "probe.service[0].node[0].replicas[0]: want tcp://host:port") {
		t.Errorf("err = %v, want the replica named and tcp://host:port asked for", err)
	}
}

// A connection this server cannot open for want of file descriptors says
// nothing about the target: the attempt is inconclusive.
func TestNoFileDescriptorsIsInconclusive(t *testing.T) {
	addr := probetest.OpenPort(t)
	b, err := Kind().Prepare(&probe.Env{Metrics: &testConfig().Metrics, Dialer: &net.Dialer{KeepAlive: -1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := pollNode("tcp://" + addr)
	target, err := b.Target(&n, 0)
	if err != nil {
		t.Fatal(err)
	}
	var a probe.Attempt
	probetest.WithoutFDs(t, func() { a = target.Probe(t.Context()) })
	if !a.Inconclusive || !strings.HasPrefix(a.Err, "this server has no file descriptors left") || !strings.Contains(a.Err, "too many open files") {
		t.Errorf("got %+v, want an inconclusive attempt blaming the file descriptors", a)
	}
	if a := target.Probe(t.Context()); a.Status != status.Healthy || a.Inconclusive {
		t.Errorf("with descriptors again: %+v, want healthy", a)
	}
}
