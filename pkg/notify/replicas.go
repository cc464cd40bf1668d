package notify

import (
	"net/url"
	"strings"

	"github.com/overvakt/overvakt/pkg/status"
)

// affected is a replica that messages name: dead, or sick with notify_sick.
type affected struct {
	name   string // service:node:replica, password masked
	status status.Status
}

// affectedScanner keeps the affected replicas of the latest snapshot, one
// list per service. Snapshots share unchanged services with their
// predecessor, so a scan only walks the services that changed.
type affectedScanner struct {
	includeSick bool
	services    []*status.Service // as of the last scan
	lists       [][]affected      // per service, in page order
}

// update brings the lists up to date with snap.
func (s *affectedScanner) update(snap *status.Snapshot) {
	if len(s.services) != len(snap.Services) {
		s.services = make([]*status.Service, len(snap.Services))
		s.lists = make([][]affected, len(snap.Services))
	}
	for i, svc := range snap.Services {
		if s.services[i] == svc {
			continue
		}
		s.services[i] = svc
		s.lists[i] = s.serviceAffected(svc, s.lists[i][:0])
	}
}

func (s *affectedScanner) counts(st status.Status) bool {
	return st == status.Dead || s.includeSick && st == status.Sick
}

func (s *affectedScanner) serviceAffected(svc *status.Service, out []affected) []affected {
	if !s.counts(svc.Status) {
		return out
	}
	for _, n := range svc.Nodes {
		if !s.counts(n.Status) {
			continue
		}
		for _, r := range n.Replicas {
			if s.counts(r.Status) {
				out = append(out, affected{name: svc.ID + ":" + n.ID + ":" + MaskReplica(r.ID), status: r.Status})
			}
		}
	}
	return out
}

// names lists the affected replicas: the dead ones first, then the sick
// ones, each in page order, so a capped list shows the worst first.
func (s *affectedScanner) names() []string {
	var out []string
	for _, want := range []status.Status{status.Dead, status.Sick} {
		for _, list := range s.lists {
			for _, a := range list {
				if a.status == want {
					out = append(out, a.name)
				}
			}
		}
	}
	return out
}

// MaskReplica returns a replica id fit for a message: a URL keeps its user
// name but its password becomes "xxxxx" (https://user:xxxxx@host/); other
// ids are returned as they are.
func MaskReplica(id string) string {
	if !strings.Contains(id, "@") {
		return id
	}
	u, err := url.Parse(id)
	if err != nil || u.User == nil {
		return id
	}
	if _, has := u.User.Password(); !has {
		return id
	}
	return u.Redacted()
}

// capped splits a list at MaxListed and says how many were left out.
func capped(names []string) (listed []string, more int) {
	if len(names) <= MaxListed {
		return names, 0
	}
	return names[:MaxListed:MaxListed], len(names) - MaxListed
}
