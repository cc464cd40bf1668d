package icmpprobe

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/probe"
	"github.com/overvakt/overvakt/pkg/status"
)

func TestICMPLoopback(t *testing.T) {
	scenarios := []struct {
		socket string
		host   string
	}{{"auto", "127.0.0.1"}, {"raw", "127.0.0.1"}, {"dgram", "127.0.0.1"}, {"auto", "[::1]"}}
	for _, sc := range scenarios {
		t.Run(sc.socket+" "+sc.host, func(t *testing.T) {
			cfg := testConfig(pollNode("icmp://" + sc.host))
			cfg.Plugins = config.Plugins{"icmp": &Plugin{Socket: sc.socket}}
			rep := firstResult(t, cfg)
			if rep.Status == status.Healthy && !rep.Checked.IsZero() {
				if rep.Latency <= 0 {
					t.Errorf("latency = %v, want the echo round trip", rep.Latency)
				}
				return
			}
			socketErr := strings.Contains(rep.Error, "raw socket:") || strings.Contains(rep.Error, "dgram socket:")
			if !socketErr && sc.host == "[::1]" && (strings.Contains(rep.Error, "address family not supported") ||
				strings.Contains(rep.Error, "cannot assign requested address") || strings.Contains(rep.Error, "network is unreachable")) {
				t.Skipf("no IPv6 loopback here: %s", rep.Error)
			}
			if !socketErr {
				t.Fatalf("status = %s (%q), want healthy", rep.Status, rep.Error)
			}
			// The message must say which kind failed and what to change.
			if strings.Contains(rep.Error, "dgram socket:") && !strings.Contains(rep.Error, "ping_group_range") {
				t.Errorf("dgram failure does not mention ping_group_range: %q", rep.Error)
			}
			if strings.Contains(rep.Error, "raw socket:") && !strings.Contains(rep.Error, "CAP_NET_RAW") {
				t.Errorf("raw failure does not mention CAP_NET_RAW: %q", rep.Error)
			}
			// Without permission the fault is this server's, not the host's:
			// the replica keeps its status.
			if denied := strings.Contains(rep.Error, "permission denied") || strings.Contains(rep.Error, "operation not permitted"); denied &&
				(!rep.Checked.IsZero() || !strings.HasPrefix(rep.Error, "could not check: no permission for ICMP sockets: ")) {
				t.Errorf("a socket refused for want of permission gave %s %q (checked %v), want the status kept and \"could not check\"",
					rep.Status, rep.Error, rep.Checked)
			}
			if sc.socket != "auto" {
				t.Skipf("this system forbids %s ICMP sockets: %s", sc.socket, rep.Error)
			}
			if os.Getenv("OVERVAKT_TEST_REQUIRE_SERVICES") == "1" {
				t.Fatalf("no ICMP socket kind works here: %s", rep.Error)
			}
			t.Skipf("this system forbids both ICMP socket kinds (run as root, grant CAP_NET_RAW or widen net.ipv4.ping_group_range): %s", rep.Error)
		})
	}
}

func TestICMPAutoRemembersTheWorkingSocket(t *testing.T) {
	socks, err := newSockets("auto")
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(pollNode("icmp://127.0.0.1"))
	rep := firstResult(t, cfg)
	if rep.Status != status.Healthy {
		t.Skipf("ICMP does not work here: %s", rep.Error)
	}
	target := &target{host: "127.0.0.1", sockets: socks, deadline: 2 * time.Second}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if _, err := target.check(ctx); err != nil {
		t.Fatal(err)
	}
	kind := socketKind(socks.worked.Load())
	if kind == socketUnknown {
		t.Fatal("auto mode did not remember the socket kind that worked")
	}
	if first := socks.order()[0]; first != kind {
		t.Errorf("next probe tries %s first, want the remembered %s", first, kind)
	}
}

func TestNewSchedulerRejectsUnknownSocketKind(t *testing.T) {
	cfg := testConfig(pollNode("icmp://127.0.0.1"))
	cfg.Plugins = config.Plugins{"icmp": &Plugin{Socket: "packet"}}
	_, err := probe.NewScheduler(probe.Options{Config: cfg, Registry: status.NewRegistry(cfg.StatusSpecs(), time.Now()), Kinds: testKinds})
	if err == nil || !strings.Contains(err.Error(), `plugins.icmp.socket: "packet"`) {
		t.Errorf("err = %v, want the socket key named", err)
	}
}
