package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFullDisk runs the server with its store on a small file system and
// fills it: the server says so on /health, goes on probing and serving the
// page, and writes what it kept once there is room again.
func TestFullDisk(t *testing.T) {
	disk := filepath.Join(t.TempDir(), "disk")
	os.Mkdir(disk, 0o700)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", disk).CombinedOutput(); err != nil {
		msg := fmt.Sprintf("cannot mount a small tmpfs to fill (needs root): %v %s", err, out)
		if os.Getenv("OVERVAKT_TEST_REQUIRE_SERVICES") == "1" && os.Geteuid() == 0 {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", disk).Run() })

	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer target.Close()
	hooks := newHookLog(t)
	addr := freePort(t)
	cfg := filepath.Join(t.TempDir(), "overvakt.toml")
	text := restartConfig(addr, hooks.srv.URL, target.URL, filepath.Join(disk, "overvakt.db"))
	os.WriteFile(cfg, []byte(text), 0o600)
	c := client{"http://" + addr}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"-c", cfg}, io.Discard, io.Discard) }()
	defer func() { cancel(); <-done }()
	waitUp(t, c.base)

	health := func() string {
		resp, err := http.Get(c.base + "/health")
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return fmt.Sprintf("status %d", resp.StatusCode)
		}
		return string(b)
	}
	if h := health(); h != "ok" {
		t.Fatalf("/health = %q before the disk fills", h)
	}

	// Fill the disk to the last byte.
	filler, err := os.Create(filepath.Join(disk, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := filler.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	filler.Close()
	for range 64 { // and the last few bytes
		f, err := os.CreateTemp(disk, "tail")
		if err != nil {
			break
		}
		f.Write(chunk[:512])
		f.Close()
	}

	deadline := time.Now().Add(15 * time.Second)
	for !strings.HasPrefix(health(), "degraded: store: ") {
		if time.Now().After(deadline) {
			t.Fatalf("/health = %q 15 s after the disk filled, want degraded", health())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("/health: %s", health())
	// Probing and the page go on.
	updated := func() string {
		resp, err := http.Get(c.base + "/status/report")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r struct{ Updated string }
		json.NewDecoder(resp.Body).Decode(&r)
		return r.Updated
	}
	first := updated()
	time.Sleep(1500 * time.Millisecond)
	if updated() == first {
		t.Error("no probe result reached the page in 1.5 s while the disk was full")
	}
	resp, err := http.Get(c.base + "/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("page while the disk is full: %v %v", resp, err)
	}
	resp.Body.Close()

	os.Remove(filepath.Join(disk, "filler"))
	deadline = time.Now().Add(15 * time.Second)
	for health() != "ok" {
		if time.Now().After(deadline) {
			t.Fatalf("/health = %q 15 s after room was made, want ok", health())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
