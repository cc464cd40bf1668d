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
// silence and to skip registry writes that would change nothing visible.
type replica struct {
	id       string
	interval time.Duration
	silent   bool // marked dead for silence; cleared by the next report
	// latest is the last report (its time is what the sweep checks); shown
	// is the one the registry holds. They differ only in what the page does
	// not show and by less than maxShownLag in time (see API.record);
	// pending says they differ.
	latest, shown reading
	pending       bool
}

// reading is one report, as much of it as the registry keeps.
type reading struct {
	status   status.Status
	at       time.Time
	hasLoad  bool // push reports carry the host load
	cpu, ram float64
}

// maxShownLag bounds how far the registry's copy of a push or local replica
// may trail its latest report when the reports in between changed nothing
// the page shows. Every registry write builds a new snapshot, so agents that
// report many times a second would otherwise rebuild it for nothing.
const maxShownLag = time.Second

// looksLike reports whether the page would show r and o the same, apart
// from their time: same status and the same load in whole percent.
func (r *reading) looksLike(o *reading) bool {
	if r.status != o.status || r.hasLoad != o.hasLoad {
		return false
	}
	return !r.hasLoad || wholePercent(r.cpu) == wholePercent(o.cpu) && wholePercent(r.ram) == wholePercent(o.ram)
}

// wholePercent rounds a load fraction the way the page prints it
// (strconv.FormatFloat(f*100, 'f', 0, 64) rounds half to even).
func wholePercent(f float64) float64 { return math.RoundToEven(f * 100) }

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

	rd := reading{at: a.now(), hasLoad: rep.hasLoad, cpu: rep.cpu, ram: rep.ram}
	if rep.hasLoad {
		rd.status = a.loadStatus(rep.cpu, rep.ram)
	} else {
		rd.status, _ = parseHealth(rep.health)
	}
	if !a.record(n, rep.replica, time.Duration(rep.interval*float64(time.Second)), rd) {
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
func (a *API) loadStatus(cpu, ram float64) status.Status {
	if cpu > a.cpuSickAbove || ram > a.ramSickAbove {
		return status.Sick
	}
	return status.Healthy
}

// result turns a reading into what the registry stores, with the reason
// for a status other than healthy. It is built only for the readings that
// reach the registry, which keeps message building off the skipped ones.
func (a *API) result(rd *reading) status.Result {
	res := status.Result{Status: rd.status, At: rd.at}
	switch {
	case rd.hasLoad:
		res.Load = &status.Load{CPU: rd.cpu, RAM: rd.ram}
		switch {
		case rd.cpu > a.cpuSickAbove:
			res.Err = "CPU load " + percent(rd.cpu) + " is above push_system_cpu_sick_above (" + percent(a.cpuSickAbove) + ")"
		case rd.ram > a.ramSickAbove:
			res.Err = "RAM use " + percent(rd.ram) + " is above push_system_ram_sick_above (" + percent(a.ramSickAbove) + ")"
		}
	case rd.status == status.Sick:
		res.Err = "the replica reports itself sick"
	case rd.status == status.Dead:
		res.Err = "the replica reports itself dead"
	}
	return res
}

// percent writes a fraction as a percentage with at most one decimal.
func percent(f float64) string { return strconv.FormatFloat(math.Round(f*1000)/10, 'f', -1, 64) + "%" }

// record remembers a report and stores it in the registry, unless the page
// would show the registry's copy the same and that copy is less than
// maxShownLag old: then only the API's own clock for silence moves, and the
// sweep stores the report later if no newer one does. name may alias the
// request buffer: it is copied only when the replica is new. It returns
// false when a new replica would pass MaxReplicasPerNode.
func (a *API) record(n *node, name []byte, interval time.Duration, rd reading) bool {
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
	rp.interval, rp.latest = interval, rd
	// A replica marked silent is written even when it reports itself dead:
	// the registry holds the sweep's verdict and time, not this report.
	if fresh || rp.silent || !rd.looksLike(&rp.shown) || rd.at.Sub(rp.shown.at) >= maxShownLag {
		a.show(n, rp, rd)
	} else {
		rp.pending = true
	}
	rp.silent = false
	a.mu.Unlock()
	if fresh {
		a.log.Info("replica appeared", "service", n.serviceID, "node", n.nodeID, "replica", rp.id,
			"mode", n.mode.String(), "interval", interval)
	}
	return true
}

// show writes a reading of rp to the registry. Caller holds a.mu.
func (a *API) show(n *node, rp *replica, rd reading) {
	a.reg.Upsert(n.service, n.node, rp.id, a.result(&rd))
	rp.shown, rp.pending = rd, false
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
// grace (now - last >= interval + grace), and writes to the registry the
// reports record held back once they are due.
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
			if rp.silent {
				continue
			}
			last := rp.latest.at
			if now.Sub(last) < rp.interval+n.grace {
				// The registry ends up showing the latest report even
				// when no report follows the held-back one.
				if rp.pending && now.Sub(rp.shown.at) >= maxShownLag {
					a.show(n, rp, rp.latest)
				}
				continue
			}
			rp.silent, rp.pending = true, false
			rp.shown = reading{status: status.Dead, at: now}
			msg := "no report for " + now.Sub(last).Round(time.Millisecond).String() +
				"; dead after the interval of " + rp.interval.String() + " + " + n.graceKey + " " + n.grace.String() +
				" (last report " + last.Format(time.RFC3339) + ")"
			a.reg.Upsert(n.service, n.node, rp.id, status.Result{Status: status.Dead, At: now, Err: msg})
			gone = append(gone, silent{n.serviceID, n.nodeID, rp.id, last, rp.interval})
		}
	}
	a.mu.Unlock()
	for _, g := range gone {
		a.log.Warn("replica silent, marked dead", "service", g.service, "node", g.node,
			"replica", g.replica, "last_report", g.last, "interval", g.interval)
	}
}
