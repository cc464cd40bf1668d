package icmpprobe

import (
	"log/slog"
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
