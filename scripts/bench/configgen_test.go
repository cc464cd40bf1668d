package main

import (
	"fmt"
	"testing"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/kinds"
	"github.com/overvakt/overvakt/pkg/notify/webhook"
)

func TestGenerateConfig(t *testing.T) {
	urls := func(n int, scheme string) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("%s://127.0.0.1:%d/r/%d", scheme, 20000+i%7, i))
		}
		return out
	}
	tests := []struct {
		name               string
		cfg                benchConfig
		services, replicas int
		webhook            bool
		push               bool
	}{
		{
			name: "small with tcp, push and webhook",
			cfg: benchConfig{Services: 3, Nodes: 2, ReplicasPerNode: 5, HTTPURLs: urls(30, "http"),
				TCPURLs: []string{"tcp://127.0.0.1:21000", "tcp://127.0.0.1:21001", "tcp://127.0.0.1:21002", "tcp://127.0.0.1:21003"}, PushNode: true, WebhookURL: "http://127.0.0.1:9/hook"},
			services: 5, replicas: 34, webhook: true, push: true,
		},
		{
			name:     "page layout only",
			cfg:      benchConfig{Services: 100, Nodes: 10, ReplicasPerNode: 2, HTTPURLs: urls(2000, "http")},
			services: 100, replicas: 2000,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cfg
			c.Inet, c.ManagerToken, c.ReporterToken = "127.0.0.1:18080", "manager-token-0123456789", "reporter-token-0123456789"
			c.Interval, c.Retry, c.DelayDead, c.DelaySick, c.Parallelism = 1, 0.25, 2, 1, 64
			text, err := generateConfig(c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := config.Parse("bench.toml", text, nil, kinds.All().Config())
			if err != nil {
				t.Fatalf("generated config does not load: %v\n%s", err, text)
			}
			if got.Server.Inet != c.Inet || got.Server.ReporterToken != "reporter-token-0123456789" || got.Server.ManagerToken != "manager-token-0123456789" {
				t.Fatalf("server section = %+v", got.Server)
			}
			m := got.Metrics
			if m.PollInterval != 1 || m.PollRetry != 0.25 || m.PollDelayDead != 2 || m.PollDelaySick != 1 || m.PollParallelism != 64 {
				t.Fatalf("metrics = %+v", m)
			}
			if len(got.Probe.Services) != tt.services {
				t.Fatalf("%d services, want %d", len(got.Probe.Services), tt.services)
			}
			seen := map[string]bool{}
			ids := map[string]bool{}
			replicas, push := 0, false
			for _, s := range got.Probe.Services {
				if ids[s.ID] || !validID(s.ID) {
					t.Fatalf("service id %q repeated or invalid", s.ID)
				}
				ids[s.ID] = true
				for _, n := range s.Nodes {
					if !validID(n.ID) {
						t.Fatalf("node id %q invalid", n.ID)
					}
					if n.Mode == "push" {
						push = s.ID == pushService && n.ID == pushNode && len(n.Replicas) == 0
						continue
					}
					for _, r := range n.Replicas {
						if seen[r] {
							t.Fatalf("replica %q listed twice", r)
						}
						seen[r] = true
						replicas++
					}
				}
			}
			if replicas != tt.replicas {
				t.Fatalf("%d poll replicas, want %d", replicas, tt.replicas)
			}
			if push != tt.push {
				t.Fatalf("push node present = %v, want %v", push, tt.push)
			}
			var hook *webhook.Table
			for _, ch := range got.Notify.Channels {
				if ch.Name == "webhook" {
					hook = ch.Table.(*webhook.Table)
				}
			}
			if (hook != nil) != tt.webhook || (tt.webhook && hook.HookURL != c.WebhookURL) {
				t.Fatalf("webhook = %+v, want present %v", hook, tt.webhook)
			}
		})
	}
}

func validID(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func TestGenerateConfigRejectsWrongURLCount(t *testing.T) {
	_, err := generateConfig(benchConfig{Services: 2, Nodes: 2, ReplicasPerNode: 2, HTTPURLs: []string{"http://127.0.0.1:1/r/0"}})
	if err == nil {
		t.Fatal("want an error when the layout and the URL count disagree")
	}
}

func TestSecs(t *testing.T) {
	for in, want := range map[float64]string{1: "1.0", 0.25: "0.25", 60: "60.0", 1.5: "1.5"} {
		if got := secs(in); got != want {
			t.Errorf("secs(%v) = %q, want %q", in, got, want)
		}
	}
}
