package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestColdRender fills a small store with 90 days and renders the page
// with it, as the history scenario does before the server starts.
func TestColdRender(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 90 days of history")
	}
	bc := benchConfig{Services: 2, Nodes: 2, ReplicasPerNode: 2, Inet: "127.0.0.1:18080",
		ManagerToken: "manager-token-0123456789", ReporterToken: "reporter-token-0123456789",
		Interval: 30, Retry: 1, DelayDead: 5, DelaySick: 2, Parallelism: 8, StorageDriver: "sqlite"}
	for i := range 8 {
		bc.HTTPURLs = append(bc.HTTPURLs, fmt.Sprintf("http://127.0.0.1:9/r/%d", i))
	}
	bc.StoragePath = filepath.Join(t.TempDir(), "history.db")
	ctx := context.Background()
	if err := fillHistory(ctx, bc.StoragePath, bc, time.Now()); err != nil {
		t.Fatal(err)
	}
	c, err := measureColdRender(ctx, bc.StoragePath, bc)
	if err != nil {
		t.Fatal(err)
	}
	if c.nodes != 4 || c.render <= 0 || c.runs != 20 || c.gzipped <= 0 || c.gzipped >= c.bytes {
		t.Errorf("cold render %+v: want 4 nodes, 20 renders and a gzipped page smaller than the page", c)
	}
}
