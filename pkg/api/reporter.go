package api

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/names"
	"github.com/overvakt/overvakt/pkg/push"
	"github.com/overvakt/overvakt/pkg/status"
)

// Limits on what a reporter may send.
const (
	// MaxReplicaName is the longest replica name accepted, in bytes.
	MaxReplicaName = 256
	// MinInterval and MaxInterval bound the report interval.
	MinInterval = config.MinInterval
	MaxInterval = config.MaxInterval
	// MaxCPU is the highest load.cpu accepted: the load average per CPU,
	// which passes 1 on a busy host but not by a thousand times.
	MaxCPU = 1000
	// MaxRAM is the highest load.ram accepted: a fraction of the memory.
	MaxRAM = 1
)

// node finds the node of a reporter route, or answers: 403 when the
// caller's token does not reach it (whether it exists or not), 404 saying
// what is unknown.
func (a *API) node(c echo.Context, who caller) *push.Node {
	serviceID, ok1 := param(c, "service")
	nodeID, ok2 := param(c, "node")
	if !ok1 || !ok2 {
		notFound(c)
		return nil
	}
	if who.scope != nil && !who.scope.Allows(serviceID, nodeID) {
		writeError(c.Response(), http.StatusForbidden, "reporter token "+strconv.Quote(who.scope.Name)+
			" may not report to "+strconv.Quote(serviceID+":"+nodeID)+": it is allowed "+strings.Join(who.scope.Allow, ", ")+
			" (server.reporter_token_scopes)")
		return nil
	}
	n, err := a.agents.Node(serviceID, nodeID)
	if err != nil {
		problem(c.Response(), err)
		return nil
	}
	return n
}

// Report handles POST /reporter/{service}/{node}/.
func (a *API) Report(c echo.Context) error {
	w, r := c.Response(), c.Request()
	who, ok := a.check(w, r, &a.reporterAuth)
	if !ok {
		return nil
	}
	accepted := false
	if a.countReport != nil {
		defer func() { a.countReport(accepted) }()
	}
	n := a.node(c, who)
	if n == nil {
		return nil
	}
	bp, err := a.readBody(r)
	if err != nil {
		bodyError(w, err)
		return nil
	}
	defer a.putBuf(bp)

	var p reportParser
	var rep report
	if msg := p.parse(*bp, &rep); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return nil
	}
	if msg := checkReport(&rep); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return nil
	}
	pr := push.Report{Interval: time.Duration(rep.interval * float64(time.Second)), HasLoad: rep.hasLoad, CPU: rep.cpu, RAM: rep.ram}
	if !rep.hasLoad {
		pr.Health, _ = parseHealth(rep.health)
	}
	if err := a.agents.Report(n, rep.replica, pr); err != nil {
		problem(w, err)
		return nil
	}
	writeOK(w)
	accepted = true
	return nil
}

// problem answers a refusal of pkg/push with its status code.
func problem(w http.ResponseWriter, err error) {
	var p *push.Problem
	if !errors.As(err, &p) {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	code := http.StatusInternalServerError
	switch p.Kind {
	case push.NotFound:
		code = http.StatusNotFound
	case push.WrongMode:
		code = http.StatusPreconditionFailed
	case push.TooManyReplicas:
		code = http.StatusConflict
	}
	writeError(w, code, p.Msg)
}

// checkReport validates the decoded fields shared by both modes and the
// mode's own.
func checkReport(rep *report) string {
	switch {
	case !rep.hasReplica || len(rep.replica) == 0:
		return `missing "replica": name this replica, e.g. {"replica":"host-1",…} (the host name or address)`
	case len(rep.replica) > MaxReplicaName:
		return `"replica" is longer than ` + strconv.Itoa(MaxReplicaName) + ` bytes`
	case math.IsNaN(rep.interval):
		return `missing "interval": the number of seconds between two reports, e.g. "interval":30`
	case !(rep.interval >= MinInterval.Seconds() && rep.interval <= MaxInterval.Seconds()):
		return `"interval" must be a number of seconds from ` + strconv.Itoa(int(MinInterval.Seconds())) +
			` to ` + strconv.Itoa(int(MaxInterval.Seconds())) + ` (7 days)`
	}
	if problem := names.ProblemBytes(rep.replica); problem != "" {
		return `"replica" must be readable text: it has ` + problem
	}
	if rep.hasLoad {
		for _, v := range [...]struct {
			key, want string
			val, max  float64
		}{
			{"load.cpu", "a number from 0 to 1000: the load average divided by the number of CPUs", rep.cpu, MaxCPU},
			{"load.ram", "a fraction from 0 to 1: the share of the memory in use (0.61 = 61 %)", rep.ram, MaxRAM},
		} {
			switch {
			case math.IsNaN(v.val):
				return `missing "` + v.key + `": push reports carry "load":{"cpu":…,"ram":…} as fractions (0.5 = 50%)`
			case !(v.val >= 0 && v.val <= v.max):
				return `"` + v.key + `" must be ` + v.want
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

// Flush handles DELETE /reporter/{service}/{node}/{replica}/.
func (a *API) Flush(c echo.Context) error {
	who, ok := a.check(c.Response(), c.Request(), &a.reporterAuth)
	if !ok {
		return nil
	}
	n := a.node(c, who)
	if n == nil {
		return nil
	}
	name, ok := param(c, "replica")
	if !ok {
		notFound(c)
		return nil
	}
	f, err := a.agents.Flush(n, name, a.whoIs(c.Request(), who).String())
	if err != nil {
		problem(c.Response(), err)
		return nil
	}
	if f.Dead && a.notes != nil {
		a.notes.Note(f.Note)
	}
	writeOK(c.Response())
	return nil
}
