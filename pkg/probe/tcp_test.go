package probe

import (
	"net"
	"testing"

	"github.com/overvakt/overvakt/pkg/status"
)

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// openPort returns a loopback address that accepts connections.
func openPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
}

func TestTCP(t *testing.T) {
	scenarios := []struct {
		name    string
		addr    func(*testing.T) string
		want    status.Status
		wantErr string
	}{
		{name: "open port is healthy", addr: openPort, want: status.Healthy},
		{name: "closed port is dead", addr: closedPort, want: status.Dead, wantErr: "connect: connection refused"},
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
