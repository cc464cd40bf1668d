package probe_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/overvakt/overvakt/pkg/probe"
	"github.com/overvakt/overvakt/pkg/status"
)

func TestResult(t *testing.T) {
	dial := func(err error) error {
		return fmt.Errorf("GET http://10.0.0.1/: %w", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("socket", err)})
	}
	scenarios := []struct {
		name         string
		err          error
		inconclusive bool
		lookupFailed bool
		wantErr      string // prefix
	}{
		{name: "healthy"},
		{name: "refused is the target's", err: dial(syscall.ECONNREFUSED), wantErr: "GET http://10.0.0.1/: dial tcp: socket: connection refused"},
		{name: "no file descriptors left", err: dial(syscall.EMFILE), inconclusive: true,
			wantErr: "this server has no file descriptors left (raise its limit, e.g. LimitNOFILE in the systemd unit): GET http://10.0.0.1/"},
		{name: "none in the system either", err: dial(syscall.ENFILE), inconclusive: true,
			wantErr: "the system has no file descriptors left: GET"},
		{name: "no file descriptors for the C library's lookup", inconclusive: true,
			err:     &net.DNSError{Err: "too many open files", Name: "example.com"},
			wantErr: "this server has no file descriptors left"},
		{name: "marked by the kind", err: probe.MarkServerFault(errors.New("icmp 127.0.0.1: dgram socket: permission denied"), "no permission for ICMP sockets"),
			inconclusive: true, wantErr: "no permission for ICMP sockets: icmp 127.0.0.1: dgram socket: permission denied"},
		{name: "a lookup that timed out", err: dial(&net.DNSError{Err: "i/o timeout", Name: "example.com", IsTimeout: true}),
			lookupFailed: true, wantErr: "GET http://10.0.0.1/: dial tcp: socket: lookup example.com: i/o timeout"},
		{name: "no such host is the name's", err: dial(&net.DNSError{Err: "no such host", Name: "example.com", IsNotFound: true}),
			wantErr: "GET http://10.0.0.1/: dial tcp: socket: lookup example.com: no such host"},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			a := probe.Result(0, sc.err)
			want := status.Dead
			if sc.err == nil {
				want = status.Healthy
			}
			if a.Status != want || a.Inconclusive != sc.inconclusive || a.LookupFailed != sc.lookupFailed || !strings.HasPrefix(a.Err, sc.wantErr) {
				t.Errorf("got %s inconclusive=%t lookup=%t %q\nwant %s inconclusive=%t lookup=%t %q…",
					a.Status, a.Inconclusive, a.LookupFailed, a.Err, want, sc.inconclusive, sc.lookupFailed, sc.wantErr)
			}
		})
	}
}
