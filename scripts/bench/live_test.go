package main

import (
	"slices"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/kinds"
)

func TestLiveLatencies(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms ...int) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, t0.Add(time.Duration(m)*time.Millisecond))
		}
		return out
	}
	tests := []struct {
		name    string
		sent    []time.Time
		clients [][]time.Time
		want    []time.Duration // sorted
		missed  int
	}{
		{"each change pairs with the same event of each client", at(0, 500),
			[][]time.Time{at(3, 510), at(7, 504)},
			[]time.Duration{3 * time.Millisecond, 4 * time.Millisecond, 7 * time.Millisecond, 10 * time.Millisecond}, 0},
		{"a client that lost its connection misses the rest", at(0, 500, 1000),
			[][]time.Time{at(2, 502, 1002), at(5)},
			[]time.Duration{2 * time.Millisecond, 2 * time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var clients []*liveClient
			for _, a := range tc.clients {
				clients = append(clients, &liveClient{arrivals: a})
			}
			got, missed := liveLatencies(tc.sent, func(c *liveClient) []time.Time { return c.arrivals }, clients)
			if !slices.Equal(got, tc.want) || missed != tc.missed {
				t.Errorf("got %v, %d missed; want %v, %d", got, missed, tc.want, tc.missed)
			}
		})
	}
}

// TestLiveConfig: with live clients, the generated config lets them all
// connect from one address.
func TestLiveConfig(t *testing.T) {
	text, err := generateConfig(benchConfig{Inet: "127.0.0.1:18080", ManagerToken: "manager-token-0123456789", ReporterToken: "reporter-token-0123456789",
		Interval: 5, Retry: 1, DelayDead: 3, DelaySick: 2, Parallelism: 8, PushNode: true, LiveClients: 1000})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("bench.toml", text, nil, kinds.All().Config())
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	if s := cfg.Server; s.MaxConnectionsPerIP != 0 || s.LiveMaxConnectionsPerIP != 0 || s.LiveMaxConnections < 1000 {
		t.Errorf("[server] %+v: want no cap per address and room for 1,000 live clients", s)
	}
}
