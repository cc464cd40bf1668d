package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDescriptorFlood runs the real binary with 256 open files at most
// and opens 1,100 idle connections to it from eleven other addresses, as
// an attacker would: connections over the caps are turned away or make
// room for newer ones, the page keeps answering other clients, probes
// keep running, and no healthy target is alerted as dead.
func TestDescriptorFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and floods the real binary")
	}
	var attackers []*net.Dialer
	for i := 2; i <= 12; i++ {
		attackers = append(attackers, &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(i))}, Timeout: 2 * time.Second})
	}
	if c, err := attackers[0].Dial("tcp", freePort(t)); err != nil && strings.Contains(err.Error(), "bind") {
		t.Skipf("cannot dial from 127.0.0.2 on this machine: %v", err)
	} else if c != nil {
		c.Close()
	}
	bin := filepath.Join(t.TempDir(), "overvakt")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer target.Close()
	hooks := newHookLog(t)
	addr := freePort(t)
	dir := t.TempDir()
	replicas := make([]string, 20)
	for i := range replicas {
		replicas[i] = fmt.Sprintf("%q", fmt.Sprintf("%s/health?r=%d", target.URL, i))
	}
	cfg := filepath.Join(dir, "overvakt.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`[server]
log_level = "info"
inet = %q
manager_token = "manager-token-0123456789"
reporter_token = "reporter-token-0123456789"
max_connections_per_ip = 100

[storage]
path = %q

[metrics]
poll_interval = 1
poll_delay_sick = 1
poll_delay_dead = 2

[notify]
startup_notification = true

[notify.webhook]
hook_url = "%s/hook"

[[probe.service]]
id = "web"

[[probe.service.node]]
id = "api"
mode = "poll"
replicas = [%s]
`, addr, filepath.Join(dir, "overvakt.db"), hooks.srv.URL, strings.Join(replicas, ", "))), 0o600)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// dash and bash both set the limits of the program they exec.
	server := exec.CommandContext(ctx, "sh", "-c", `ulimit -Sn 256 && ulimit -Hn 256 && exec "$0" -c "$1"`, bin, cfg)
	logs := &lockedBuffer{}
	server.Stderr = logs
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		server.Process.Signal(os.Interrupt)
		server.Wait()
	}()
	base := "http://" + addr
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	waitUp(t, base)
	if first := hooks.waitFor(t, 1, 10*time.Second); first[0]["status"] != "healthy" {
		t.Fatalf("start-up notice %v, want healthy", first[0])
	}

	// The flood: 1,100 connections that never send a byte.
	var held, turnedAway int
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range 1100 {
		c, err := attackers[i%len(attackers)].Dial("tcp", addr)
		if err != nil {
			turnedAway++
			continue
		}
		conns = append(conns, c)
	}
	// Connections over an address's cap get a 503; at the total cap the
	// oldest silent ones are closed to make room.
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		b := make([]byte, 12)
		n, err := io.ReadFull(c, b)
		switch {
		case n > 0 && strings.HasPrefix(string(b[:n]), "HTTP/1.1 503"), err == io.EOF:
			turnedAway++
		default:
			held++
		}
	}
	t.Logf("flood: %d connections held, %d turned away or closed", held, turnedAway)
	// 256 open files less the reserve for probes and the store (76).
	if held > 180 {
		t.Errorf("the attacker holds %d connections, more than the cap of 180", held)
	}

	// Meanwhile, for five seconds (ten probe rounds), the page answers
	// and the probes see healthy targets.
	client := &http.Client{Timeout: 2 * time.Second}
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		resp, err := client.Get(base + "/status/text")
		if err != nil {
			t.Fatalf("the page did not answer during the flood: %v\n%s", err, logs.String())
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "healthy" {
			t.Fatalf("/status/text during the flood: %d %q", resp.StatusCode, body)
		}
	}
	for _, h := range hooks.all() {
		if h["status"] != "healthy" {
			t.Errorf("a notification during the flood: %v", h)
		}
	}
	if strings.Contains(logs.String(), "too many open files") {
		t.Errorf("the server ran out of descriptors:\n%s", logs.String())
	}
}
