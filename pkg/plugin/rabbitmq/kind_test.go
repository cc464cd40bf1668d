package rabbitmq

import (
	"testing"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/probe"
	"github.com/overvakt/overvakt/pkg/probe/probetest"
	"github.com/overvakt/overvakt/pkg/probe/tcpprobe"
	"github.com/overvakt/overvakt/pkg/status"
)

// Without [plugins.rabbitmq] a node's rabbitmq_queue checks nothing (the
// loader refuses such a file; a config built by hand gets no check).
func TestQueueWithoutPlugin(t *testing.T) {
	n := probetest.PollNode(map[string]config.NodeTable{"rabbitmq": &Node{Queue: "jobs"}}, "tcp://"+probetest.OpenPort(t))
	rep := probetest.FirstResult(t, probetest.Config(n), []probe.Kind{tcpprobe.Kind(), Kind()})
	if rep.Status != status.Healthy || rep.Queue != nil || rep.Error != "" {
		t.Errorf("got %s queue=%v %q, want healthy without queue data", rep.Status, rep.Queue, rep.Error)
	}
}
