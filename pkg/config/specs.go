package config

import (
	"cmp"
	"strconv"

	"github.com/overvakt/overvakt/pkg/status"
)

// StatusSpecs turns the [[probe.service]] tree into the registry's starting
// model. Poll replicas are named by their URL with any password masked (the
// name can reach the public page), script replicas "script-1",
// "script-2"… in file order; push and local nodes start empty. A Ref
// {s, n, r} into the registry is service s, node n, replica r of this list.
// Call it only on a validated config (modes are known).
func (c *Config) StatusSpecs() []status.ServiceSpec {
	specs := make([]status.ServiceSpec, 0, len(c.Probe.Services))
	for _, svc := range c.Probe.Services {
		ss := status.ServiceSpec{ID: svc.ID, Label: svc.Label}
		for _, n := range svc.Nodes {
			mode, _ := status.ParseMode(n.Mode)
			ns := status.NodeSpec{ID: n.ID, Label: n.Label, Mode: mode, LinkURL: n.LinkURL,
				LinkLabel: n.LinkLabel, RevealReplicaName: n.RevealReplicaName, DependsOn: n.DependsOn}
			switch mode {
			case status.ModePoll:
				for _, r := range n.Replicas {
					ns.Replicas = append(ns.Replicas, MaskPassword(r))
				}
			case status.ModeScript:
				for i := range n.Scripts {
					ns.Replicas = append(ns.Replicas, "script-"+strconv.Itoa(i+1))
				}
			}
			ss.Nodes = append(ss.Nodes, ns)
		}
		specs = append(specs, ss)
	}
	if d := c.Dynamic; d != nil {
		// The dynamic targets' service comes last; its nodes are added as
		// targets are.
		specs = append(specs, status.ServiceSpec{ID: d.ServiceID, Label: cmp.Or(d.ServiceLabel, d.ServiceID)})
	}
	return specs
}
