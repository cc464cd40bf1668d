package page

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/overvakt/overvakt/pkg/history"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
)

// NarrowDays is how many of the bar's days narrow screens show: there the
// stylesheet makes a day a thirtieth of the bar and lets older days
// overflow on the left, hidden.
const NarrowDays = 30

// nodeHistory is a node's part of the page: its 90-day bar, its uptime
// and its 24-hour response times.
type nodeHistory struct {
	Cells   []cell
	Quarter string // the 90-day uptime, at the bar's end
	Uptime  string // "24 h 100% · 7 d 99.9% · 30 d 99.95%": the bar's end has the 90 days
	Spark   *sparkline
}

// cell is one day of a bar, or a run of days that look the same, drawn
// over the bar's healthy days: Class is the look (h healthy, s sick, d
// dead, m maintenance, n no data), where it starts (p1 … p89: days after the first; the
// first without) and the run's length (w2 … w90; one day without).
type cell struct {
	Class, Title string
}

// sparkline is a node's mean response time hour by hour, as an SVG path
// in a 92 × 20 box, with gaps where an hour had no answer to time.
type sparkline struct {
	Path, Label string
}

// Uptime formats an uptime ratio: "99.95%", "100%"; "—" without data. A
// figure under 100% never rounds up to it.
func Uptime(r history.Ratio) string {
	p := r.Percent()
	if math.IsNaN(p) {
		return "—"
	}
	if r.Up >= r.Data {
		return "100%"
	}
	p = math.Floor(p*100) / 100
	s := strconv.FormatFloat(p, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "%"
}

// uptimeLine is the compact line of the uptime figures, the 90 days'
// too when quarter is set.
func uptimeLine(u history.Uptime, quarter bool) string {
	s := "24 h " + Uptime(u.Day) + " · 7 d " + Uptime(u.Week) + " · 30 d " + Uptime(u.Month)
	if quarter {
		s += " · 90 d " + Uptime(u.Quarter)
	}
	return s
}

// nodeHistory builds node n's part of the page from the view; nil when the
// view does not know the node yet.
// Today's day shows the node's status now too (unless maintenance holds
// it), which the view, built up to a minute ago, may not have yet.
func (r *Renderer) nodeHistory(v *history.View, service string, n *status.Node, now time.Time, maint bool) *nodeHistory {
	nh := v.Nodes[store.Component{Service: service, Node: n.ID}]
	if nh == nil || len(nh.Days) == 0 {
		return nil
	}
	days := nh.Days
	if !maint {
		days = withNow(days, n, v.At, now)
	}
	out := &nodeHistory{Quarter: Uptime(nh.Uptime.Quarter), Uptime: uptimeLine(nh.Uptime, false)}
	var reasons []history.Outage
	if n.RevealReplicaName {
		// A reason names replicas (URLs, addresses): only for nodes that
		// show them.
		for _, o := range v.Outages {
			if o.Of.Service == service && o.Of.Node == n.ID && o.Reason != "" {
				reasons = append(reasons, o)
			}
		}
	}
	out.Cells = cells(days, reasons, v.At)
	if n.Mode == status.ModePoll || n.Mode == status.ModeScript {
		out.Spark = spark(nh.Latency)
	}
	return out
}

// withNow is days with the node's status now added to today's, when the
// node took it after the view was built and it is worse than what today
// saw: a node that goes down turns its day red at once, not at the next
// view. The view's days are shared, so a changed list is a copy.
func withNow(days []history.Day, n *status.Node, built, now time.Time) []history.Day {
	last := len(days) - 1
	if last < 0 || n.Status == status.Healthy || !n.Fresh || !n.Changed.After(built) {
		return days
	}
	today := days[last]
	if !now.Before(today.Start.AddDate(0, 0, 1)) {
		return days // the view is of yesterday
	}
	if worst, ok := today.Worst(); ok && worst >= n.Status {
		return days
	}
	from := n.Changed
	if from.Before(today.Start) {
		from = today.Start
	}
	lasted := max(now.Sub(from), time.Second)
	if n.Status >= status.Dead {
		today.Dead += lasted
	} else {
		today.Sick += lasted
	}
	out := make([]history.Day, len(days))
	copy(out, days)
	out[last] = today
	return out
}

// cells lays a bar out over its background of healthy days: one cell per
// day that has something to say (some of it sick or dead, or a good part
// without data), and one per run of days without any data. Plain healthy
// days are the background, and cost nothing.
func cells(days []history.Day, outages []history.Outage, now time.Time) []cell {
	var out []cell
	for i := 0; i < len(days); {
		look, text, alone := dayLook(days[i], outages, now)
		j := i + 1
		for !alone && j < len(days) {
			l, t, a := dayLook(days[j], outages, now)
			if a || l != look || t != text {
				break
			}
			j++
		}
		if look == "h" && !alone {
			i = j
			continue
		}
		class := look
		if i > 0 {
			class += " p" + strconv.Itoa(i)
		}
		if j-i > 1 {
			class += " w" + strconv.Itoa(j-i)
		}
		title := dayName(days[i].Start)
		if j-i > 1 {
			title = days[i].Start.Format("2 Jan") + " – " + days[j-1].Start.Format("2 Jan")
		}
		out = append(out, cell{Class: class, Title: title + " · " + text})
		i = j
	}
	return out
}

func dayName(t time.Time) string { return t.Format("Mon 2 Jan") }

// noDataNote is how much time without data a day with data must have for
// its tooltip to say so (and the day to get a cell of its own).
const noDataNote = 30 * time.Minute

// dayLook is how a day is drawn (h, s, d, m or n), what its tooltip says
// after the date, and whether it has something to say of its own. A day
// with maintenance is blue unless it was also down or degraded outside it.
func dayLook(d history.Day, outages []history.Outage, now time.Time) (look, text string, alone bool) {
	worst, ok := d.Worst()
	if !ok && d.Maintenance == 0 {
		return "n", "No data", false
	}
	var b strings.Builder
	if ok {
		b.WriteString(Uptime(d.Ratio()))
		b.WriteString(" up")
	}
	if d.Maintenance > 0 {
		look, alone = "m", true
		if ok {
			b.WriteString(" · ")
		}
		b.WriteString("maintenance ")
		b.WriteString(span(d.Maintenance))
	}
	switch worst {
	case status.Dead:
		look, alone = "d", true
		b.WriteString(" · down ")
		b.WriteString(span(d.Dead))
		if why := reasonOn(d.Start, outages, now); why != "" {
			b.WriteString(" · ")
			b.WriteString(why)
		}
	case status.Sick:
		look, alone = "s", true
		b.WriteString(" · degraded ")
		b.WriteString(span(d.Sick))
	default:
		if look == "" {
			look = "h"
		}
	}
	if d.NoData >= noDataNote {
		alone = true
		b.WriteString(" · no data ")
		b.WriteString(span(d.NoData))
	}
	return look, b.String(), alone
}

// span is a stretch of time, to the minute: "6 h", "45 min", "<1 min".
func span(d time.Duration) string { return Ago(d + 30*time.Second) }

// reasonOn is why the node was down on the day starting at start: the
// reason of its latest outage that overlaps the day.
func reasonOn(start time.Time, outages []history.Outage, now time.Time) string {
	end := start.AddDate(0, 0, 1)
	for _, o := range outages { // newest first
		to := o.To
		if to.IsZero() {
			to = now
		}
		if o.From.Before(end) && to.After(start) {
			return o.Reason
		}
	}
	return ""
}

// spark draws hourly mean latencies (oldest first) scaled from 0 to a
// bit above the highest, as relative moves in a 92 × 20 box, 4 units an hour; nil when
// no hour has any. Each stretch of hours with data is simplified (points
// closer than sparkSlack to the line through their neighbours are left out)
// so that a steady node costs a few bytes, not a hundred.
func spark(points []history.LatencyPoint) *sparkline {
	var top, sum time.Duration
	var count int64
	for _, p := range points {
		if p.Count > 0 {
			top = max(top, p.Mean)
			sum += p.Mean * time.Duration(p.Count)
			count += p.Count
		}
	}
	if count == 0 {
		return nil
	}
	var b strings.Builder
	var run []pt
	for i := 0; i <= len(points); i++ {
		if i < len(points) && points[i].Count > 0 {
			// The slowest hour at a fifth from the top: a steady node is a
			// line through the box, not along its edge.
			y := 18.0
			if top > 0 {
				y -= 13 * float64(points[i].Mean) / float64(top)
			}
			run = append(run, pt{float64(4 * i), y})
			continue
		}
		if len(run) > 0 {
			writeRun(&b, simplify(run, sparkSlack))
			run = run[:0]
		}
	}
	return &sparkline{Path: b.String(), Label: "mean response " + Latency(sum/time.Duration(count))}
}

// sparkSlack is how far (in units of the 20-unit-high box) a point may
// be from the simplified line: a tenth of the height shows every change
// worth seeing, and leaves out jitter that would cost bytes on every node.
const sparkSlack = 2

type pt struct{ x, y float64 }

// writeRun writes one stretch as "M x y" and relative moves: "h" when
// level, "l dx dy" else, the command left out where it repeats. A lone
// point is a dot: a zero-length line with round caps.
func writeRun(b *strings.Builder, run []pt) {
	x, y := int(run[0].x), int(math.Round(run[0].y))
	b.WriteByte('M')
	b.WriteString(strconv.Itoa(x))
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(y))
	if len(run) == 1 {
		b.WriteString("h0")
		return
	}
	var cmd byte
	for _, p := range run[1:] {
		nx, ny := int(p.x), int(math.Round(p.y))
		dx, dy := nx-x, ny-y
		if dy == 0 {
			if cmd == 'h' {
				// Merge with the last level move: rewrite it.
				s := b.String()
				i := strings.LastIndexByte(s, 'h')
				prev, _ := strconv.Atoi(s[i+1:])
				b.Reset()
				b.WriteString(s[:i+1])
				b.WriteString(strconv.Itoa(prev + dx))
			} else {
				b.WriteByte('h')
				b.WriteString(strconv.Itoa(dx))
				cmd = 'h'
			}
		} else {
			if cmd == 'l' {
				b.WriteByte(' ')
			} else {
				b.WriteByte('l')
			}
			b.WriteString(strconv.Itoa(dx))
			if dy > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(strconv.Itoa(dy))
			cmd = 'l'
		}
		x, y = nx, ny
	}
}

// simplify drops the points of run closer than eps to the line between
// the points kept around them (Ramer–Douglas–Peucker); ends stay.
func simplify(run []pt, eps float64) []pt {
	if len(run) < 3 {
		return append([]pt(nil), run...)
	}
	a, z := run[0], run[len(run)-1]
	far, at := 0.0, 0
	for i := 1; i < len(run)-1; i++ {
		p := run[i]
		// Vertical distance to the chord: x steps are even, and what the
		// eye reads off a sparkline is height.
		d := math.Abs(p.y - (a.y + (z.y-a.y)*(p.x-a.x)/(z.x-a.x)))
		if d > far {
			far, at = d, i
		}
	}
	if far < eps {
		return []pt{a, z}
	}
	left := simplify(run[:at+1], eps)
	return append(left[:len(left)-1], simplify(run[at:], eps)...)
}
