package api

import (
	"math"
	"net/http"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/status"
)

// Limits on what a reporter may send.
const (
	// MaxReplicaName is the longest replica name accepted, in bytes.
	MaxReplicaName = 256
	// MaxInterval is the longest report interval accepted.
	MaxInterval = 365 * 24 * time.Hour
	// MaxReplicasPerNode bounds the replicas one push or local node can
	// gather, so a misbehaving agent inventing names cannot exhaust memory.
	MaxReplicasPerNode = 10_000
)

// node is one configured node as the reporter routes see it.
type node struct {
	service, node     int // positions in the registry
	serviceID, nodeID string
	mode              status.Mode
	// grace is push_delay_dead or local_delay_dead: how long past its
	// interval a replica may stay silent before it is dead.
	grace    time.Duration
	graceKey string
	// replicas of a push or local node, by name; guarded by API.mu.
	replicas map[string]*replica
}

// replica is what the API remembers of a reporting replica to notice its
// silence.
type replica struct {
	id       string
	interval time.Duration
	last     time.Time // when it last reported
	silent   bool      // marked dead for silence; cleared by the next report
}

// buildNodes indexes the configured nodes by id and lists the push and local
// ones, which the sweep walks.
func buildNodes(snap *status.Snapshot, m config.Metrics) (map[string]map[string]*node, []*node) {
	nodes := make(map[string]map[string]*node, len(snap.Services))
	var reported []*node
	for si, svc := range snap.Services {
		byID := make(map[string]*node, len(svc.Nodes))
		for ni, n := range svc.Nodes {
			nd := &node{service: si, node: ni, serviceID: svc.ID, nodeID: n.ID, mode: n.Mode}
			switch n.Mode {
			case status.ModePush:
				nd.grace, nd.graceKey = m.PushDelayDead.Duration(), "push_delay_dead"
				nd.replicas = map[string]*replica{}
				reported = append(reported, nd)
			case status.ModeLocal:
				nd.grace, nd.graceKey = m.LocalDelayDead.Duration(), "local_delay_dead"
				nd.replicas = map[string]*replica{}
				reported = append(reported, nd)
			}
			byID[n.ID] = nd
		}
		nodes[svc.ID] = byID
	}
	return nodes, reported
}

// findNode returns the node, or answers 404 saying what is unknown.
func (a *API) findNode(w http.ResponseWriter, serviceID, nodeID string) *node {
	svc, ok := a.nodes[serviceID]
	if !ok {
		writeError(w, http.StatusNotFound, "unknown service "+strconv.Quote(serviceID)+": no [[probe.service]] with this id in the server config")
		return nil
	}
	n, ok := svc[nodeID]
	if !ok {
		writeError(w, http.StatusNotFound, "unknown node "+strconv.Quote(nodeID)+" in service "+strconv.Quote(serviceID)+": no [[probe.service.node]] with this id in the server config")
		return nil
	}
	return n
}

// report handles POST /reporter/{service}/{node}/.
func (a *API) report(w http.ResponseWriter, r *http.Request, serviceID, nodeID string) {
	if !a.reporterAuth.check(w, r) {
		return
	}
	n := a.findNode(w, serviceID, nodeID)
	if n == nil {
		return
	}
	bp, err := a.readBody(r)
	if err != nil {
		bodyError(w, err)
		return
	}
	defer a.putBuf(bp)

	var p reportParser
	var rep report
	if msg := p.parse(*bp, &rep); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	if msg := checkReport(&rep); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	// As in Vigil, a body with "load" is a push report even if it also has
	// "health".
	if rep.hasLoad && n.mode != status.ModePush || !rep.hasLoad && n.mode != status.ModeLocal {
		writeError(w, http.StatusPreconditionFailed, modeMismatch(n, rep.hasLoad))
		return
	}

	now := a.now()
	res := status.Result{At: now}
	if rep.hasLoad {
		res.Load = &status.Load{CPU: rep.cpu, RAM: rep.ram}
		res.Status, res.Err = a.loadStatus(rep.cpu, rep.ram)
	} else {
		res.Status, _ = parseHealth(rep.health)
		if res.Status != status.Healthy {
			res.Err = "the replica reports itself " + res.Status.String()
		}
	}
	if !a.record(n, rep.replica, time.Duration(rep.interval*float64(time.Second)), res) {
		writeError(w, http.StatusConflict, "node "+strconv.Quote(n.serviceID+":"+n.nodeID)+" already has "+
			strconv.Itoa(a.maxReplicas)+" replicas; flush the ones that are gone (DELETE /reporter/{service}/{node}/{replica}/)")
		return
	}
	writeOK(w)
}

// checkReport validates the decoded fields shared by both modes and the
// mode's own.
func checkReport(rep *report) string {
	switch {
	case !rep.hasReplica || len(rep.replica) == 0:
		return `missing "replica": name this replica, e.g. {"replica":"host-1",…} (the host name or address)`
	case len(rep.replica) > MaxReplicaName:
		return `"replica" is longer than ` + strconv.Itoa(MaxReplicaName) + ` bytes`
	case !printable(rep.replica):
		return `"replica" must be printable UTF-8 text without control characters`
	case math.IsNaN(rep.interval):
		return `missing "interval": the number of seconds between two reports, e.g. "interval":30`
	case rep.interval <= 0 || rep.interval > MaxInterval.Seconds():
		return `"interval" must be a number of seconds above 0 and at most ` + strconv.Itoa(int(MaxInterval.Seconds()))
	}
	if rep.hasLoad {
		for _, v := range [...]struct {
			key string
			val float64
		}{{"load.cpu", rep.cpu}, {"load.ram", rep.ram}} {
			switch {
			case math.IsNaN(v.val):
				return `missing "` + v.key + `": push reports carry "load":{"cpu":…,"ram":…} as fractions (0.5 = 50%)`
			case v.val < 0 || math.IsInf(v.val, 0):
				return `"` + v.key + `" must be a finite number, 0 or more`
			}
		}
		return ""
	}
	if !rep.hasHealth {
		return `the report needs "load" (push mode: {"cpu":…,"ram":…}) or "health" (local mode: "healthy", "sick" or "dead")`
	}
	if _, ok := parseHealth(rep.health); !ok {
		return `unknown "health" ` + strconv.Quote(string(rep.health)) + `: want "healthy", "sick" or "dead"`
	}
	return ""
}

// parseHealth reads a local report's health without allocating.
func parseHealth(b []byte) (status.Status, bool) {
	switch string(b) {
	case "healthy":
		return status.Healthy, true
	case "sick":
		return status.Sick, true
	case "dead":
		return status.Dead, true
	}
	return status.Healthy, false
}

// printable reports whether b is valid UTF-8 without control characters.
func printable(b []byte) bool {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 || unicode.IsControl(r) {
			return false
		}
		i += size
	}
	return true
}

func modeMismatch(n *node, push bool) string {
	where := "node " + strconv.Quote(n.serviceID+":"+n.nodeID) + " is in " + n.mode.String() + " mode"
	switch {
	case n.mode == status.ModePoll || n.mode == status.ModeScript:
		return where + ": the server probes it itself and takes no reports (use a node with mode \"push\" or \"local\")"
	case push:
		return where + ` but this is a push report (it has "load"); local nodes take "health" reports`
	default:
		return where + ` but this is a local report (it has "health"); push nodes take "load" reports`
	}
}

// loadStatus applies the push rule: sick above either threshold.
func (a *API) loadStatus(cpu, ram float64) (status.Status, string) {
	switch {
	case cpu > a.cpuSickAbove:
		return status.Sick, "CPU load " + percent(cpu) + " is above push_system_cpu_sick_above (" + percent(a.cpuSickAbove) + ")"
	case ram > a.ramSickAbove:
		return status.Sick, "RAM use " + percent(ram) + " is above push_system_ram_sick_above (" + percent(a.ramSickAbove) + ")"
	}
	return status.Healthy, ""
}

// percent writes a fraction as a percentage with at most one decimal.
func percent(f float64) string { return strconv.FormatFloat(math.Round(f*1000)/10, 'f', -1, 64) + "%" }

// record stores a report in the registry and remembers when the replica is
// due again. name may alias the request buffer: it is copied only when the
// replica is new. It returns false when a new replica would pass
// MaxReplicasPerNode.
func (a *API) record(n *node, name []byte, interval time.Duration, res status.Result) bool {
	a.mu.Lock()
	rp := n.replicas[string(name)]
	fresh := rp == nil
	if fresh && len(n.replicas) >= a.maxReplicas {
		a.mu.Unlock()
		return false
	}
	if fresh {
		rp = &replica{id: string(name)}
		n.replicas[rp.id] = rp
	}
	rp.interval, rp.last, rp.silent = interval, res.At, false
	a.reg.Upsert(n.service, n.node, rp.id, res)
	a.mu.Unlock()
	if fresh {
		a.log.Info("replica appeared", "service", n.serviceID, "node", n.nodeID, "replica", rp.id,
			"mode", n.mode.String(), "interval", interval)
	}
	return true
}

// flush handles DELETE /reporter/{service}/{node}/{replica}/.
func (a *API) flush(w http.ResponseWriter, r *http.Request, serviceID, nodeID, replicaID string) {
	if !a.reporterAuth.check(w, r) {
		return
	}
	n := a.findNode(w, serviceID, nodeID)
	if n == nil {
		return
	}
	if n.replicas == nil {
		writeError(w, http.StatusPreconditionFailed, "node "+strconv.Quote(serviceID+":"+nodeID)+" is in "+n.mode.String()+
			" mode: only replicas of push and local nodes can be flushed")
		return
	}
	a.mu.Lock()
	_, ok := n.replicas[replicaID]
	if ok {
		delete(n.replicas, replicaID)
		a.reg.Remove(n.service, n.node, replicaID, a.now())
	}
	a.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "no replica "+strconv.Quote(replicaID)+" in node "+strconv.Quote(serviceID+":"+nodeID)+
			" (never reported, or already flushed)")
		return
	}
	a.log.Info("replica flushed", "service", serviceID, "node", nodeID, "replica", replicaID)
	writeOK(w)
}

// sweep marks dead every replica silent for its interval plus the node's
// grace: now - last >= interval + grace.
func (a *API) sweep(now time.Time) {
	// Log after unlocking: reports wait on a.mu, and a large autoscaling
	// group going away at once would otherwise queue them behind log output.
	type silent struct {
		service, node, replica string
		last                   time.Time
		interval               time.Duration
	}
	var gone []silent
	a.mu.Lock()
	for _, n := range a.reported {
		for _, rp := range n.replicas {
			if rp.silent || now.Sub(rp.last) < rp.interval+n.grace {
				continue
			}
			rp.silent = true
			msg := "no report for " + now.Sub(rp.last).Round(time.Millisecond).String() +
				"; dead after the interval of " + rp.interval.String() + " + " + n.graceKey + " " + n.grace.String() +
				" (last report " + rp.last.Format(time.RFC3339) + ")"
			a.reg.Upsert(n.service, n.node, rp.id, status.Result{Status: status.Dead, At: now, Err: msg})
			gone = append(gone, silent{n.serviceID, n.nodeID, rp.id, rp.last, rp.interval})
		}
	}
	a.mu.Unlock()
	for _, g := range gone {
		a.log.Warn("replica silent, marked dead", "service", g.service, "node", g.node,
			"replica", g.replica, "last_report", g.last, "interval", g.interval)
	}
}
