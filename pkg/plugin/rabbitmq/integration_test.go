package rabbitmq

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/status"
)

// The integration test talks to a real RabbitMQ management API, by default
// the local one with the guest account (guest may only log in from loopback).
func realAPI(t *testing.T) Plugin {
	t.Helper()
	cfg := Plugin{
		APIURL:       envOr("OVERVAKT_TEST_RABBITMQ_API_URL", "http://127.0.0.1:15672"),
		AuthUsername: envOr("OVERVAKT_TEST_RABBITMQ_USER", "guest"),
		AuthPassword: envOr("OVERVAKT_TEST_RABBITMQ_PASSWORD", "guest"),
		VirtualHost:  "/",
	}
	code, err := call(t.Context(), cfg, http.MethodGet, "/api/overview", nil)
	if err == nil && code == http.StatusOK {
		return cfg
	}
	msg := fmt.Sprintf("RabbitMQ management API at %s not usable (status %d, err %v); enable it with `rabbitmq-plugins enable rabbitmq_management`", cfg.APIURL, code, err)
	if os.Getenv("OVERVAKT_TEST_REQUIRE_SERVICES") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return cfg
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// call sends one management API request and returns the status code.
func call(ctx context.Context, cfg Plugin, method, path string, body any) (int, error) {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(cfg.APIURL, "/")+path, rd)
	if err != nil {
		return 0, err
	}
	req.SetBasicAuth(cfg.AuthUsername, cfg.AuthPassword)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestRealRabbitMQ(t *testing.T) {
	cfg := realAPI(t)
	ctx := t.Context()
	queue := fmt.Sprintf("overvakt-test %d/%d", os.Getpid(), time.Now().UnixNano())
	queuePath := "/api/queues/%2F/" + url.PathEscape(queue)

	code, err := call(ctx, cfg, http.MethodPut, queuePath, map[string]any{"durable": false, "auto_delete": false})
	if err != nil || (code != http.StatusCreated && code != http.StatusNoContent) {
		t.Fatalf("create queue %q: status %d, err %v", queue, code, err)
	}
	t.Cleanup(func() {
		if code, err := call(context.Background(), cfg, http.MethodDelete, queuePath, nil); err != nil || code != http.StatusNoContent {
			t.Errorf("delete queue %q: status %d, err %v", queue, code, err)
		}
	})

	const published = 7
	for range published {
		code, err := call(ctx, cfg, http.MethodPost, "/api/exchanges/%2F/amq.default/publish", map[string]any{
			"properties": map[string]any{}, "routing_key": queue, "payload": "x", "payload_encoding": "string",
		})
		if err != nil || code != http.StatusOK {
			t.Fatalf("publish to %q: status %d, err %v", queue, code, err)
		}
	}

	// The management stats lag behind the queue (5 s emission by default):
	// wait until the checker sees every message.
	waiting := cfg
	waiting.QueueReadyHealthyBelow = 1000
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, q, err := New(&waiting, nil).CheckQueue(ctx, queue, 0, 0)
		if err == nil && q.Ready == published {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue %q never showed %d ready messages: last %+v, err %v", queue, published, q, err)
		}
		time.Sleep(250 * time.Millisecond)
	}

	scenarios := []struct {
		name                            string
		readyHealthyBelow, readyDead    int
		nackHealthyBelow, nackDeadAbove int // node overrides
		want                            status.Status
	}{
		{name: "under the limits", readyHealthyBelow: 8, readyDead: 20, want: status.Healthy},
		{name: "at the healthy limit", readyHealthyBelow: 7, readyDead: 20, want: status.Sick},
		{name: "over the dead limit", readyHealthyBelow: 3, readyDead: 6, want: status.Dead},
		{name: "unacked overrides do not hide ready messages", readyHealthyBelow: 3, readyDead: 20,
			nackHealthyBelow: 1000, nackDeadAbove: 1000, want: status.Sick},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			c := cfg
			c.QueueReadyHealthyBelow, c.QueueReadyDeadAbove = sc.readyHealthyBelow, sc.readyDead
			c.QueueNackHealthyBelow, c.QueueNackDeadAbove = 5, 50
			got, q, err := New(&c, nil).CheckQueue(ctx, queue, sc.nackHealthyBelow, sc.nackDeadAbove)
			if err != nil {
				t.Fatal(err)
			}
			if got != sc.want || q != (status.Queue{Ready: published}) {
				t.Errorf("CheckQueue = %v %+v, want %v {Ready:%d Unacked:0}", got, q, sc.want, published)
			}
		})
	}

	t.Run("missing queue", func(t *testing.T) {
		_, _, err := New(&cfg, nil).CheckQueue(ctx, queue+"-missing", 0, 0)
		if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "Object Not Found") {
			t.Errorf("err = %v, want 404 Object Not Found", err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		c := cfg
		c.AuthPassword = "not-the-password"
		_, _, err := New(&c, nil).CheckQueue(ctx, queue, 0, 0)
		if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), c.AuthPassword) {
			t.Errorf("err = %v, want 401 without the password", err)
		}
	})
}
