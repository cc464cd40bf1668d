package probe

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/overvakt/overvakt/pkg/status"
)

// poll runs one poll of j. On the script lane that is the script's run as
// it is. On the poll lane it is j.attempts attempts one after the other,
// each ending at poll_delay_dead, judged together (see judge); an
// inconclusive attempt ends the poll at once, inconclusive too.
func (l *lane) poll(ctx context.Context, j *job) Attempt {
	if l.rules == nil {
		return j.target.Probe(ctx)
	}
	if j.attempts <= 1 {
		a := l.attempt(ctx, j)
		if a.Inconclusive {
			return a
		}
		return judge([]Attempt{a}, l.rules.sick, j.name)
	}
	got := make([]Attempt, 0, j.attempts)
	for range j.attempts {
		a := l.attempt(ctx, j)
		if a.Inconclusive || ctx.Err() != nil {
			return a
		}
		got = append(got, a)
	}
	return judge(got, l.rules.sick, j.name)
}

// attempt runs one attempt of a poll, within poll_delay_dead. A failed
// lookup is inconclusive when the resolver fails for every name.
func (l *lane) attempt(ctx context.Context, j *job) Attempt {
	actx, cancel := context.WithTimeout(ctx, l.rules.dead)
	defer cancel()
	began := time.Now()
	a := j.target.Probe(actx)
	if j.host == "" || l.resolver == nil || a.Inconclusive {
		return a
	}
	switch {
	case a.LookupFailed:
		if failing, why := l.resolver.failing(ctx, j.host, began); failing {
			a.Inconclusive = true
			a.Err = "this server's DNS resolver fails for every name (" + why + "): " + a.Err
		}
	case a.Status != status.Dead:
		l.resolver.answered(time.Now())
	}
	return a
}

// judge turns the attempts of one poll into its outcome. Dead when most
// attempts failed; else the answers judge: sick when most of them were, or
// when their median latency reached poll_delay_sick (sick). One attempt
// reads as it did before attempts were counted; with more, the error
// counts those that failed ("1 of 3 attempts failed: …"), even when the
// answers make the replica healthy.
func judge(as []Attempt, sick time.Duration, name string) Attempt {
	var ok, failed []Attempt
	var cert *status.Cert
	for _, a := range as {
		if a.Status == status.Dead {
			failed = append(failed, a)
		} else {
			ok = append(ok, a)
		}
	}
	for _, group := range [][]Attempt{failed, ok} { // answers' certificates first
		for _, a := range group {
			if a.Cert != nil {
				cert = a.Cert
			}
		}
	}
	failures := ""
	if len(failed) > 0 {
		failures = errs(failed)
		if len(as) > 1 {
			failures = strconv.Itoa(len(failed)) + " of " + strconv.Itoa(len(as)) + " attempts failed: " + failures
		}
	}
	if len(failed)*2 > len(as) {
		return Attempt{Status: status.Dead, Latency: median(failed), Err: failures, Cert: cert}
	}

	out := Attempt{Status: status.Healthy, Latency: median(ok), Cert: cert}
	var sicks []Attempt
	for _, a := range ok {
		if a.Status == status.Sick {
			sicks = append(sicks, a)
		}
	}
	if len(sicks)*2 > len(ok) {
		out.Status, out.Err = status.Sick, errs(sicks)
	}
	if out.Latency >= sick {
		out.Status = status.Sick
		slow := name + ": answered in " + roundDuration(out.Latency).String()
		if len(ok) > 1 {
			slow += ", the median of " + strconv.Itoa(len(ok)) + " answers,"
		}
		out.Err = joinErr(out.Err, slow+" (sick from "+sick.String()+")")
	}
	out.Err = joinErr(out.Err, failures)
	return out
}

// median is the median latency of attempts: the middle one, or the mean of
// the two in the middle.
func median(as []Attempt) time.Duration {
	if len(as) == 0 {
		return 0
	}
	d := make([]time.Duration, len(as))
	for i, a := range as {
		d[i] = a.Latency
	}
	slices.Sort(d)
	mid := len(d) / 2
	if len(d)%2 == 1 {
		return d[mid]
	}
	return d[mid-1] + (d[mid]-d[mid-1])/2
}

// errs joins the different errors of attempts, in the order they came.
func errs(as []Attempt) string {
	var seen []string
	for _, a := range as {
		if a.Err != "" && !slices.Contains(seen, a.Err) {
			seen = append(seen, a.Err)
		}
	}
	return strings.Join(seen, "; ")
}

// faultWarnEvery is how often at most the scheduler warns that replicas
// could not be checked because of this server; the next warning says how
// many it left out.
const faultWarnEvery = time.Minute

// faultWarn rate-limits those warnings.
type faultWarn struct {
	mu      sync.Mutex
	last    time.Time
	skipped int
}

// couldNotCheck records an inconclusive attempt: the replica keeps its
// status, its error says why, and operators are warned.
func (s *Scheduler) couldNotCheck(ctx context.Context, j *job, a Attempt) {
	now := time.Now()
	if j.dyn != "" {
		s.reg.KeepByID(j.ref.Service, j.dyn, 0, "could not check: "+a.Err, now)
	} else {
		s.reg.Keep(j.ref, "could not check: "+a.Err, now)
	}
	w := &s.warn
	w.mu.Lock()
	if !w.last.IsZero() && now.Sub(w.last) < faultWarnEvery {
		w.skipped++
		w.mu.Unlock()
		if s.log.Enabled(ctx, slog.LevelDebug) {
			s.log.Debug("could not check a replica", "service", j.node.service, "node", j.node.node,
				"replica", j.ref.Replica, "target", j.name, "error", a.Err)
		}
		return
	}
	skipped := w.skipped
	w.last, w.skipped = now, 0
	w.mu.Unlock()
	s.log.Warn("could not check a replica: the fault is this server's, not the replica's; it keeps its status",
		"service", j.node.service, "node", j.node.node, "replica", j.ref.Replica, "target", j.name,
		"error", a.Err, "unlogged_since_last", skipped)
}
