package httpprobe

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/probe"
	"github.com/overvakt/overvakt/pkg/probe/probetest"
	"github.com/overvakt/overvakt/pkg/status"
)

// testKinds is this kind alone.
var testKinds = []probe.Kind{Kind()}

func testConfig(nodes ...config.Node) *config.Config { return probetest.Config(nodes...) }

func pollNode(replicas ...string) config.Node { return probetest.PollNode(nil, replicas...) }

func scriptNode(scripts ...string) config.Node { return probetest.ScriptNode(scripts...) }

// start runs the scheduler with this kind until the test ends.
func start(t testing.TB, cfg *config.Config, logger *slog.Logger) *probetest.Running {
	t.Helper()
	return probetest.Start(t, cfg, testKinds, logger)
}

// firstResult runs cfg (one replica) until it has a result.
func firstResult(t testing.TB, cfg *config.Config) *status.Replica {
	t.Helper()
	return probetest.FirstResult(t, cfg, testKinds)
}

// keys returns the HTTP keys of node n, adding them with their defaults
// when it has none.
func keys(n *config.Node) *Node {
	if n.Tables == nil {
		n.Tables = map[string]config.NodeTable{}
	}
	t, _ := n.Tables["http"].(*Node)
	if t == nil {
		t = Kind().Node().(*Node)
		n.Tables["http"] = t
	}
	return t
}

func newServer(t testing.TB, h http.HandlerFunc) *probetest.Server { return probetest.NewServer(t, h) }
